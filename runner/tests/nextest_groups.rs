//! The README's test command runs the tests with cargo-nextest, a process per test,
//! several at once. A test binary whose tests take the in-process `serial()` lock
//! (tests/run_support, tests/swarm_support) is serialised only if .config/nextest.toml
//! gives it a test group of one thread: this checks that none was forgotten.

use std::path::Path;

#[test]
fn every_binary_whose_tests_take_serial_has_a_one_thread_group() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("../.config/nextest.toml"))
        .expect("reads .config/nextest.toml");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("tests")).expect("reads tests/") {
        let path = entry.expect("an entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("reads a test file");
        let name = path.file_stem().and_then(|s| s.to_str()).expect("a name");
        let serial = text.contains("serial()") && name != "nextest_groups";
        let grouped = config.contains(&format!("filter = 'binary({name})'"))
            && config.contains(&format!("{name} = {{ max-threads = 1 }}"));
        if serial && !grouped {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "these test binaries take serial() but have no one-thread group in \
         .config/nextest.toml: {missing:?}"
    );
}
