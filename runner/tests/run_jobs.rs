//! Jobs run for real: a planted failure fails exactly its jobs, installs fail as
//! `install-failed`, limits end as `timeout`, fail-fast cancels the rest, and a second
//! run reuses the wheelhouse. Each asserts statuses, counts and failures in
//! results.json.

mod run_support;

use run_support::{ensure_images, job, run_fixture, serial, status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_failure_fails_exactly_its_jobs() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11"]).await;
    let (result, json) = run_fixture("planted", |_| true, |_| {}).await;
    assert_eq!(json["jobs"].as_array().map(Vec::len), Some(6), "{json:#}");
    for flavor in ["good", "bad", "ugly"] {
        for size in ["1", "2"] {
            let j = job(&json, &[("flavor", flavor), ("size", size)]);
            let expected = if flavor == "bad" { "failed" } else { "passed" };
            assert_eq!(status(j), expected, "{j:#}");
            // 7 tests: one skipped; the planted one fails only where flavor=bad.
            let failed = u64::from(flavor == "bad");
            assert_eq!(j["tests"]["failed"], failed, "{j:#}");
            assert_eq!(j["tests"]["passed"], 6 - failed, "{j:#}");
            assert_eq!(j["tests"]["skipped"], 1, "{j:#}");
            assert_eq!(j["tests"]["errors"], 0, "{j:#}");
            let failures = j["failures"].as_array().expect("failures");
            assert_eq!(failures.len() as u64, failed, "{j:#}");
            if flavor == "bad" {
                assert!(
                    failures[0]["test"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("test_flavor_is_not_bad"),
                    "{j:#}"
                );
                assert!(
                    failures[0]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("planted failure"),
                    "{j:#}"
                );
            }
            for phase in ["images", "install", "test", "teardown"] {
                assert!(j["phases"][phase].is_number(), "phase {phase} in {j:#}");
            }
            assert!(
                j["images"]["python"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("sha256:"),
                "{j:#}"
            );
            // The install changed only the venv and the work tree: nothing flagged.
            let changes = j["install_changes"].as_array().expect("install_changes");
            assert!(changes.iter().all(|c| c["flagged"] == false), "{j:#}");
            assert!(changes.iter().any(|c| c["path"] == "/work/venv"), "{j:#}");
        }
    }
    // Six jobs with the same install commands share one wheelhouse: at most one of
    // them fetched, the others waited for it (or found it from an earlier run).
    let fetched = json["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["phases"].get("prepare").is_some())
        .count();
    assert!(fetched <= 1, "{fetched} jobs fetched: {json:#}");
    assert_eq!(result.run.exit_code, 1);
    assert_eq!(json["run"]["exit_code"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_run_fetches_nothing() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11"]).await;
    let good = |p: &ponyswarm::plan::JobPlan| {
        p.job
            .matrix
            .get("flavor")
            .is_some_and(|v| v.to_string() == "good")
    };
    // The first run may or may not find the wheelhouse filled (other tests share it);
    // the second must.
    let (_, first) = run_fixture("planted", good, |_| {}).await;
    let (result, second) = run_fixture("planted", good, |_| {}).await;
    for j in second["jobs"].as_array().expect("jobs") {
        assert_eq!(status(j), "passed", "{j:#}");
        assert!(j["phases"]["prepare-cached"].is_number(), "{j:#}");
        assert!(j["phases"].get("prepare").is_none(), "{j:#}");
    }
    assert_eq!(result.run.exit_code, 0);
    assert_eq!(first["jobs"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_installs_are_install_failed() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11"]).await;
    let (result, json) = run_fixture("install-fails", |_| true, |_| {}).await;
    let broken = job(&json, &[("how", "broken-package")]);
    assert_eq!(status(broken), "install-failed", "{broken:#}");
    assert!(
        broken["log"]
            .as_str()
            .unwrap_or_default()
            .contains("this package refuses to build"),
        "{broken:#}"
    );
    assert!(broken["tests"].is_null(), "{broken:#}");
    let failing = job(&json, &[("how", "failing-command")]);
    assert_eq!(status(failing), "install-failed", "{failing:#}");
    assert!(
        failing["detail"].as_str().unwrap_or_default().contains("3"),
        "{failing:#}"
    );
    assert!(
        !failing["log"]
            .as_str()
            .unwrap_or_default()
            .contains("never reached"),
        "{failing:#}"
    );
    assert_eq!(result.run.exit_code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_that_trip_end_jobs_as_outcomes() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11"]).await;
    let started = std::time::Instant::now();
    let (_, json) = run_fixture("limits", |_| true, |_| {}).await;
    let chatty = job(&json, &[("mode", "chatty")]);
    assert_eq!(status(chatty), "timeout", "{chatty:#}");
    assert!(
        chatty["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out after 1m"),
        "{chatty:#}"
    );
    let hog = job(&json, &[("mode", "hog")]);
    assert_eq!(status(hog), "limit-exceeded", "{hog:#}");
    assert_eq!(hog["detail"], "killed: out of memory", "{hog:#}");
    for mode in ["silent", "stubborn"] {
        let j = job(&json, &[("mode", mode)]);
        assert_eq!(status(j), "timeout", "{j:#}");
        assert!(
            j["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("no output for 8s"),
            "{j:#}"
        );
    }
    // Killed at their limits, not left to run on.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(180),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_cancels_the_rest() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11"]).await;
    // One job at a time, the failing one first: the others never start.
    let first_bad = |p: &ponyswarm::plan::JobPlan| {
        p.job
            .matrix
            .get("size")
            .is_some_and(|v| v.to_string() == "1")
    };
    let (result, json) = run_fixture("planted", first_bad, |o| {
        o.jobs = Some(1);
        o.fail_fast = Some(true);
    })
    .await;
    // The planted failure stops the run; what had not finished is cancelled.
    assert_eq!(
        status(job(&json, &[("flavor", "bad")])),
        "failed",
        "{json:#}"
    );
    let jobs = json["jobs"].as_array().expect("jobs");
    let cancelled: Vec<_> = jobs.iter().filter(|j| status(j) == "cancelled").collect();
    assert!(!cancelled.is_empty(), "{json:#}");
    for j in &cancelled {
        assert!(
            j["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("fail-fast"),
            "{j:#}"
        );
    }
    assert!(
        jobs.iter()
            .all(|j| matches!(status(j), "passed" | "failed" | "cancelled")),
        "{json:#}"
    );
    assert_eq!(result.run.exit_code, 1);
}
