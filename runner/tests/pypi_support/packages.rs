//! The fixture releases: real sdists and wheels built from
//! `tests/fixtures/pypi/<package>/` by `tests/fixtures/pypi/build.py`, which uses
//! only the standard library of `/usr/bin/python3` (or `python3` on PATH), so no
//! build tool has to be installed.
//!
//! - `ponyswarm-pure`: a module and passing pytest tests;
//! - `ponyswarm-entry`: a console script (`pony-entry`), its test runs it;
//! - `ponyswarm-outside`: its `setup.py` writes `~/.ponyswarm-outside.ini` when the
//!   sdist is built (outside site-packages: flagged);
//! - `ponyswarm-notests`: no tests, sparse metadata;
//! - `ponyswarm-failing`: one of its two tests fails; its summary holds HTML;
//! - `ponyswarm-optional`: its test module imports a module declared nowhere inside
//!   `try: … except ImportError` and uses it anyway (a `NameError` at collection);
//! - `ponyswarm-ownrunner`: its setup.py registers its own `test` command, which runs
//!   tests pytest cannot collect (their arguments are not fixtures).

#![allow(dead_code)]

use super::index::FixtureRelease;
use std::path::{Path, PathBuf};

/// The fixture packages' sources.
pub fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pypi")
}

/// A Python 3 to run the build script with.
fn python() -> PathBuf {
    let system = PathBuf::from("/usr/bin/python3");
    if system.exists() {
        system
    } else {
        PathBuf::from("python3")
    }
}

/// Builds every fixture package into `out`; one release (version 1.0) each, with its
/// sdist and wheel and its JSON API `info`.
pub fn build_all(out: &Path) -> Vec<FixtureRelease> {
    build_from(&sources(), out)
}

/// Builds every package of `sources` (directories laid out as those of
/// [`sources`]) into `out`, as [`build_all`] does.
pub fn build_from(sources_dir: &Path, out: &Path) -> Vec<FixtureRelease> {
    let output = std::process::Command::new(python())
        .arg(sources().join("build.py"))
        .arg(sources_dir)
        .arg(out)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "build.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("build.py prints its manifest as JSON");
    manifest
        .into_iter()
        .map(|m| FixtureRelease {
            name: m["name"].as_str().expect("name").to_string(),
            version: m["version"].as_str().expect("version").to_string(),
            files: m["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| PathBuf::from(f.as_str().expect("a path")))
                .collect(),
            metadata: m["metadata"].clone(),
        })
        .collect()
}

/// The release `name` among `releases`.
pub fn release<'a>(releases: &'a [FixtureRelease], name: &str) -> &'a FixtureRelease {
    releases
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no fixture release {name}"))
}
