//! Shutdown through the `ponyswarm` binary: a run interrupted with SIGINT removes its
//! containers and networks before it exits; a run killed with SIGKILL leaves them,
//! and `ponyswarm clean` removes them.

mod run_support;

use run_support::{ensure_images, fixture, leftovers, serial};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `ponyswarm run` on the limits fixture's chatty job (it runs until its 60 s
/// timeout), writing into `dir`.
fn start_run(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .arg("run")
        .arg(fixture("limits").join("ponyswarm.yaml"))
        .args(["--filter", "mode=chatty", "--quiet", "--report-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ponyswarm starts")
}

/// Waits until the run in `dir` has its job's container up; returns the run id.
async fn wait_for_job_container(dir: &Path, child: &mut Child) -> String {
    let docker = run_support::docker().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "the job's container never appeared"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("ponyswarm ended early: {status}");
        }
        let id = std::fs::read_to_string(dir.join("results.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["run"]["id"].as_str().map(str::to_string));
        if let Some(id) = id {
            let objects = leftovers(&docker, &id).await;
            if objects.iter().any(|o| o.contains("-main")) {
                return id;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill {sig}");
}

/// Waits for `child` to exit, at most `within`.
async fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ponyswarm did not exit within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_removes_everything_before_exiting() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = start_run(dir.path());
    let run_id = wait_for_job_container(dir.path(), &mut child).await;
    signal(&child, "-INT");
    let status = wait_exit(&mut child, Duration::from_secs(60)).await;
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    let job = &results["jobs"][0];
    assert_eq!(job["status"], "cancelled", "{results:#}");
    assert!(
        job["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("interrupted"),
        "{job:#}"
    );
    assert!(results["run"]["finished"].is_string(), "{results:#}");
    assert_ne!(status.code(), Some(0), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_removes_what_a_killed_run_left() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = start_run(dir.path());
    let run_id = wait_for_job_container(dir.path(), &mut child).await;
    signal(&child, "-KILL");
    wait_exit(&mut child, Duration::from_secs(10)).await;
    assert!(
        !leftovers(&docker, &run_id).await.is_empty(),
        "a killed run leaves its containers"
    );
    let caches = wheelhouses(&docker).await;
    assert!(!caches.is_empty(), "the run used a wheelhouse");
    let out = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .arg("clean")
        .output()
        .expect("ponyswarm clean runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());
    // The wheelhouses are a cache shared by runs, not leftovers: they stay.
    let kept = wheelhouses(&docker).await;
    assert!(
        caches.iter().all(|c| kept.contains(c)),
        "{caches:?} vs {kept:?}"
    );
}

/// The names of the wheelhouse volumes.
async fn wheelhouses(docker: &bollard::Docker) -> Vec<String> {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![ponyswarm::run::prepare::WHEELHOUSE_LABEL.to_string()],
    )]);
    let list = bollard::query_parameters::ListVolumesOptions {
        filters: Some(filters),
    };
    let volumes = docker.list_volumes(Some(list)).await.expect("list volumes");
    volumes
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect()
}
