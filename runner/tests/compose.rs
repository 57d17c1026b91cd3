//! compose.yaml end to end: build its images with images/ponyswarm/build.sh (from the
//! binary under test), bring it up with the machine's Compose (docker-compose 1.29 or
//! `docker compose`), submit a small matrix to its coordinator with the real
//! `ponyswarm submit`, and wait until its agent — running in a container, driving the
//! host's Docker — has run every job. The stack and its volumes are removed after.

mod swarm_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use swarm_support::{fixture, get_json, BIN};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

/// `docker-compose` when installed (Debian's 1.29), else Compose v2's `docker compose`.
fn compose_command() -> Vec<String> {
    let v1 = Command::new("docker-compose").arg("version").output();
    if v1.is_ok_and(|o| o.status.success()) {
        vec!["docker-compose".into()]
    } else {
        vec!["docker".into(), "compose".into()]
    }
}

/// A compose project, taken down with its volumes when dropped.
struct Stack {
    project: String,
    port: u16,
    compose: Vec<String>,
}

impl Stack {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.compose[0])
            .args(&self.compose[1..])
            .args(["-f", "compose.yaml", "-p", &self.project])
            .args(args)
            .current_dir(repo())
            .env("PONYSWARM_PORT", self.port.to_string())
            .output()
            .expect("run compose")
    }

    fn logs(&self) -> String {
        let out = self.run(&["logs", "--no-color", "--tail", "60"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--timeout", "20"]);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn compose_runs_a_small_matrix_end_to_end() {
    let build = Command::new(repo().join("images/ponyswarm/build.sh"))
        .env("PONYSWARM_BIN", BIN)
        .current_dir(repo())
        .output()
        .expect("run build.sh");
    assert!(
        build.status.success(),
        "build.sh: {}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    let stack = Stack {
        project: format!("ponyswarm-test-{}", std::process::id()),
        port: free_port(),
        compose: compose_command(),
    };
    let up = stack.run(&["up", "-d"]);
    assert!(
        up.status.success(),
        "compose up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let url = format!("http://127.0.0.1:{}", stack.port);
    let end = Instant::now() + Duration::from_secs(90);
    while get_json::<serde_json::Value>(&format!("{url}/api/v1/info")).is_none() {
        assert!(
            Instant::now() < end,
            "the coordinator never answered\n{}",
            stack.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let submit = Command::new(BIN)
        .arg("submit")
        .arg(fixture("pair").join("ponyswarm.yaml"))
        .args(["--coordinator", &url, "--project", "example"])
        .args(["--token", "change-me-submit"])
        .output()
        .expect("ponyswarm submit");
    let said = String::from_utf8_lossy(&submit.stdout).into_owned();
    assert!(
        submit.status.success(),
        "submit: {said}{}",
        String::from_utf8_lossy(&submit.stderr)
    );
    let run = said
        .strip_prefix("run ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in {said:?}"))
        .to_string();

    let end = Instant::now() + Duration::from_secs(300);
    let state = loop {
        let state: Option<ponyswarm::swarm::api::RunState> =
            get_json(&format!("{url}/api/v1/runs/{run}"));
        match state {
            Some(s) if s.state == "finished" => break s,
            s => assert!(
                Instant::now() < end,
                "run {run} not finished: {s:#?}\n{}",
                stack.logs()
            ),
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(state.jobs.len(), 2, "{state:#?}");
    for job in &state.jobs {
        assert_eq!(
            job.status.as_deref(),
            Some("passed"),
            "{job:#?}\n{}",
            stack.logs()
        );
        assert_eq!(job.agents.len(), 1, "{job:#?}");
    }
    let logs = stack.logs();
    assert!(logs.contains("registered as"), "{logs}");
}
