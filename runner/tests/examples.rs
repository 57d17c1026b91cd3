//! The examples in `matrix/` run for real, through the `ponyswarm` binary, against the
//! local Docker engine: what a newcomer's first command does must keep working.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Runs `ponyswarm run` on an example with filters; returns the exit code and results.json.
fn run_example(file: &str, filters: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ponyswarm"));
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    cmd.env("PONYSWARM_DATABASE", db);
    cmd.arg("run")
        .arg(repo().join("matrix").join(file))
        .arg("--report-dir")
        .arg(dir.path())
        .arg("--quiet");
    for f in filters {
        cmd.args(["--filter", f]);
    }
    let out = cmd.output().expect("ponyswarm runs");
    let results = std::fs::read_to_string(dir.path().join("results.json")).unwrap_or_else(|e| {
        panic!(
            "no results.json ({e}); stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let json: Value = serde_json::from_str(&results).expect("results.json is JSON");
    (out.status.code().unwrap_or(-1), json)
}

fn job<'a>(results: &'a Value, key: &str, value: &str) -> &'a Value {
    results["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["matrix"][key].as_str() == Some(value))
        .unwrap_or_else(|| panic!("no job with {key}={value} in {results:#}"))
}

fn assert_passed(job: &Value, tests: u64) {
    assert_eq!(job["status"], "passed", "job: {job:#}");
    assert_eq!(job["tests"]["passed"], tests, "job: {job:#}");
    assert_eq!(job["tests"]["failed"], 0, "job: {job:#}");
}

#[test]
fn django_app_runs_against_sqlite_postgres_and_mariadb() {
    let (code, results) = run_example("django-app.yaml", &["python=3.11", "django=5.1"]);
    assert_eq!(
        results["jobs"].as_array().map(Vec::len),
        Some(3),
        "{results:#}"
    );
    for db in ["sqlite", "postgres", "mariadb"] {
        assert_passed(job(&results, "database", db), 2);
    }
    // The generated settings file was written for each database.
    let pg = job(&results, "database", "postgres");
    assert!(
        pg["log"].as_str().unwrap_or_default().contains("passed"),
        "{pg:#}"
    );
    assert_eq!(code, 0);
}

#[test]
fn redis_example_reaches_its_service() {
    let (code, results) = run_example("redis-app.yaml", &["client=5.2"]);
    assert_passed(job(&results, "client", "5.2"), 1);
    assert_eq!(code, 0);
}

#[test]
fn library_example_passes_on_every_catalog_python() {
    // The README's "run the example" command, minus the terminal.
    let (code, results) = run_example("library.yaml", &[]);
    for python in ["3.9", "3.11", "3.13", "3.14", "pypy3"] {
        let j = job(&results, "python", python);
        assert_passed(j, 3);
        // Detection found pytest from pyproject.toml and said so.
        assert!(
            j["detected"].as_str().is_some_and(|d| d.contains("pytest")),
            "{j:#}"
        );
    }
    assert_eq!(code, 0);
}
