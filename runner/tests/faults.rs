//! Faults around a run, through the `ponyswarm` binary: a service container killed
//! under a job, and ponyswarm itself killed mid-run and started again (leftovers
//! removed, interrupted jobs marked, finished results kept), and the Docker daemon
//! unreachable at start for the commands besides `run` (whose case is pinned in
//! `cli.rs`, `unreachable_docker_daemon_exits_3`).

mod run_support;

use run_support::{ensure_images, leftovers, serial};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name)
        .join("ponyswarm.yaml")
}

/// `ponyswarm` with its store in `dir`.
fn ponyswarm(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ponyswarm"));
    cmd.env(
        "PONYSWARM_DATABASE",
        format!("sqlite://{}", dir.join("db.sqlite").display()),
    );
    cmd
}

/// Starts `ponyswarm run` of fixture `name`, results into `dir/report`.
fn start_run(dir: &Path, name: &str, args: &[&str]) -> Child {
    ponyswarm(dir)
        .arg("run")
        .arg(hostile(name))
        .args(["--quiet", "--report-dir"])
        .arg(dir.join("report"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ponyswarm starts")
}

/// results.json of the run in `dir`, once it is readable.
fn results(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("report/results.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Polls `check` every 300 ms until it gives a value; panics after `within` or when
/// `child` ends first.
async fn wait_for<T>(
    child: &mut Child,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("ponyswarm ended early: {status}");
        }
        assert!(Instant::now() < deadline, "gave up after {within:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits for `child` to exit, at most `within`.
async fn wait_exit(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ponyswarm did not exit within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.wait_with_output().expect("output")
}

/// Names of the running containers of run `run_id` whose name contains `part`.
fn running(run_id: &str, part: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "--format", "{{.Names}}", "--filter"])
        .arg(format!(
            "label={}={run_id}",
            ponyswarm::sandbox::labels::RUN
        ))
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.contains(part))
        .map(str::to_string)
        .collect()
}

fn run_id_of(dir: &Path) -> Option<String> {
    results(dir)?["run"]["id"].as_str().map(str::to_string)
}

#[test]
fn unreachable_daemon_exits_3_from_every_docker_command() {
    for args in [&["clean"][..], &["images", "list"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
            .args(args)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .expect("ponyswarm runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("cannot reach the Docker daemon")
                && err.contains("/nonexistent/docker.sock"),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_service_ends_the_job_not_the_run() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11", "redis"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = start_run(dir.path(), "service-killed", &[]);
    let run_id = wait_for(&mut child, Duration::from_secs(120), || {
        run_id_of(dir.path())
    })
    .await;
    // The job's container is up and its tests are talking to Redis.
    let service = wait_for(&mut child, Duration::from_secs(180), || {
        (!running(&run_id, "main").is_empty()).then_some(())?;
        running(&run_id, "redis").into_iter().next()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let killed = Command::new("docker")
        .args(["kill", &service])
        .output()
        .expect("docker kill");
    assert!(
        killed.status.success(),
        "docker kill {service}: {}",
        String::from_utf8_lossy(&killed.stderr)
    );

    let out = wait_exit(child, Duration::from_secs(120)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let results = results(dir.path()).expect("results.json");
    let job = &results["jobs"][0];
    assert_eq!(job["status"], "failed", "{job:#}");
    assert!(
        job["log"]
            .as_str()
            .unwrap_or_default()
            .contains("redis gone"),
        "{job:#}"
    );
    assert!(results["run"]["finished"].is_string(), "{results:#}");
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_sigkill_cleans_up_and_keeps_finished_results() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = start_run(dir.path(), "killed-run", &[]);
    // Kill it once the fast job is recorded and the slow one is running.
    let run_id = wait_for(&mut child, Duration::from_secs(180), || {
        let r = results(dir.path())?;
        let fast_done = r["jobs"]
            .as_array()?
            .iter()
            .any(|j| j["matrix"]["speed"] == "fast" && j["status"] == "passed");
        let id = r["run"]["id"].as_str()?.to_string();
        (fast_done && !running(&id, "main").is_empty()).then_some(id)
    })
    .await;
    let ok = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -KILL");
    wait_exit(child, Duration::from_secs(10)).await;
    assert!(
        !leftovers(&docker, &run_id).await.is_empty(),
        "a killed run leaves its containers"
    );

    // The next start removes them, and marks the killed run interrupted.
    let again = tempfile::tempdir().expect("tempdir");
    let out = ponyswarm(dir.path())
        .arg("run")
        .arg(hostile("killed-run"))
        .args(["--quiet", "--filter", "speed=fast", "--report-dir"])
        .arg(again.path())
        .output()
        .expect("ponyswarm runs again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());

    let out = ponyswarm(dir.path())
        .args(["runs", "--json"])
        .output()
        .expect("ponyswarm runs");
    let runs: Value = serde_json::from_slice(&out.stdout).expect("runs JSON");
    let killed = runs
        .as_array()
        .expect("a list of runs")
        .iter()
        .find(|r| r["run"]["id"] == run_id.as_str())
        .unwrap_or_else(|| panic!("{run_id} not in {runs:#}"));
    assert_eq!(killed["interrupted"], true, "{killed:#}");

    let out = ponyswarm(dir.path())
        .args(["report", &run_id, "--json"])
        .output()
        .expect("ponyswarm report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("report JSON");
    let jobs = report["jobs"].as_array().expect("jobs");
    let by_speed = |speed: &str| {
        jobs.iter()
            .find(|j| j["matrix"]["speed"] == speed)
            .unwrap_or_else(|| panic!("no {speed} job in {report:#}"))
    };
    assert_eq!(by_speed("fast")["status"], "passed", "{report:#}");
    let slow = by_speed("slow");
    assert_eq!(slow["status"], "cancelled", "{report:#}");
    assert!(
        slow["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("interrupted"),
        "{slow:#}"
    );
}
