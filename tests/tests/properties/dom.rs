//! A minimal DOM built by html5ever's tree builder.

use html5ever::tendril::{StrTendril, TendrilSink as _};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, LocalName, Namespace, ParseOpts, QualName};
use std::borrow::Cow;
use std::cell::{Ref, RefCell};

/// A parsed node, as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tree {
    Doctype(String),
    Element(String, Vec<(String, String)>, Vec<Tree>),
    Text(String),
    Comment(String),
}

enum Data {
    Document,
    Doctype(String),
    Element(QualName, Vec<(String, String)>),
    Text(String),
    Comment(String),
    Other,
}

struct Node {
    /// The element's name (a placeholder for other nodes), for `elem_name`.
    name: QualName,
    data: Data,
    parent: Option<usize>,
    children: Vec<usize>,
    template_contents: Option<usize>,
}

struct Sink {
    nodes: RefCell<Vec<Node>>,
    placeholder: QualName,
}

impl Sink {
    fn push(&self, data: Data) -> usize {
        let name = match &data {
            Data::Element(name, _) => name.clone(),
            _ => self.placeholder.clone(),
        };
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            name,
            data,
            parent: None,
            children: Vec::new(),
            template_contents: None,
        });
        nodes.len() - 1
    }

    fn detach(nodes: &mut [Node], child: usize) {
        if let Some(parent) = nodes[child].parent.take() {
            nodes[parent].children.retain(|&c| c != child);
        }
    }

    /// Inserts at `index` among `parent`'s children, merging text with
    /// the text node before it.
    fn insert(&self, parent: usize, index: usize, child: NodeOrText<usize>) {
        let id = match child {
            NodeOrText::AppendText(text) => {
                let mut nodes = self.nodes.borrow_mut();
                if let Some(&prev) = index
                    .checked_sub(1)
                    .and_then(|i| nodes[parent].children.get(i))
                {
                    if let Data::Text(existing) = &mut nodes[prev].data {
                        existing.push_str(&text);
                        return;
                    }
                }
                drop(nodes);
                self.push(Data::Text(text.to_string()))
            }
            NodeOrText::AppendNode(node) => node,
        };
        let mut nodes = self.nodes.borrow_mut();
        Self::detach(&mut nodes, id);
        let index = index.min(nodes[parent].children.len());
        nodes[parent].children.insert(index, id);
        nodes[id].parent = Some(parent);
    }

    fn tree(&self, id: usize) -> Option<Tree> {
        let nodes = self.nodes.borrow();
        let node = &nodes[id];
        let children = || {
            node.children
                .iter()
                .filter_map(|&c| self.tree(c))
                .collect::<Vec<_>>()
        };
        Some(match &node.data {
            Data::Document | Data::Other => return None,
            Data::Doctype(name) => Tree::Doctype(name.clone()),
            Data::Element(name, attrs) => {
                Tree::Element(name.local.to_string(), attrs.clone(), children())
            }
            Data::Text(text) => Tree::Text(text.clone()),
            Data::Comment(text) => Tree::Comment(text.clone()),
        })
    }
}

impl TreeSink for Sink {
    type Handle = usize;
    type Output = Vec<Tree>;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Vec<Tree> {
        let children = self.nodes.borrow()[0].children.clone();
        children.into_iter().filter_map(|c| self.tree(c)).collect()
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> usize {
        0
    }

    fn elem_name<'a>(&'a self, target: &'a usize) -> Ref<'a, QualName> {
        Ref::map(self.nodes.borrow(), |nodes| &nodes[*target].name)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> usize {
        let attrs = attrs
            .into_iter()
            .map(|a| (a.name.local.to_string(), a.value.to_string()))
            .collect();
        let id = self.push(Data::Element(name, attrs));
        if flags.template {
            let contents = self.push(Data::Other);
            self.nodes.borrow_mut()[id].template_contents = Some(contents);
        }
        id
    }

    fn create_comment(&self, text: StrTendril) -> usize {
        self.push(Data::Comment(text.to_string()))
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> usize {
        self.push(Data::Other)
    }

    fn append(&self, parent: &usize, child: NodeOrText<usize>) {
        let len = self.nodes.borrow()[*parent].children.len();
        self.insert(*parent, len, child);
    }

    fn append_based_on_parent_node(
        &self,
        element: &usize,
        prev_element: &usize,
        child: NodeOrText<usize>,
    ) {
        if self.nodes.borrow()[*element].parent.is_some() {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        _public_id: StrTendril,
        _system_id: StrTendril,
    ) {
        let id = self.push(Data::Doctype(name.to_string()));
        self.append(&0, NodeOrText::AppendNode(id));
    }

    fn get_template_contents(&self, target: &usize) -> usize {
        self.nodes.borrow()[*target]
            .template_contents
            .unwrap_or(*target)
    }

    fn same_node(&self, x: &usize, y: &usize) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &usize, child: NodeOrText<usize>) {
        let (parent, index) = {
            let nodes = self.nodes.borrow();
            let Some(parent) = nodes[*sibling].parent else {
                return;
            };
            let index = nodes[parent]
                .children
                .iter()
                .position(|c| c == sibling)
                .unwrap_or(0);
            (parent, index)
        };
        self.insert(parent, index, child);
    }

    fn add_attrs_if_missing(&self, target: &usize, attrs: Vec<Attribute>) {
        let mut nodes = self.nodes.borrow_mut();
        if let Data::Element(_, existing) = &mut nodes[*target].data {
            for a in attrs {
                let name = a.name.local.to_string();
                if !existing.iter().any(|(n, _)| *n == name) {
                    existing.push((name, a.value.to_string()));
                }
            }
        }
    }

    fn remove_from_parent(&self, target: &usize) {
        Self::detach(&mut self.nodes.borrow_mut(), *target);
    }

    fn reparent_children(&self, node: &usize, new_parent: &usize) {
        let children = std::mem::take(&mut self.nodes.borrow_mut()[*node].children);
        for child in children {
            self.nodes.borrow_mut()[child].parent = None;
            self.append(new_parent, NodeOrText::AppendNode(child));
        }
    }
}

/// Parses a document and returns its top-level nodes.
pub(crate) fn parse(html: &str) -> Vec<Tree> {
    let placeholder = QualName::new(None, Namespace::from(""), LocalName::from(""));
    let sink = Sink {
        nodes: RefCell::new(vec![Node {
            name: placeholder.clone(),
            data: Data::Document,
            parent: None,
            children: Vec::new(),
            template_contents: None,
        }]),
        placeholder,
    };
    html5ever::parse_document(sink, ParseOpts::default()).one(html)
}

/// Drops the whitespace-only text nodes directly under `html`, `head`
/// and `body` (the template's line breaks); text anywhere else is kept.
pub(crate) fn strip_layout(nodes: Vec<Tree>) -> Vec<Tree> {
    nodes
        .into_iter()
        .filter_map(|node| match node {
            Tree::Element(name, attrs, children)
                if matches!(name.as_str(), "html" | "head" | "body" | "main" | "ol") =>
            {
                let children = strip_layout(
                    children
                        .into_iter()
                        .filter(|c| !matches!(c, Tree::Text(t) if t.trim_matches(['\n', ' ']).is_empty()))
                        .collect(),
                );
                Some(Tree::Element(name, attrs, children))
            }
            Tree::Text(t) if t.trim_matches(['\n', ' ']).is_empty() => None,
            other => Some(other),
        })
        .collect()
}
