//! End to end, in Docker: a job cannot put its own `find` in place of ponyswarm's, and
//! limits over the machine's ceiling are lowered and said in the job's log.

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
