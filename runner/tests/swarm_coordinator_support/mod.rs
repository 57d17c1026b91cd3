//! Helpers for the coordinator's tests: the real `ponyswarm serve` binary on a free
//! port over a temporary config, agents played by the test over HTTP, and small
//! projects to submit.

#![allow(dead_code)]

pub mod postgres;

use ponyswarm::matrix::Combination;
use ponyswarm::outcome::{JobOutcome, Status};
use ponyswarm::swarm::api::{
    Capabilities, Claim, JobResult, JobSpec, RegisterResponse, ResultAck, RunState, Submitted,
};
use ponyswarm::swarm::coordinator::tarball;
use ponyswarm::swarm::sign::{self, Keypair};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The registration token every test config accepts.
pub const AGENT_TOKEN: &str = "register-me";
/// Registration tokens of other operators, also accepted: agents registered with
/// different tokens count as distinct parties towards a quorum.
pub const OTHER_AGENT_TOKENS: [&str; 2] = ["operator-2", "operator-3"];
/// The submit token every test config accepts.
pub const SUBMIT_TOKEN: &str = "submit-me";

/// A config file: `extra` is appended (e.g. `[[project]]` tables).
pub fn write_config(dir: &Path, lease_seconds: u64, extra: &str) -> PathBuf {
    let path = dir.join("coordinator.toml");
    let text = format!(
        "data_dir = {:?}\nlease_seconds = {lease_seconds}\n\
         agent_tokens = [\"{AGENT_TOKEN}\", \"{}\", \"{}\"]\n\
         submit_tokens = [\"{SUBMIT_TOKEN}\"]\n{extra}",
        dir.join("data").display().to_string(),
        OTHER_AGENT_TOKENS[0],
        OTHER_AGENT_TOKENS[1],
    );
    std::fs::write(&path, text).expect("writes the config");
    path
}

/// A `ponyswarm serve` process; killed on drop.
pub struct Coordinator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The key it printed at start, for agents to pin.
    pub printed_key: String,
    /// Its stderr, for failures.
    pub log: PathBuf,
}

impl Coordinator {
    /// Starts the binary with `config` and `database`, and waits for its listening line.
    pub fn start(config: &Path, database: &str) -> Coordinator {
        let log = config.with_extension(format!("{}.log", std::process::id()));
        let log = unique(log);
        let mut child = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                database,
                "--config",
            ])
            .arg(config)
            .env("PONYSWARM_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("starts ponyswarm serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reads stdout");
        let mut key_line = String::new();
        stdout.read_line(&mut key_line).expect("reads stdout");
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ponyswarm serve did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Coordinator {
            url: url.to_string(),
            printed_key: key_line
                .trim()
                .trim_start_matches("coordinator key ")
                .to_string(),
            child,
            log,
        }
    }

    /// Sends SIGTERM (as `docker stop` or systemd would), without waiting.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("runs kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit; its exit status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("waits for the coordinator")
    }

    /// `POST /api/v1/runs/{run}/cancel` with `token`: status code and body.
    pub async fn cancel(&self, run: &str, token: &str) -> (u16, String) {
        let r = self
            .client()
            .post(format!("{}/api/v1/runs/{run}/cancel", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("cancels");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// Kills the process (as a crash would) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The text of the page at `path` (`/`, `/runs/ID`).
    pub async fn page(&self, path: &str) -> String {
        self.client()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the page answers")
            .text()
            .await
            .expect("the page reads")
    }

    /// An HTTP client.
    pub fn client(&self) -> reqwest::Client {
        ponyswarm::http::client(&Default::default()).expect("a client")
    }

    /// Submits `tree` (matrix `ponyswarm.yaml` at its root) as `project`.
    pub async fn submit(&self, tree: &Path, project: &str) -> reqwest::Response {
        self.client()
            .post(format!(
                "{}/api/v1/runs?project={project}&matrix=ponyswarm.yaml",
                self.url
            ))
            .bearer_auth(SUBMIT_TOKEN)
            .body(tarball::pack(tree).expect("packs"))
            .send()
            .await
            .expect("submits")
    }

    /// Submits and expects success.
    pub async fn submit_ok(&self, tree: &Path, project: &str) -> Submitted {
        let r = self.submit(tree, project).await;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "submit: {status}: {text}");
        serde_json::from_str(&text).expect("a Submitted")
    }

    /// `GET /api/v1/runs/{run}`.
    pub async fn run_state(&self, run: &str) -> RunState {
        self.client()
            .get(format!("{}/api/v1/runs/{run}", self.url))
            .send()
            .await
            .expect("gets the run")
            .json()
            .await
            .expect("a RunState")
    }

    /// The coordinator's key, from `/api/v1/info`.
    pub async fn key(&self) -> String {
        let info: serde_json::Value = self
            .client()
            .get(format!("{}/api/v1/info", self.url))
            .send()
            .await
            .expect("info")
            .json()
            .await
            .expect("json");
        info["coordinator_key"].as_str().expect("a key").to_string()
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique(path: PathBuf) -> PathBuf {
    let mut n = 0;
    loop {
        let candidate = path.with_extension(format!("{n}.log"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

/// An agent played by the test.
pub struct Agent {
    /// Where it talks to.
    pub url: String,
    /// Its id.
    pub id: String,
    /// Its bearer token.
    pub token: String,
    /// Its key.
    pub key: Keypair,
    /// Its HTTP client.
    pub client: reqwest::Client,
}

/// A claimed job: the lease and the verified spec.
pub struct Got {
    /// The claim as answered.
    pub claim: Claim,
    /// Its spec.
    pub spec: JobSpec,
}

impl Agent {
    /// Registers with `pythons` and `services`.
    pub async fn register(url: &str, name: &str, pythons: &[&str], services: &[&str]) -> Agent {
        Agent::register_full(
            url,
            name,
            AGENT_TOKEN,
            Keypair::generate(),
            pythons,
            services,
        )
        .await
    }

    /// Registers with `pythons` under the registration `token` with `key`.
    pub async fn register_as(
        url: &str,
        name: &str,
        token: &str,
        key: Keypair,
        pythons: &[&str],
    ) -> Agent {
        Agent::register_full(url, name, token, key, pythons, &[]).await
    }

    async fn register_full(
        url: &str,
        name: &str,
        token: &str,
        key: Keypair,
        pythons: &[&str],
        services: &[&str],
    ) -> Agent {
        let client = ponyswarm::http::client(&Default::default()).expect("a client");
        let caps = Capabilities {
            pythons: pythons.iter().map(|s| s.to_string()).collect(),
            services: services.iter().map(|s| s.to_string()).collect(),
            slots: 1,
        };
        let r = client
            .post(format!("{url}/api/v1/agents"))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": name, "public_key": key.public_hex(), "capabilities": caps}))
            .send()
            .await
            .expect("registers");
        assert!(r.status().is_success(), "register: {}", r.status());
        let reg: RegisterResponse = r.json().await.expect("a RegisterResponse");
        Agent {
            url: url.to_string(),
            id: reg.agent_id,
            token: reg.agent_token,
            key,
            client,
        }
    }

    /// `POST /claims`: a job (spec verified with the coordinator's key), or `None`.
    pub async fn claim(&self, wait_seconds: u64) -> Option<Got> {
        let r = self
            .client
            .post(format!("{}/api/v1/claims", self.url))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "wait_seconds": wait_seconds }))
            .send()
            .await
            .expect("claims");
        if r.status() == reqwest::StatusCode::NO_CONTENT {
            return None;
        }
        assert!(r.status().is_success(), "claim: {}", r.status());
        let claim: Claim = r.json().await.expect("a Claim");
        let key = self.coordinator_key().await;
        let spec: JobSpec = sign::verify(&claim.spec, &key).expect("the spec verifies");
        assert_eq!(spec.lease, claim.lease);
        Some(Got { claim, spec })
    }

    async fn coordinator_key(&self) -> String {
        let info: serde_json::Value = self
            .client
            .get(format!("{}/api/v1/info", self.url))
            .send()
            .await
            .expect("info")
            .json()
            .await
            .expect("json");
        info["coordinator_key"].as_str().expect("a key").to_string()
    }

    /// `POST /leases/{lease}/heartbeat`: the status code and the answer's JSON.
    pub async fn heartbeat_answer(&self, lease: &str) -> (u16, serde_json::Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/leases/{lease}/heartbeat", self.url))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"phase": "test"}))
            .send()
            .await
            .expect("heartbeats");
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or_default())
    }

    /// `POST /leases/{lease}/heartbeat`: the status code.
    pub async fn heartbeat(&self, lease: &str) -> u16 {
        self.client
            .post(format!("{}/api/v1/leases/{lease}/heartbeat", self.url))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"phase": "test"}))
            .send()
            .await
            .expect("heartbeats")
            .status()
            .as_u16()
    }

    /// The result `status` (failing `failing`) for `got`, signed by this agent.
    pub fn result(
        &self,
        got: &Got,
        status: Status,
        failing: &[&str],
    ) -> ponyswarm::swarm::api::Signed {
        let mut outcome =
            JobOutcome::new(got.spec.job_name.clone(), Combination::default(), status);
        outcome.failures = failing
            .iter()
            .map(|t| ponyswarm::testresults::Failure {
                test: t.to_string(),
                message: "boom".into(),
            })
            .collect();
        outcome.log = format!("ran by {}", self.id);
        self.key.sign(&JobResult {
            job_id: got.spec.job_id.clone(),
            lease: got.claim.lease.clone(),
            agent_id: self.id.clone(),
            outcome,
        })
    }

    /// Posts `signed` as the result of `lease`: status code and body.
    pub async fn post_result(
        &self,
        lease: &str,
        signed: &ponyswarm::swarm::api::Signed,
    ) -> (u16, String) {
        let r = self
            .client
            .post(format!("{}/api/v1/leases/{lease}/result", self.url))
            .bearer_auth(&self.token)
            .json(signed)
            .send()
            .await
            .expect("posts a result");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// Posts a result and expects it accepted.
    pub async fn report(&self, got: &Got, status: Status, failing: &[&str]) -> ResultAck {
        let (code, body) = self
            .post_result(&got.claim.lease, &self.result(got, status, failing))
            .await;
        assert_eq!(code, 200, "result: {body}");
        serde_json::from_str(&body).expect("a ResultAck")
    }
}

/// A project tree: `ponyswarm.yaml` with a `python` axis of `pythons`, and `redis` for
/// the jobs on the Python named `redis_on` (if any).
pub fn project(dir: &Path, name: &str, pythons: &[&str], redis_on: Option<&str>) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("tests")).expect("mkdir");
    let list = pythons
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let services = redis_on
        .map(|p| format!("services:\n  redis: {{image: redis, when: {{python: {p:?}}}}}\n"))
        .unwrap_or_default();
    std::fs::write(
        root.join("ponyswarm.yaml"),
        format!("name: {name}\nmatrix:\n  python: [{list}]\n{services}test: python -m pytest\n"),
    )
    .expect("writes the matrix");
    std::fs::write(
        root.join("tests/test_x.py"),
        "def test_x():\n    assert True\n",
    )
    .expect("writes");
    root
}

/// A project tree whose `ponyswarm.yaml` is `matrix`.
pub fn project_with(dir: &Path, name: &str, matrix: &str) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("tests")).expect("mkdir");
    std::fs::write(root.join("ponyswarm.yaml"), matrix).expect("writes the matrix");
    std::fs::write(
        root.join("tests/test_x.py"),
        "def test_x():\n    assert True\n",
    )
    .expect("writes");
    root
}

/// Makes `tree` a git repository with one commit; returns the commit's SHA.
pub fn git_commit(tree: &Path) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(tree)
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(args)
            .output()
            .expect("runs git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the project"]);
    git(&["rev-parse", "HEAD"])
}

/// `X-Hub-Signature-256` of `body` with `secret`.
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
