//! The swarm end to end: a real coordinator (`ponyswarm serve`) and real agents
//! (`ponyswarm agent`) running real jobs in the local Docker engine.
//!
//! - jobs go only to agents that offer what they need;
//! - an agent killed mid-job: its lease expires, the job finishes on another agent;
//! - the coordinator killed and restarted mid-run: nothing is lost;
//! - a forged job spec is refused (and a coordinator presenting another key than the
//!   pinned one is never worked for);
//! - a forged result is rejected, and a dishonest agent is outvoted by a quorum of 2;
//! - a cancelled run stops its running jobs on the agents.
//!
//! The forged spec comes from a small fake coordinator started here; the dishonest
//! agent is this test speaking the API with its own registered key.

mod swarm_support;

use ponyswarm::outcome::{JobOutcome, Status};
use ponyswarm::swarm::api::{
    Capabilities, Claim, ClaimRequest, JobResult, JobSpec, RegisterRequest, RegisterResponse,
};
use ponyswarm::swarm::sign::{self, Keypair};
use std::time::Duration;
use swarm_support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(240);

#[test]
fn jobs_go_only_to_agents_that_offer_what_they_need() {
    let _one = serial();
    images(&["3.11", "3.13", "redis"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = coordinator_toml(dir.path(), 30, "mix", 1);
    let coordinator = Coordinator::start(dir.path(), &config);
    let mut plain = coordinator.agent("plain", &agent_ini(dir.path(), "plain", "3.11", "", ""));
    let mut newer = coordinator.agent(
        "newer",
        &agent_ini(dir.path(), "newer", "3.13", "redis", ""),
    );
    let mut cache = coordinator.agent(
        "cache",
        &agent_ini(dir.path(), "cache", "3.11", "redis", ""),
    );
    let (plain_id, newer_id, cache_id) = (plain.id(), newer.id(), cache.id());

    let run = coordinator.submit(&fixture("mix").join("ponyswarm.yaml"), "mix");
    let state = coordinator.wait_finished(&run, RUN_TIMEOUT, &[&plain, &newer, &cache]);

    let capable = [
        ("3.13, none", vec![&newer_id]),
        ("3.11, redis", vec![&cache_id]),
        ("3.11, none", vec![&plain_id, &cache_id]),
    ];
    for (needle, who) in capable {
        let job = job(&state, needle);
        assert_eq!(
            job.status.as_deref(),
            Some("passed"),
            "{job:#?}\n{}",
            newer.proc.transcript()
        );
        assert!(!job.agents.is_empty(), "{job:#?}");
        for agent in &job.agents {
            assert!(
                who.contains(&agent),
                "{needle} ran on {agent}, not one of {who:?}"
            );
        }
    }
}

#[test]
fn a_killed_agents_job_is_requeued_and_finishes_elsewhere() {
    let _one = serial();
    images(&["3.11"]);
    let dir = tempfile::tempdir().expect("tempdir");
    // Short leases, so the dead agent's lease expires quickly.
    let config = coordinator_toml(dir.path(), 3, "one", 1);
    let coordinator = Coordinator::start(dir.path(), &config);
    let mut doomed = coordinator.agent("doomed", &agent_ini(dir.path(), "doomed", "3.11", "", ""));
    let doomed_id = doomed.id();
    let run = coordinator.submit(&fixture("one").join("ponyswarm.yaml"), "one");
    let claimed = doomed
        .proc
        .wait_line("claimed lease ", Duration::from_secs(60));
    // In the middle of the job (it sleeps 4 s in its test alone).
    std::thread::sleep(Duration::from_secs(2));
    doomed.proc.kill();

    let mut heir = coordinator.agent("heir", &agent_ini(dir.path(), "heir", "3.11", "", ""));
    let heir_id = heir.id();
    let state = coordinator.wait_finished(&run, RUN_TIMEOUT, &[&heir]);
    let job = job(&state, "one");
    assert_eq!(
        job.status.as_deref(),
        Some("passed"),
        "{job:#?}\n{}",
        heir.proc.transcript()
    );
    assert_eq!(
        job.agents,
        vec![heir_id],
        "only the heir reported ({claimed})"
    );
    assert!(!job.agents.contains(&doomed_id));
    let heir_claim = heir
        .proc
        .wait_line("claimed lease ", Duration::from_secs(1));
    assert_ne!(
        heir_claim.split(':').next(),
        claimed.split(':').next(),
        "a new lease"
    );
}

#[test]
fn a_coordinator_restart_mid_run_loses_nothing() {
    let _one = serial();
    images(&["3.11"]);
    let dir = tempfile::tempdir().expect("tempdir");
    // Two jobs: one running across the restart, one still queued.
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("tests")).expect("mkdir");
    let yaml = std::fs::read_to_string(fixture("one").join("ponyswarm.yaml")).expect("fixture");
    std::fs::write(
        project.join("ponyswarm.yaml"),
        yaml.replace("n: [1]", "n: [1, 2]"),
    )
    .expect("write");
    std::fs::copy(
        fixture("one").join("tests/test_slow.py"),
        project.join("tests/test_slow.py"),
    )
    .expect("copy");
    let config = coordinator_toml(dir.path(), 20, "one", 1);
    let mut coordinator = Coordinator::start(dir.path(), &config);
    let mut agent = coordinator.agent("steady", &agent_ini(dir.path(), "steady", "3.11", "", ""));
    agent.id();
    let run = coordinator.submit(&project.join("ponyswarm.yaml"), "one");
    agent
        .proc
        .wait_line("claimed lease ", Duration::from_secs(60));

    coordinator.restart();

    let state = coordinator.wait_finished(&run, RUN_TIMEOUT, &[&agent]);
    assert_eq!(state.jobs.len(), 2, "{state:#?}");
    for job in &state.jobs {
        assert_eq!(job.state, "done", "{job:#?}\n{}", agent.proc.transcript());
        assert_eq!(job.status.as_deref(), Some("passed"), "{job:#?}");
    }
}

#[test]
fn a_forged_result_is_rejected_and_a_dishonest_agent_is_outvoted() {
    let _one = serial();
    images(&["3.11"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = coordinator_toml(dir.path(), 30, "one", 2);
    let coordinator = Coordinator::start(dir.path(), &config);
    let api = format!("{}/api/v1", coordinator.url);

    // The liar registers like any agent, with a key of its own.
    let liar_key = Keypair::generate();
    let register = RegisterRequest {
        name: "liar".into(),
        public_key: liar_key.public_hex(),
        capabilities: Capabilities {
            pythons: vec!["3.11".into()],
            services: vec![],
            slots: 1,
        },
    };
    let (status, body) = post_json(&format!("{api}/agents"), AGENT_TOKEN, &register);
    assert_eq!(status, 200, "{body}");
    let liar: RegisterResponse = serde_json::from_str(&body).expect("registration");

    let run = coordinator.submit(&fixture("one").join("ponyswarm.yaml"), "one");
    let (status, body) = post_json(
        &format!("{api}/claims"),
        &liar.agent_token,
        &ClaimRequest { wait_seconds: 20 },
    );
    assert_eq!(status, 200, "{body}");
    let claim: Claim = serde_json::from_str(&body).expect("claim");
    let spec: JobSpec = sign::verify(&claim.spec, &liar.coordinator_key).expect("a genuine spec");
    let lie = JobResult {
        job_id: spec.job_id.clone(),
        lease: claim.lease.clone(),
        agent_id: liar.agent_id.clone(),
        outcome: JobOutcome::new(&spec.job_name, Default::default(), Status::Failed),
    };
    let result_url = format!("{api}/leases/{}/result", claim.lease);

    // Signed with a key the agent did not register: rejected.
    let forged = Keypair::generate().sign(&lie);
    let (status, body) = post_json(&result_url, &liar.agent_token, &forged);
    assert_eq!(status, 403, "a forged result must be rejected: {body}");

    // Signed properly, but false: taken, not counted on its own.
    let (status, body) = post_json(&result_url, &liar.agent_token, &liar_key.sign(&lie));
    assert_eq!(status, 200, "{body}");
    let ack: serde_json::Value = serde_json::from_str(&body).expect("ack");
    assert_eq!(ack["counted"], serde_json::json!(false), "{body}");

    // The honest agents are run by other operators than the liar: their own tokens.
    let [t2, t3] = OTHER_AGENT_TOKENS;
    let mut first = coordinator.agent(
        "honest-1",
        &agent_ini_as(dir.path(), "honest-1", t2, "3.11", "", ""),
    );
    let mut second = coordinator.agent(
        "honest-2",
        &agent_ini_as(dir.path(), "honest-2", t3, "3.11", "", ""),
    );
    let ids = [first.id(), second.id()];
    let state = coordinator.wait_finished(&run, RUN_TIMEOUT, &[&first, &second]);
    let job = job(&state, "one");
    assert_eq!(job.state, "done", "{job:#?}");
    assert_eq!(
        job.status.as_deref(),
        Some("passed"),
        "the two honest agents agree: {job:#?}"
    );
    assert!(job.agents.contains(&liar.agent_id), "{job:#?}");
    for id in &ids {
        assert!(job.agents.contains(id), "{id} ran it too: {job:#?}");
    }
}

#[test]
fn a_forged_spec_is_refused_and_so_is_a_coordinator_with_another_key() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let presented = Keypair::generate();
    let forger = Keypair::generate();
    let fake = fake::start(presented.clone(), forger);

    // Pinned to the key the fake presents: its specs are signed with another.
    let pin = format!("coordinator_key = {}", presented.public_hex());
    let mut agent = Agent::start(
        "target",
        &fake.url,
        &agent_ini(dir.path(), "target", "3.11", "", &pin),
    );
    let refused = agent
        .proc
        .wait_line("refused lease ", Duration::from_secs(60));
    assert!(
        refused.contains("not signed by the coordinator"),
        "{refused}"
    );
    let seen = fake.wait_for("release L1", Duration::from_secs(10));
    assert!(
        !seen.iter().any(|s| s.starts_with("source")
            || s.starts_with("result")
            || s.starts_with("heartbeat")),
        "the refused job was touched: {seen:?}"
    );

    // Pinned to another key: the agent never works for this coordinator.
    let pinned = Keypair::generate().public_hex();
    let ini = agent_ini(
        dir.path(),
        "pinned",
        "3.11",
        "",
        &format!("coordinator_key = {pinned}"),
    );
    let mut agent = Agent::start("pinned", &fake.url, &ini);
    let code = agent.proc.wait_exit(Duration::from_secs(60));
    assert_eq!(code, Some(3), "{}", agent.proc.transcript());
    assert!(
        agent.proc.transcript().contains("pins"),
        "{}",
        agent.proc.transcript()
    );
    assert!(!agent.proc.lines().iter().any(|l| l.starts_with("claimed")));
}

/// A fake coordinator: registers anyone (presenting one key), hands out one job spec
/// signed with another key, and records what the agent asks for.
mod fake {
    use super::*;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use ponyswarm::swarm::api::Signed;
    use std::sync::{Arc, Mutex};

    pub struct Fake {
        pub url: String,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Fake {
        /// Waits until `what` was asked; returns everything asked so far.
        pub fn wait_for(&self, what: &str, timeout: Duration) -> Vec<String> {
            let end = std::time::Instant::now() + timeout;
            loop {
                let seen = self.seen.lock().expect("seen").clone();
                if seen.iter().any(|s| s == what) || std::time::Instant::now() > end {
                    assert!(seen.iter().any(|s| s == what), "never saw {what}: {seen:?}");
                    return seen;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    struct S {
        presented: Keypair,
        forger: Keypair,
        seen: Arc<Mutex<Vec<String>>>,
    }

    pub fn start(presented: Keypair, forger: Keypair) -> Fake {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(S {
            presented,
            forger,
            seen: seen.clone(),
        });
        let app = Router::new()
            .route("/api/v1/agents", post(register))
            .route("/api/v1/claims", post(claim))
            .route("/api/v1/leases/{lease}/{what}", post(lease))
            .route("/api/v1/runs/{run}/source", get(source))
            .with_state(state);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let _ = tx.send(listener.local_addr().expect("addr"));
                let _ = axum::serve(listener, app).await;
            });
        });
        let addr = rx.recv().expect("fake coordinator address");
        Fake {
            url: format!("http://{addr}"),
            seen,
        }
    }

    async fn register(State(s): State<Arc<S>>) -> Json<RegisterResponse> {
        s.seen.lock().expect("seen").push("register".into());
        Json(RegisterResponse {
            agent_id: "fake-agent".into(),
            agent_token: "fake-token".into(),
            coordinator_key: s.presented.public_hex(),
            lease_seconds: 30,
        })
    }

    async fn claim(State(s): State<Arc<S>>) -> Result<Json<Claim>, StatusCode> {
        let first = {
            let mut seen = s.seen.lock().expect("seen");
            let first = !seen.iter().any(|x| x == "claim");
            seen.push("claim".into());
            first
        };
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Err(StatusCode::NO_CONTENT);
        }
        let spec = JobSpec {
            run_id: "r1".into(),
            job_id: "j1".into(),
            project: "one".into(),
            matrix_file: "ponyswarm.yaml".into(),
            job_name: "one (1)".into(),
            job_index: 0,
            python: "3.11".into(),
            services: vec![],
            source_path: "/api/v1/runs/r1/source".into(),
            source_sha256: "00".into(),
            lease: "L1".into(),
            issued_at: "2026-11-23T09:00:00Z".into(),
            trust: ponyswarm::run::prepare::Trust::Trusted,
        };
        let signed: Signed = s.forger.sign(&spec);
        Ok(Json(Claim {
            lease: "L1".into(),
            spec: signed,
            lease_seconds: 30,
        }))
    }

    async fn lease(
        State(s): State<Arc<S>>,
        Path((lease, what)): Path<(String, String)>,
    ) -> StatusCode {
        s.seen.lock().expect("seen").push(format!("{what} {lease}"));
        StatusCode::NO_CONTENT
    }

    async fn source(State(s): State<Arc<S>>) -> StatusCode {
        s.seen.lock().expect("seen").push("source".into());
        StatusCode::NOT_FOUND
    }
}

/// The agent's containers (by the `io.ponyswarm.pid` label every container carries).
fn containers_of(pid: u32) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.ponyswarm.pid={pid}"),
        ])
        .output()
        .expect("runs docker ps");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn a_cancelled_run_stops_its_running_jobs_on_the_agents() {
    let _one = serial();
    images(&["3.11"]);
    let dir = tempfile::tempdir().expect("tempdir");
    // Short leases: heartbeats (a third of a lease) bring the cancel within a second.
    let config = coordinator_toml(dir.path(), 3, "sleepy", 1);
    let coordinator = Coordinator::start(dir.path(), &config);
    let mut agent = coordinator.agent("agent", &agent_ini(dir.path(), "agent", "3.11", "", ""));
    agent.id();
    let run = coordinator.submit(&fixture("sleepy").join("ponyswarm.yaml"), "sleepy");
    let claimed = agent
        .proc
        .wait_line("claimed lease ", Duration::from_secs(60));
    let lease = claimed["claimed lease ".len()..]
        .split(':')
        .next()
        .expect("a lease")
        .to_string();
    let pid = agent.proc.pid();
    // The job's container runs (its test sleeps for ten minutes).
    let end = std::time::Instant::now() + RUN_TIMEOUT;
    while containers_of(pid).is_empty() {
        assert!(
            std::time::Instant::now() < end,
            "the job never started a container\n{}",
            agent.proc.transcript()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = std::process::Command::new(BIN)
        .args(["cancel", &run, "--coordinator", &coordinator.url])
        .args(["--token", SUBMIT_TOKEN])
        .output()
        .expect("runs ponyswarm cancel");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let told = agent
        .proc
        .wait_line(&format!("lease {lease}:"), Duration::from_secs(30));
    assert!(
        told.ends_with("the coordinator cancelled the job"),
        "{told}"
    );
    agent.proc.wait_line(
        &format!("lease {lease} cancelled: not reporting"),
        Duration::from_secs(60),
    );
    assert_eq!(
        containers_of(pid),
        Vec::<String>::new(),
        "the job's containers are gone\n{}",
        agent.proc.transcript()
    );
    let state = coordinator.run_state(&run).expect("the run");
    assert_eq!(state.state, "cancelled");
    assert_eq!(state.jobs[0].state, "cancelled");
    assert!(state.jobs[0].agents.is_empty(), "the agent posted nothing");
}
