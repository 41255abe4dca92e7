//! Facts about the workspace's manifests that no compiler checks.
//!
//! The fuzz crate is a workspace of its own (it needs libFuzzer), so cargo
//! resolves its dependencies apart from ours: nothing but this test keeps it
//! on the library's versions of the crates whose behaviour its checks compare
//! against.

use std::path::Path;

/// The versions of `name` a `Cargo.lock` resolves, in file order.
fn locked_versions(lock: &str, name: &str) -> Vec<String> {
    let mut versions = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"") {
            let version = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or_else(|| panic!("no version line after {name}"));
            versions.push(version.to_owned());
        }
    }
    versions
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn locked_versions_reads_each_entry() {
    let lock = "[[package]]\nname = \"sfv\"\nversion = \"0.15.0\"\n\n\
                [[package]]\nname = \"sfv-x\"\nversion = \"9.0.0\"\n\n\
                [[package]]\nname = \"sfv\"\nversion = \"0.16.0\"\n";
    assert_eq!(locked_versions(lock, "sfv"), ["0.15.0", "0.16.0"]);
    assert_eq!(locked_versions(lock, "http"), Vec::<String>::new());
}

/// The fuzz targets compare our Proxy-Status output with sfv's reading of
/// it: with another sfv than the library's, they would test a parser the
/// library does not use.
#[test]
fn fuzz_crate_uses_the_library_sfv() {
    let ours = locked_versions(&read("Cargo.lock"), "sfv");
    let fuzz = locked_versions(&read("fuzz/Cargo.lock"), "sfv");
    assert_eq!(ours.len(), 1, "one sfv in the workspace: {ours:?}");
    assert_eq!(
        fuzz, ours,
        "fuzz/Cargo.lock resolves another sfv than Cargo.lock"
    );
}
