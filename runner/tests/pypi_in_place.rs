//! The in-place step of a release test (`src/pypi/trial/in_place.py`), run by a real
//! Python against a real installed-distribution layout: a site directory with a
//! `.dist-info` whose `RECORD` lists the files, and a source tree beside it.
//!
//! The script runs with `-I` in a job; here the site directory is put on the path with
//! `PYTHONPATH`, which `-I` would ignore, so it runs without `-I`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pypi/trial/in_place.py")
}

/// Writes `files` (relative path, content) under `root`.
fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// An installed distribution `name` 1.0 in `site` with `files` (and its RECORD).
fn install(site: &Path, name: &str, files: &[(&str, &str)]) {
    write(site, files);
    let info = format!("{name}-1.0.dist-info");
    let mut record: Vec<String> = files.iter().map(|(p, _)| format!("{p},,")).collect();
    record.push(format!("{info}/METADATA,,"));
    record.push(format!("{info}/RECORD,,"));
    write(
        site,
        &[
            (
                &format!("{info}/METADATA"),
                &format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"),
            ),
            (&format!("{info}/RECORD"), &(record.join("\n") + "\n")),
        ],
    );
}

/// Runs the script for `name` in `tree` with `site` on the path: its output.
fn run(tree: &Path, site: &Path, name: &str) -> String {
    let out = Command::new("python3")
        .arg(script())
        .arg(name)
        .current_dir(tree)
        .env("PYTHONPATH", site)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the script never fails the job: {out:?}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn compiled_modules_the_tree_lacks_are_copied_beside_its_sources_and_nothing_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (site, tree) = (dir.path().join("site"), dir.path().join("tree"));
    install(
        &site,
        "yarl",
        &[
            ("yarl/__init__.py", "installed"),
            (
                "yarl/_quoting_c.cpython-311-x86_64-linux-gnu.so",
                "compiled",
            ),
            (
                "yarl/_other.cpython-311-x86_64-linux-gnu.so",
                "installed build",
            ),
            ("elsewhere/_c.so", "a package the tree does not have"),
        ],
    );
    write(
        &tree,
        &[
            ("yarl/__init__.py", "tree"),
            ("yarl/_quoting_c.pyx", "source"),
            ("yarl/_other.cpython-311-x86_64-linux-gnu.so", "tree's own"),
            ("tests/test_quoting.py", ""),
        ],
    );
    let said = run(&tree, &site, "yarl");
    let read = |p: &str| std::fs::read_to_string(tree.join(p)).ok();
    assert_eq!(
        read("yarl/_quoting_c.cpython-311-x86_64-linux-gnu.so").as_deref(),
        Some("compiled"),
        "{said}"
    );
    assert_eq!(read("yarl/__init__.py").as_deref(), Some("tree"));
    assert_eq!(
        read("yarl/_other.cpython-311-x86_64-linux-gnu.so").as_deref(),
        Some("tree's own")
    );
    assert!(!tree.join("elsewhere").exists());
    assert!(
        said.contains("yarl/_quoting_c.cpython-311-x86_64-linux-gnu.so"),
        "{said}"
    );
    assert!(!said.contains("_other"), "{said}");
}

#[test]
fn a_namespace_distribution_has_the_trees_packages_linked_to_the_installed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (site, tree) = (dir.path().join("site"), dir.path().join("tree"));
    install(
        &site,
        "zope.interface",
        &[
            ("zope.interface-1.0-py3.11-nspkg.pth", "import sys"),
            ("zope/interface/__init__.py", "installed"),
            (
                "zope/interface/_c.cpython-311-x86_64-linux-gnu.so",
                "compiled",
            ),
            ("zope/interface/tests/test_x.py", "installed test"),
        ],
    );
    write(
        &tree,
        &[
            ("src/zope/__init__.py", "namespace"),
            ("src/zope/interface/__init__.py", "tree"),
            ("src/zope/interface/tests/test_x.py", "tree test"),
        ],
    );
    let said = run(&tree, &site, "zope.interface");
    let linked = tree.join("src/zope/interface");
    assert!(
        linked.symlink_metadata().unwrap().file_type().is_symlink(),
        "{said}"
    );
    assert_eq!(
        std::fs::canonicalize(&linked).unwrap(),
        std::fs::canonicalize(site.join("zope/interface")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("src/zope/__init__.py")).unwrap(),
        "namespace",
        "the namespace's own files stay"
    );
    assert!(said.contains("src/zope/interface"), "{said}");
}

#[test]
fn a_distribution_that_is_not_installed_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (site, tree) = (dir.path().join("site"), dir.path().join("tree"));
    std::fs::create_dir_all(&site).unwrap();
    write(&tree, &[("p/__init__.py", "tree")]);
    let said = run(&tree, &site, "p");
    assert!(said.contains("not installed"), "{said}");
    assert_eq!(std::fs::read_dir(tree.join("p")).unwrap().count(), 1);
}
