//! Helpers for the swarm's end-to-end tests: start the real `ponyswarm serve` and
//! `ponyswarm agent` binaries, read what they print, submit runs with the real
//! `ponyswarm submit`, and follow a run through the API until it finishes.
//!
//! Every process is killed when its handle drops (agents first get SIGTERM twice, so
//! they cancel their jobs and remove their containers).

#![allow(dead_code)]

use ponyswarm::swarm::api::RunState;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The ponyswarm binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ponyswarm");
/// The token agents register with in [`coordinator_toml`].
pub const AGENT_TOKEN: &str = "agent-token-for-tests";
/// Tokens of two other operators, also accepted by [`coordinator_toml`]: agents that
/// register with different tokens count as distinct parties towards a quorum.
pub const OTHER_AGENT_TOKENS: [&str; 2] = ["operator-2-for-tests", "operator-3-for-tests"];
/// The token `ponyswarm submit` presents in [`coordinator_toml`].
pub const SUBMIT_TOKEN: &str = "submit-token-for-tests";

/// A fixture project of the swarm tests.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/swarm_support/fixtures")
        .join(name)
}

/// A coordinator config with the test tokens, `lease_seconds`, and project `project`
/// asking for `quorum`.
pub fn coordinator_toml(dir: &Path, lease_seconds: u64, project: &str, quorum: u32) -> PathBuf {
    let path = dir.join("coordinator.toml");
    let text = format!(
        "data_dir = \"{}\"\nlease_seconds = {lease_seconds}\n\
         agent_tokens = [\"{AGENT_TOKEN}\", \"{}\", \"{}\"]\n\
         submit_tokens = [\"{SUBMIT_TOKEN}\"]\n\n[[project]]\nname = \"{project}\"\nquorum = {quorum}\n",
        dir.join("data").display(),
        OTHER_AGENT_TOKENS[0],
        OTHER_AGENT_TOKENS[1],
    );
    std::fs::write(&path, text).expect("write coordinator.toml");
    path
}

/// An agent INI file in `dir` named `name`, offering `pythons` and `services`.
pub fn agent_ini(dir: &Path, name: &str, pythons: &str, services: &str, extra: &str) -> PathBuf {
    agent_ini_as(dir, name, AGENT_TOKEN, pythons, services, extra)
}

/// [`agent_ini`] registering with `token`.
pub fn agent_ini_as(
    dir: &Path,
    name: &str,
    token: &str,
    pythons: &str,
    services: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.ini"));
    let text = format!(
        "[agent]\nname = {name}\ntoken = {token}\nkey = {name}.key\nslots = 1\n{extra}\n\
         [offers]\npythons = {pythons}\nservices = {services}\n"
    );
    std::fs::write(&path, text).expect("write agent ini");
    path
}

/// A child process whose output lines are collected as they come.
pub struct Proc {
    /// What it is, for messages.
    pub what: String,
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `BIN args`.
    pub fn start(what: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .env("PONYSWARM_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let out = collect(child.stdout.take().expect("stdout"));
        let err = collect(child.stderr.take().expect("stderr"));
        Proc {
            what: what.to_string(),
            child,
            out,
            err,
        }
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.out.lock().expect("lines").clone()
    }

    /// stdout and stderr so far, for failure messages.
    pub fn transcript(&self) -> String {
        format!(
            "--- {} stdout\n{}\n--- stderr\n{}",
            self.what,
            self.lines().join("\n"),
            self.err.lock().expect("lines").join("\n")
        )
    }

    /// The first stdout line starting with `prefix`, waiting up to `timeout`.
    pub fn wait_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| l.starts_with(prefix)) {
                return l;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers catch the last lines.
                std::thread::sleep(Duration::from_millis(200));
                if let Some(l) = self.lines().into_iter().find(|l| l.starts_with(prefix)) {
                    return l;
                }
                panic!(
                    "{} exited ({status}) before printing {prefix:?}\n{}",
                    self.what,
                    self.transcript()
                );
            }
            if Instant::now() > end {
                panic!(
                    "{} printed no {prefix:?} within {timeout:?}\n{}",
                    self.what,
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its process id (what the `io.ponyswarm.pid` label of its containers says).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`-TERM`, `-KILL`).
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to end (up to `timeout`), returning its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                return status.code();
            }
            if Instant::now() > end {
                panic!(
                    "{} did not exit within {timeout:?}\n{}",
                    self.what,
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills it at once (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Twice: the second makes an agent cancel its job and remove its containers.
            self.signal("-TERM");
            std::thread::sleep(Duration::from_millis(300));
            self.signal("-TERM");
            let end = Instant::now() + Duration::from_secs(30);
            while Instant::now() < end {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            self.kill();
        }
    }
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut v) = sink.lock() {
                v.push(line);
            }
        }
    });
    lines
}

/// A running coordinator.
pub struct Coordinator {
    /// The process.
    pub proc: Proc,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    config: PathBuf,
    database: String,
}

impl Coordinator {
    /// Starts `ponyswarm serve` with `config` on a free port and an SQLite file in
    /// `dir`; returns once it listens.
    pub fn start(dir: &Path, config: &Path) -> Coordinator {
        let database = format!("sqlite://{}", dir.join("coordinator.db").display());
        Coordinator::start_at(config, &database, "127.0.0.1:0")
    }

    fn start_at(config: &Path, database: &str, listen: &str) -> Coordinator {
        let mut proc = Proc::start(
            "coordinator",
            &[
                "serve",
                "--config",
                config.to_str().expect("utf-8"),
                "--database",
                database,
                "--listen",
                listen,
            ],
        );
        let line = proc.wait_line("listening on ", Duration::from_secs(60));
        let url = line.trim_start_matches("listening on ").trim().to_string();
        Coordinator {
            proc,
            url,
            config: config.to_path_buf(),
            database: database.to_string(),
        }
    }

    /// Kills it (SIGKILL: nothing is flushed on purpose) and starts it again on the
    /// same address and database.
    pub fn restart(&mut self) {
        self.proc.kill();
        let listen = self.url.trim_start_matches("http://").to_string();
        let end = Instant::now() + Duration::from_secs(20);
        // The port may take a moment to be free again.
        loop {
            if std::net::TcpListener::bind(&listen).is_ok() || Instant::now() > end {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        *self = Coordinator::start_at(&self.config.clone(), &self.database.clone(), &listen);
    }

    /// Submits `matrix` as a run of `project`; returns the run id.
    pub fn submit(&self, matrix: &Path, project: &str) -> String {
        let out = Command::new(BIN)
            .args(["submit", matrix.to_str().expect("utf-8")])
            .args(["--coordinator", &self.url, "--project", project])
            .args(["--token", SUBMIT_TOKEN])
            .output()
            .expect("run ponyswarm submit");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "submit failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // `run ID (N jobs): URL`
        text.trim()
            .strip_prefix("run ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no run id in {text:?}"))
            .to_string()
    }

    /// Starts an agent of this coordinator with the INI file `ini`.
    /// Over plain http an agent must pin the coordinator's key: unless `ini`
    /// pins one, this coordinator's (from `/api/v1/info`) is added to it.
    pub fn agent(&self, what: &str, ini: &Path) -> Agent {
        let text = std::fs::read_to_string(ini).expect("reads the agent ini");
        if !text.contains("coordinator_key") {
            let info: serde_json::Value =
                get_json(&format!("{}/api/v1/info", self.url)).expect("the coordinator's info");
            let key = info["coordinator_key"].as_str().expect("a key");
            let pinned = text.replacen(
                "[agent]\n",
                &format!("[agent]\ncoordinator_key = {key}\n"),
                1,
            );
            std::fs::write(ini, pinned).expect("pins the key");
        }
        Agent::start(what, &self.url, ini)
    }

    /// The run's state now.
    pub fn run_state(&self, run: &str) -> Option<RunState> {
        get_json(&format!("{}/api/v1/runs/{run}", self.url))
    }

    /// Waits until run `run` is finished; panics with the agents' transcripts after
    /// `timeout`.
    pub fn wait_finished(&self, run: &str, timeout: Duration, agents: &[&Agent]) -> RunState {
        let end = Instant::now() + timeout;
        loop {
            if let Some(state) = self.run_state(run) {
                if state.state == "finished" {
                    return state;
                }
                if Instant::now() > end {
                    let t: Vec<String> = agents.iter().map(|a| a.proc.transcript()).collect();
                    panic!(
                        "run {run} not finished after {timeout:?}: {state:#?}\n{}\n{}",
                        t.join("\n"),
                        self.proc.transcript()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A running agent.
pub struct Agent {
    /// The process.
    pub proc: Proc,
}

impl Agent {
    /// Starts `ponyswarm agent --coordinator URL --config INI`.
    pub fn start(what: &str, url: &str, ini: &Path) -> Agent {
        let proc = Proc::start(
            what,
            &[
                "agent",
                "--coordinator",
                url,
                "--config",
                ini.to_str().expect("utf-8"),
            ],
        );
        Agent { proc }
    }

    /// Its agent id, once registered.
    pub fn id(&mut self) -> String {
        let line = self
            .proc
            .wait_line("registered as ", Duration::from_secs(60));
        line.trim_start_matches("registered as ")
            .split_whitespace()
            .next()
            .expect("an id")
            .to_string()
    }
}

/// GETs `url` as JSON (tests are sync here).
pub fn get_json<T: serde::de::DeserializeOwned + Send + 'static>(url: &str) -> Option<T> {
    let url = url.to_string();
    block_on(async move {
        let client = ponyswarm::http::client(&Default::default()).ok()?;
        let r = client.get(&url).send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json::<T>().await.ok()
    })
}

/// Runs `work` to its end on a runtime, and a thread, of its own (tests are sync here).
pub fn block_on<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Makes the images the fixtures need, once, before timing anything.
pub fn images(names: &[&str]) {
    let out = Command::new(BIN)
        .args(["images", "build"])
        .args(names)
        .output()
        .expect("ponyswarm images build");
    assert!(
        out.status.success(),
        "images build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The job of `state` whose name contains `needle`.
pub fn job<'a>(state: &'a RunState, needle: &str) -> &'a ponyswarm::swarm::api::JobState {
    state
        .jobs
        .iter()
        .find(|j| j.name.contains(needle))
        .unwrap_or_else(|| panic!("no job {needle:?} in {state:#?}"))
}

/// Serialises the end-to-end tests of one test binary (two shared cores).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// POSTs `body` as JSON to `url` with `token`; returns the status and the body text.
pub fn post_json<B: serde::Serialize>(url: &str, token: &str, body: &B) -> (u16, String) {
    let (url, token) = (url.to_string(), token.to_string());
    let body = serde_json::to_string(body).expect("serialize");
    block_on(async move {
        let client = ponyswarm::http::client(&Default::default()).expect("client");
        let r = client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    })
}
