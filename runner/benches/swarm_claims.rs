//! Load on the coordinator's claim / heartbeat / result API: hundreds of simulated
//! agents (tokio tasks, each an HTTP client over loopback) work through a queue of jobs
//! on real coordinators running in this process: one on SQLite, one on PostgreSQL, and
//! two on one PostgreSQL (two coordinators with their own pools, listeners and HTTP
//! servers, the agents split between them). Each setup runs two phases over a queue of
//! its own:
//!
//! - **claims**: every agent claims jobs, one call after another, until the queue is
//!   empty (agents with many slots): the claim endpoint alone, in claims per second;
//! - **jobs**: every agent claims a job, heartbeats once and posts a signed result, until
//!   the queue is empty: the whole life of a job on the coordinator, in jobs per second.
//!
//! Each phase prints its rate and the latency percentiles of each call.
//!
//! PostgreSQL is the one `PONYSWARM_TEST_POSTGRES` names, else a throwaway server
//! started here like the tests do (`initdb`/`pg_ctl`, `fsync=off`); without either,
//! the PostgreSQL rows are skipped.
//!
//! `cargo bench -p ponyswarm --bench swarm_claims`; `PONYSWARM_BENCH_AGENTS` (default
//! 500) and `PONYSWARM_BENCH_JOBS` (default 5000) change the load. Not a test: it
//! asserts only that every job was handed out exactly once.

#[path = "../tests/swarm_coordinator_support/postgres.rs"]
mod postgres;

use ponyswarm::outcome::{JobOutcome, Status};
use ponyswarm::store::Store;
use ponyswarm::swarm::api::{Claim, JobResult, JobSpec, RegisterResponse};
use ponyswarm::swarm::coordinator::{tarball, Config, Coordinator};
use ponyswarm::swarm::sign::Keypair;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let agents = env_number("PONYSWARM_BENCH_AGENTS", 500);
    let jobs = env_number("PONYSWARM_BENCH_JOBS", 5000);
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
    rt.block_on(bench("SQLite", &[&sqlite], dir.path(), agents, jobs));
    let Some(server) = postgres::Server::any() else {
        println!("PostgreSQL: skipped (no initdb/pg_ctl, PONYSWARM_TEST_POSTGRES unset)");
        return;
    };
    rt.block_on(async {
        let pid = std::process::id();
        let one = server
            .fresh_database(&format!("ponyswarm_bench_{pid}_1"))
            .await;
        bench(
            "PostgreSQL, 1 coordinator",
            &[&one],
            dir.path(),
            agents,
            jobs,
        )
        .await;
        let two = server
            .fresh_database(&format!("ponyswarm_bench_{pid}_2"))
            .await;
        bench(
            "PostgreSQL, 2 coordinators",
            &[&two, &two],
            dir.path(),
            agents,
            jobs,
        )
        .await;
    });
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the agents measured.
#[derive(Default)]
struct Timings {
    claim: Vec<Duration>,
    heartbeat: Vec<Duration>,
    result: Vec<Duration>,
    jobs: Vec<String>,
}

/// Serves one coordinator per database URL of `databases` (the same URL twice: two
/// coordinators on one database) and has `agents` agents, spread over them, take
/// `jobs` jobs.
async fn bench(label: &str, databases: &[&str], dir: &Path, agents: usize, jobs: usize) {
    let data = dir.join(format!("data-{}", label.replace([' ', ','], "")));
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    for database in databases {
        let store = Store::open(database).await.expect("opens the store");
        let text = format!(
            "data_dir = {:?}\nlease_seconds = 3600\nagent_tokens = [\"t\"]\nsubmit_tokens = [\"s\"]\n\
             [[project]]\nname = \"bench\"\n",
            data.display().to_string()
        );
        let config = Config::parse(Path::new("bench.toml"), &text).expect("config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let coordinator = Coordinator::new(config, store, url.clone()).expect("coordinator");
        let app = Arc::new(coordinator).router();
        servers.push(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
        urls.push(url);
    }
    let client = ponyswarm::http::client(&Default::default()).expect("client");
    let mut registered = Vec::new();
    for i in 0..agents {
        let url = urls[i % urls.len()].clone();
        registered.push(Arc::new(register(&client, url, i).await));
    }
    for phase in [Phase::Claims, Phase::Jobs] {
        submit(&client, &urls[0], dir, jobs).await;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for agent in &registered {
            let (client, agent) = (client.clone(), agent.clone());
            tasks.push(tokio::spawn(
                async move { work(client, &agent, phase).await },
            ));
        }
        let mut all = Timings::default();
        for t in tasks {
            let t = t.await.expect("an agent");
            all.claim.extend(t.claim);
            all.heartbeat.extend(t.heartbeat);
            all.result.extend(t.result);
            all.jobs.extend(t.jobs);
        }
        let took = started.elapsed();
        let handed = all.jobs.len();
        all.jobs.sort();
        all.jobs.dedup();
        assert_eq!(
            (handed, all.jobs.len()),
            (jobs, jobs),
            "each job exactly once"
        );
        let (what, unit) = match phase {
            Phase::Claims => ("claims", "claims/s"),
            Phase::Jobs => ("jobs (claim, heartbeat, result)", "jobs/s"),
        };
        println!(
            "{label}, {what}: {agents} agents, {jobs} jobs in {:.2}s: {:.0} {unit}",
            took.as_secs_f64(),
            jobs as f64 / took.as_secs_f64()
        );
        for (name, mut times) in [
            ("claim", all.claim),
            ("heartbeat", all.heartbeat),
            ("result", all.result),
        ] {
            if times.is_empty() {
                continue;
            }
            times.sort();
            let p = |q: f64| {
                times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64()
                    * 1000.0
            };
            println!(
                "  {name:9} n={:5}  p50 {:7.1} ms  p90 {:7.1} ms  p99 {:7.1} ms  max {:7.1} ms",
                times.len(),
                p(0.5),
                p(0.9),
                p(0.99),
                p(1.0)
            );
        }
    }
    for server in servers {
        server.abort();
    }
}

/// What the agents do in a phase.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Claim until the queue is empty, holding every lease.
    Claims,
    /// Claim, heartbeat and post a result, until the queue is empty.
    Jobs,
}

/// A registered simulated agent.
struct Agent {
    url: String,
    key: Keypair,
    reg: RegisterResponse,
}

async fn register(client: &reqwest::Client, url: String, i: usize) -> Agent {
    let key = Keypair::generate();
    let reg: RegisterResponse = client
        .post(format!("{url}/api/v1/agents"))
        .bearer_auth("t")
        .json(
            &serde_json::json!({"name": format!("bench-{i}"), "public_key": key.public_hex(),
            "capabilities": {"pythons": ["3.11"], "services": [], "slots": 1}}),
        )
        .send()
        .await
        .expect("registers")
        .json()
        .await
        .expect("registered");
    Agent { url, key, reg }
}

/// Queues `jobs` jobs in runs of at most 500.
async fn submit(client: &reqwest::Client, url: &str, dir: &Path, jobs: usize) {
    let mut left = jobs;
    while left > 0 {
        let n = left.min(500);
        left -= n;
        let tree = tempfile::tempdir_in(dir).expect("tempdir");
        let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let matrix = format!(
            "name: bench\nmatrix:\n  python: [\"3.11\"]\n  n: [{}]\ntest: python -m pytest\n",
            values.join(", ")
        );
        std::fs::write(tree.path().join("ponyswarm.yaml"), matrix).expect("writes");
        let r = client
            .post(format!(
                "{url}/api/v1/runs?project=bench&matrix=ponyswarm.yaml"
            ))
            .bearer_auth("s")
            .body(tarball::pack(tree.path()).expect("packs"))
            .send()
            .await
            .expect("submits");
        assert!(
            r.status().is_success(),
            "submit: {}",
            r.text().await.unwrap_or_default()
        );
    }
}

/// One simulated agent's part in `phase`, until the queue is empty.
async fn work(client: reqwest::Client, agent: &Agent, phase: Phase) -> Timings {
    let Agent { url, key, reg } = agent;
    let mut t = Timings::default();
    loop {
        let start = Instant::now();
        let r = client
            .post(format!("{url}/api/v1/claims"))
            .bearer_auth(&reg.agent_token)
            .json(&serde_json::json!({"wait_seconds": 0}))
            .send()
            .await
            .expect("claims");
        if r.status() == reqwest::StatusCode::NO_CONTENT {
            t.claim.push(start.elapsed());
            return t;
        }
        let claim: Claim = r.json().await.expect("a claim");
        t.claim.push(start.elapsed());
        let spec: JobSpec = serde_json::from_str(&claim.spec.payload).expect("a spec");
        if let Phase::Claims = phase {
            t.jobs.push(spec.job_id);
            continue;
        }
        let start = Instant::now();
        let beat = client
            .post(format!("{url}/api/v1/leases/{}/heartbeat", claim.lease))
            .bearer_auth(&reg.agent_token)
            .json(&serde_json::json!({"phase": "test"}))
            .send()
            .await
            .expect("heartbeats");
        assert!(beat.status().is_success());
        t.heartbeat.push(start.elapsed());
        let outcome = JobOutcome::new(spec.job_name.clone(), Default::default(), Status::Passed);
        let signed = key.sign(&JobResult {
            job_id: spec.job_id.clone(),
            lease: claim.lease.clone(),
            agent_id: reg.agent_id.clone(),
            outcome,
        });
        let start = Instant::now();
        let r = client
            .post(format!("{url}/api/v1/leases/{}/result", claim.lease))
            .bearer_auth(&reg.agent_token)
            .json(&signed)
            .send()
            .await
            .expect("posts the result");
        assert!(r.status().is_success(), "result: {}", r.status());
        t.result.push(start.elapsed());
        t.jobs.push(spec.job_id);
    }
}
