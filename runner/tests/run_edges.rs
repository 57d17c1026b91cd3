//! End to end, in Docker: a job cannot put its own `find` in place of ponyswarm's, and
//! limits over the machine's ceiling are lowered and said in the job's log, whether the
//! ceiling is set in code or by `ponyswarm run --max-KEY`.

mod run_support;

use ponyswarm::run;
use run_support::{docker, ensure_images, leftovers, options, plans_of, serial, status};
use serde_json::Value;

/// An install line that plants a `find` printing nothing in the first directory of
/// PATH it can write (the venv's `bin`) and writes `~/planted`, which the listing of
/// the install's changes must see; the salt makes the environment new.
fn planting_matrix(salt: &str) -> String {
    let plant = r#"b="$(dirname "$(command -v python)")" && printf '#!/bin/sh\nexit 0\n' > "$b/find" && chmod +x "$b/find" && echo x > "$HOME/planted""#;
    format!(
        "name: planted-find\npython: \"3.11\"\nlimits: {{pids: 300}}\n\
         install:\n  - echo {salt} && {plant}\n\
         test: python -c \"print('ok')\"\ntimeout: 5m\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_find_does_not_replace_ponyswarms_and_a_clamp_is_said() {
    let _serial = serial().await;
    let docker = docker().await;
    ensure_images(&docker, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("test_ok.py"), "def test_ok(): pass\n").expect("writes");
    let matrix = dir.path().join("ponyswarm.yaml");
    std::fs::write(&matrix, planting_matrix(&run::new_run_id())).expect("writes");
    let (spec, plans) = plans_of(&matrix);
    let report = tempfile::tempdir().expect("tempdir");
    let mut opts = options(report.path());
    opts.ceiling.pids = 256;
    let run_id = opts.run_id.clone();
    run::run(&docker, &spec, plans, opts)
        .await
        .expect("the run records its results");
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());
    let text = std::fs::read_to_string(report.path().join("results.json")).expect("results");
    let results: Value = serde_json::from_str(&text).expect("JSON");
    let job = &results["jobs"][0];
    assert_ne!(status(job), "error", "{job:#}");

    // ponyswarm's listing still ran the system's find (the fake would have listed
    // nothing): the file written beside it is seen, and nothing looks deleted.
    let changes = job["install_changes"].as_array().expect("install_changes");
    let shown = format!("{changes:#?}\n{}", job["log"].as_str().unwrap_or_default());
    assert!(
        changes.iter().any(
            |c| c["path"].as_str().is_some_and(|p| p.ends_with("/planted"))
                && c["kind"] == "added"
                && c["flagged"] == true
        ),
        "{shown}"
    );
    assert!(!changes.iter().any(|c| c["kind"] == "deleted"), "{shown}");

    let log = job["log"].as_str().expect("a log");
    assert!(
        log.contains("limits.pids: 300 asked, lowered to this machine's maximum, 256"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_max_options_lower_what_the_matrix_asks_and_the_log_says_so() {
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let matrix = dir.path().join("ponyswarm.yaml");
    std::fs::write(
        &matrix,
        "name: greedy\npython: \"3.11\"\nlimits: {memory: 1g, cpus: 2, pids: 300}\n\
         test: python -c \"import os; print('nproc', os.cpu_count())\"\ntimeout: 10m\n",
    )
    .expect("writes");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .args([
            "run",
            "--quiet",
            "--max-memory",
            "512m",
            "--max-cpus",
            "0.5",
        ])
        .args(["--max-timeout", "2m", "--max-pids", "1000", "--report-dir"])
        .arg(dir.path().join("report"))
        .arg("--database")
        .arg(format!(
            "sqlite://{}",
            dir.path().join("db.sqlite").display()
        ))
        .arg(&matrix)
        .output()
        .expect("runs ponyswarm");
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
    let text = std::fs::read_to_string(dir.path().join("report/results.json")).expect("results");
    let results: Value = serde_json::from_str(&text).expect("JSON");
    let job = &results["jobs"][0];
    assert_eq!(status(job), "passed", "{job:#}");
    let log = job["log"].as_str().expect("a log");
    for lowered in [
        "limits.memory: 1 GiB asked, lowered to this machine's maximum, 512 MiB",
        "limits.cpus: 2 asked, lowered to this machine's maximum, 0.5",
        "timeout: 600s asked, lowered to this machine's maximum, 120s",
    ] {
        assert!(log.contains(lowered), "{lowered}\n{log}");
    }
    // A maximum above what the matrix asks changes nothing.
    assert!(!log.contains("limits.pids:"), "{log}");
}
