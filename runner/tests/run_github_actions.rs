//! A run inside GitHub Actions (`GITHUB_ACTIONS=true`): one failing job of the
//! planted fixture, through the real binary and Docker, writes a `::group::` for the
//! job, an `::error` annotation at the failing test's file and line, and the
//! Markdown step summary to `$GITHUB_STEP_SUMMARY`.

use std::process::Command;

#[test]
fn github_actions_run_annotates_failures_and_writes_the_step_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").expect("write");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/projects/planted/ponyswarm.yaml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .args([
            "run",
            fixture,
            "--filter",
            "size=1",
            "--filter",
            "flavor=bad",
        ])
        .arg("--report-dir")
        .arg(dir.path().join("report"))
        .arg("--database")
        .arg(format!(
            "sqlite://{}",
            dir.path().join("db.sqlite").display()
        ))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("run ponyswarm");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("::group::failed"), "{stdout}");
    assert!(stdout.contains("::endgroup::"), "{stdout}");
    let annotation = stdout
        .lines()
        .find(|l| l.starts_with("::error ") && l.contains("test_flavor_is_not_bad"))
        .unwrap_or_else(|| panic!("no annotation:\n{stdout}"));
    assert!(
        annotation.contains("file=tests/test_flavor.py"),
        "{annotation}"
    );
    assert!(annotation.contains("planted failure"), "{annotation}");
    let written = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        written.starts_with("earlier step\n"),
        "appended, not replaced: {written}"
    );
    assert!(written.contains("0 of 1 jobs passed"), "{written}");
    assert!(
        written.contains("| ❌ failed | planted (bad, 1) |"),
        "{written}"
    );
    assert!(written.contains("test_flavor_is_not_bad"), "{written}");
}
