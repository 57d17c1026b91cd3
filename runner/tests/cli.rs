//! The command line's contract: output shapes and exit codes, through the real binary.

use std::process::{Command, Output};

fn ponyswarm(args: &[&str], yaml: Option<&str>) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ponyswarm.yaml");
    if let Some(y) = yaml {
        std::fs::write(&file, y).expect("write matrix");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .args(
            args.iter()
                .map(|a| a.replace("FILE", file.to_str().expect("utf-8 path"))),
        )
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("runs");
    (out, dir)
}

#[test]
fn plan_json_keeps_yaml_types() {
    let yaml = "matrix:\n  python: [\"3.11\"]\n  workers: [12]\n  fast: [true]\n";
    let (out, _dir) = ponyswarm(&["plan", "FILE", "--json"], Some(yaml));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let m = &jobs[0]["matrix"];
    assert_eq!(m["python"], serde_json::json!("3.11"));
    assert_eq!(m["workers"], serde_json::json!(12));
    assert_eq!(m["fast"], serde_json::json!(true));
    assert!(jobs[0]["name"].as_str().is_some_and(|n| n.contains("3.11")));
}

#[test]
fn plan_table_lists_every_job() {
    let yaml = "name: t\nmatrix:\n  python: [\"3.9\", \"3.11\"]\n  db: [a, b]\n";
    let (out, _dir) = ponyswarm(&["plan", "FILE"], Some(yaml));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("t: 4 jobs"), "{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
}

#[test]
fn bad_file_exits_2_naming_line_and_column() {
    let (out, dir) = ponyswarm(
        &["plan", "FILE"],
        Some("matrix:\n  python: [\"3.11\"]\ntimeout: soon\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:3:", dir.path().join("ponyswarm.yaml").display());
    assert!(err.contains(&want), "{err}");
}

#[test]
fn missing_file_exits_2() {
    let (out, _dir) = ponyswarm(&["plan", "FILE"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unknown_filter_key_exits_2() {
    let (out, _dir) = ponyswarm(
        &["plan", "FILE", "--filter", "nope=1"],
        Some("matrix: {x: [1]}\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`nope`"));
}

#[test]
fn a_bad_maximum_exits_2_saying_what_it_must_be() {
    let cases = [
        (
            "--max-memory",
            "lots",
            "must be a size of at least 6m, like 8g or 512m",
        ),
        (
            "--max-memory",
            "1m",
            "must be a size of at least 6m, like 8g or 512m",
        ),
        ("--max-cpus", "0", "must be a number from 0.01 to 1024"),
        (
            "--max-pids",
            "1.5",
            "must be a whole number from 1 to 1000000",
        ),
        (
            "--max-timeout",
            "0s",
            "must be a duration longer than 0s, like 2h or 30m",
        ),
    ];
    for (flag, value, want) in cases {
        let (out, _dir) = ponyswarm(&["run", flag, value, "FILE"], Some("test: pytest\n"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains(want),
            "{flag} {value}: {err}"
        );
    }
}

#[test]
fn unreachable_docker_daemon_exits_3() {
    let yaml = "matrix:\n  python: [\"3.11\"]\ntest: python -c pass\n";
    let (out, _dir) = ponyswarm(&["run", "FILE"], Some(yaml));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("cannot reach the Docker daemon"), "{err}");
}

#[test]
fn a_cpython_no_debian_suite_ships_needs_a_registry_and_says_what_can_be_had() {
    // `--offline-images`: no registry, whatever this machine can reach. The engine is
    // asked only whether it already has python:3.12-slim.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ponyswarm.yaml");
    std::fs::write(
        &file,
        "matrix:\n  python: [\"3.11\", \"3.12\"]\ntest: python -c pass\n",
    )
    .expect("write matrix");
    let have = Command::new("docker")
        .args(["image", "inspect", "python:3.12-slim"])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        eprintln!("skipped: the engine has python:3.12-slim");
        return;
    }
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .env("PONYSWARM_DATABASE", db)
        .args(["run", "--offline-images", "--quiet", "--report-dir"])
        .arg(dir.path().join("report"))
        .arg(&file)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "python 3.12: no Debian suite ships it and no registry is reachable to pull \
             python:3.12-slim; this machine can offer 3.9, 3.11, 3.13, 3.14, 3.15, pypy3"
        ),
        "{err}"
    );
    assert!(!dir.path().join("report/results.json").exists());
}
