//! The sandbox against hostile test code: one run of the `hostile/harms` fixture, whose
//! jobs each try one harm (a fork bomb, a memory hog, a disk filler, endless output, a
//! process deaf to SIGTERM, the internet, writes to /etc and to every mount, setuid,
//! the Docker socket, a daemon outliving the tests) beside one well-behaved job.
//!
//! Each harm must end as a clear status, the well-behaved job must pass, the host must
//! be unchanged, nothing of the run may be left, and ponyswarm must end normally.
//!
//! A second run (`hostile/db-filler`) fills PostgreSQL and MariaDB from the tests: the
//! databases must run out of their capped data areas, not the host's disk; first, it
//! tries the host through its network's gateway address, which must not answer.

mod run_support;

use run_support::{ensure_images, leftovers, serial};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `log-size:` of the fixture, in bytes.
const LOG_CAP: usize = 64 << 10;
/// Host files the harms aim at, read before and after the run.
const HOST_FILES: &[&str] = &["/etc/passwd", "/etc/hosts", "/etc/resolv.conf"];
/// The file the `write-etc` harm tries to create.
const MARKER: &str = "/etc/ponyswarm-hostile-marker";

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name)
}

/// Runs the fixture `hostile/NAME` through the binary; asserts it ended normally with
/// failed jobs (exit 1: not a crash, not Docker's error 3) and returns its
/// results.json.
fn run_hostile(name: &str) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .arg("run")
        .arg(hostile(name).join("ponyswarm.yaml"))
        .args(["--quiet", "--report-dir"])
        .arg(dir.path().join("report"))
        .env(
            "PONYSWARM_DATABASE",
            format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        )
        .output()
        .expect("ponyswarm runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let text =
        std::fs::read_to_string(dir.path().join("report/results.json")).expect("results.json");
    serde_json::from_str(&text).expect("JSON")
}

/// The job of `results` whose matrix value `key` is `value`.
fn job<'a>(results: &'a Value, key: &str, value: &str) -> &'a Value {
    results["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["matrix"][key] == value)
        .unwrap_or_else(|| panic!("no job {key}={value} in {results:#}"))
}

/// The job of `results` whose `harm` is `harm`.
fn harm<'a>(results: &'a Value, harm: &str) -> &'a Value {
    job(results, "harm", harm)
}

/// Asserts the job of `harm` ended as `status` with a detail containing `detail`.
fn assert_ended(results: &Value, name: &str, status: &str, detail: &str) {
    let j = harm(results, name);
    assert_eq!(j["status"], status, "{j:#}");
    assert!(
        j["detail"].as_str().unwrap_or_default().contains(detail),
        "{name}: detail should say {detail:?}: {j:#}"
    );
}

/// Asserts the probe `harm` failed with every attempt blocked, its log naming each
/// of `blocked` (and none escaped).
fn assert_blocked(results: &Value, name: &str, blocked: &[&str]) {
    let j = harm(results, name);
    assert_eq!(j["status"], "failed", "{j:#}");
    let log = j["log"].as_str().unwrap_or_default();
    assert!(!log.contains("ESCAPED"), "{name} escaped: {log}");
    for b in blocked {
        assert!(log.contains(b), "{name}: log should say {b:?}: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_jobs_end_as_statuses_and_leave_the_host_alone() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11"]).await;
    let before: Vec<Option<Vec<u8>>> = HOST_FILES.iter().map(|f| std::fs::read(f).ok()).collect();
    assert!(
        !Path::new(MARKER).exists(),
        "{MARKER} exists before the run"
    );

    let started = Instant::now();
    let results = run_hostile("harms");
    assert!(
        started.elapsed() < Duration::from_secs(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(results["jobs"].as_array().map(Vec::len), Some(12));

    // The other jobs of the run are unaffected.
    assert_eq!(harm(&results, "none")["status"], "passed", "{results:#}");
    // Resource harms are stopped by their limits.
    assert_ended(&results, "fork-bomb", "timeout", "no output for 10s");
    assert_ended(&results, "memory", "limit-exceeded", "out of memory");
    // The root is read-only, and every writable area is capped (`disk: 64m`).
    assert_ended(
        &results,
        "disk",
        "limit-exceeded",
        "ran out of disk: /work (64 MiB) is full",
    );
    let disk = harm(&results, "disk")["log"].as_str().unwrap_or_default();
    assert!(!disk.contains("ESCAPED"), "the disk filler escaped: {disk}");
    for blocked in [
        "blocked: fill /var/tmp: OSError: [Errno 30] Read-only file system",
        "blocked: fill /work/src: OSError: [Errno 28] No space left on device",
        "blocked: fill /home/pony: OSError: [Errno 28] No space left on device",
        "blocked: fill /tmp: OSError: [Errno 28] No space left on device",
    ] {
        assert!(disk.contains(blocked), "log should say {blocked:?}: {disk}");
    }
    assert_ended(&results, "output", "timeout", "timed out after 40s");
    assert_ended(&results, "stubborn", "timeout", "no output for 10s");
    let flood = harm(&results, "output")["log"].as_str().unwrap_or_default();
    // The cap, plus the one `[… N bytes cut …]` line.
    assert!(flood.len() <= LOG_CAP + 100, "log of {} bytes", flood.len());
    assert!(
        flood.contains("bytes cut"),
        "{}",
        &flood[..200.min(flood.len())]
    );
    // Probes fail closed.
    assert_blocked(
        &results,
        "internet",
        &[
            "blocked: connect to 1.1.1.1:443",
            "blocked: resolve pypi.org",
            "blocked: connect to pypi.org:443",
        ],
    );
    assert_blocked(
        &results,
        "write-etc",
        &[
            // The read-only root answers before the permissions do.
            "blocked: write /etc/ponyswarm-hostile-marker: OSError: [Errno 30] Read-only file system",
            "blocked: append to /etc/passwd: PermissionError",
        ],
    );
    assert_blocked(
        &results,
        "write-mounts",
        &[
            "blocked: write into /wheels",
            "blocked: write /etc/hosts",
            "blocked: write /etc/resolv.conf",
        ],
    );
    assert_blocked(
        &results,
        "setuid",
        &[
            "blocked: setuid(0): PermissionError",
            "blocked: su to root",
            "NoNewPrivs:\t1",
        ],
    );
    assert_blocked(
        &results,
        "docker-socket",
        &[
            "blocked: connect to /var/run/docker.sock: FileNotFoundError",
            "DOCKER_HOST: unset",
        ],
    );
    // The daemon neither keeps the job going nor outlives it (checked below).
    assert_eq!(harm(&results, "daemon")["status"], "passed", "{results:#}");

    let run_id = results["run"]["id"].as_str().expect("run id");
    assert_eq!(leftovers(&docker, run_id).await, Vec::<String>::new());
    let after: Vec<Option<Vec<u8>>> = HOST_FILES.iter().map(|f| std::fs::read(f).ok()).collect();
    assert!(before == after, "a host file under /etc changed");
    assert!(!Path::new(MARKER).exists(), "{MARKER} appeared on the host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_that_fill_their_database_fill_the_data_area_not_the_host() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11", "postgres", "mariadb"]).await;
    let results = run_hostile("db-filler");
    for (db, data) in [
        ("postgres", "/var/lib/postgresql/data"),
        ("mariadb", "/var/lib/mysql"),
    ] {
        let j = job(&results, "db", db);
        let log = j["log"].as_str().unwrap_or_default();
        assert!(!log.contains("ESCAPED"), "{db} escaped: {log}");
        // The job network's gateway address is not the host's.
        assert!(log.contains("host probe: blocked: host at"), "{db}: {log}");
        assert!(log.contains("blocked after"), "{db}: {log}");
        assert_eq!(j["status"], "limit-exceeded", "{j:#}");
        let detail = j["detail"].as_str().unwrap_or_default();
        let want = format!("ran out of disk: service {db}: {data} (160 MiB) is full");
        assert_eq!(detail, want, "{j:#}");
    }
    let run_id = results["run"]["id"].as_str().expect("run id");
    assert_eq!(leftovers(&docker, run_id).await, Vec::<String>::new());
}
