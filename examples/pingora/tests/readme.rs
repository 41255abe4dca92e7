//! The README's pingora section shows this example's `src/proxy.rs` as it
//! is: the gateway users copy is the one that compiles and passes the
//! conformance comparison here.

const README: &str = include_str!("../../../README.md");
const PROXY: &str = include_str!("../src/proxy.rs");

#[test]
fn the_readmes_pingora_gateway_is_src_proxy_rs() {
    let start = README
        .find("\n## pingora\n")
        .expect("a pingora section in README.md");
    let section = &README[start + 1..];
    let section = &section[..section.find("\n## ").expect("a section after it")];
    let open = "```rust,ignore\n";
    let blocks: Vec<&str> = section
        .match_indices(open)
        .map(|(at, _)| {
            let code = &section[at + open.len()..];
            &code[..code.find("\n```").expect("a closed block") + 1]
        })
        .collect();
    assert_eq!(blocks.len(), 1, "one gateway in the pingora section");
    assert!(
        blocks[0] == PROXY,
        "README.md's pingora block differs from examples/pingora/src/proxy.rs: copy the file into it"
    );
}
