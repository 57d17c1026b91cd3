//! The store's claim path against the real databases (SQLite in a temporary file, a
//! throwaway PostgreSQL): many claimers at once never get the same job twice, the
//! capability, quorum and order rules hold, and expired leases come back.

#[path = "swarm_coordinator_support/postgres.rs"]
mod postgres;

use ponyswarm::outcome::RunResult;
use ponyswarm::store::swarm::{SwarmJob, SwarmJobState, SwarmResult, SwarmRun, SwarmRunState};
use ponyswarm::store::swarm_claim::{ClaimRequest, Claimed};
use ponyswarm::store::Store;
use std::collections::HashSet;
use std::time::{Duration, UNIX_EPOCH};

const NOW: i64 = 1_800_000_000_000;
const LEASE: i64 = 60_000;

#[tokio::test]
async fn claims_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = |i: usize| format!("sqlite://{}/{i}/ponyswarm.db", dir.path().display());
    concurrent_claimers_never_share_a_job(&url(0)).await;
    claims_keep_the_queue_rules(&url(1)).await;
    a_batch_of_claims_keeps_the_rules(&url(2)).await;
}

#[tokio::test]
async fn claims_on_postgres() {
    let Some(server) = postgres::Server::any_or_skip() else {
        return;
    };
    let pid = std::process::id();
    let url = server
        .fresh_database(&format!("ponyswarm_claims_{pid}_0"))
        .await;
    concurrent_claimers_never_share_a_job(&url).await;
    let url = server
        .fresh_database(&format!("ponyswarm_claims_{pid}_1"))
        .await;
    claims_keep_the_queue_rules(&url).await;
    let url = server
        .fresh_database(&format!("ponyswarm_claims_{pid}_2"))
        .await;
    a_batch_of_claims_keeps_the_rules(&url).await;
}

/// A claim walks the queue's index in order and stops at the first job that fits, on
/// a queue of thousands where most jobs need a service the agent lacks: right after
/// the run is queued (the store refreshes PostgreSQL's statistics then) and after a
/// later `ANALYZE`, with the plans the claim writers use (for any values). Reading, filtering and sorting
/// the whole queue instead (what a capability test PostgreSQL misjudges leads to) cost
/// 25 ms a claim at 5,000 jobs.
#[tokio::test]
async fn a_claim_on_postgres_walks_the_queue_index() {
    let Some(server) = postgres::Server::any_or_skip() else {
        return;
    };
    let pid = std::process::id();
    let url = server
        .fresh_database(&format!("ponyswarm_claims_{pid}_plan"))
        .await;
    let store = Store::open(&url).await.expect("opens");
    let none: &[&str] = &[];
    let postgres: &[&str] = &["postgres"];
    let jobs: Vec<(&str, &[&str])> = (0..3000)
        .map(|i| ("3.11", if i % 10 == 9 { none } else { postgres }))
        .collect();
    enqueue(&store, "r1", &jobs).await;
    let req = ClaimRequest {
        agent_id: "agent-1".into(),
        pythons: vec!["3.11".into(), "3.13".into()],
        services: vec![],
        lease: "lease-plan".into(),
        now: NOW,
        expires: NOW + LEASE,
    };
    for when in ["as queued", "after ANALYZE"] {
        let plan = store
            .swarm_claim_plan(&req)
            .await
            .expect("explains")
            .expect("a plan on PostgreSQL");
        assert!(
            plan.contains("swarm_jobs_queue") && !plan.contains("Seq Scan on swarm_jobs"),
            "{when}, the claim does not walk the queue's index:\n{plan}"
        );
        // The writers' plans are for any values (planned once, not on every batch).
        assert!(
            plan.contains("lease_expires < $1") && plan.contains("lease_expires < $3"),
            "{when}, the claims are planned for their values:\n{plan}"
        );
        sqlx_analyze(&url).await;
    }
}

/// `ANALYZE` on the PostgreSQL at `url`.
async fn sqlx_analyze(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connects");
    sqlx::query("ANALYZE")
        .execute(&mut conn)
        .await
        .expect("analyzes");
}

/// 24 claimers on two stores (two pools: two coordinators on one database) race for
/// 120 jobs: each job goes out exactly once, with its lease recorded.
async fn concurrent_claimers_never_share_a_job(url: &str) {
    let one = Store::open(url).await.expect("opens");
    let two = Store::open(url).await.expect("opens again");
    let none: &[&str] = &[];
    enqueue(&one, "r1", &[("3.11", none); 120]).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut n = 0;
            while let Some(c) = claim(&store, &format!("agent-{i}"), &["3.11"], &[], NOW).await {
                assert_eq!(c.job.state, SwarmJobState::Leased);
                assert_eq!(
                    c.job.agent_id.as_deref(),
                    Some(format!("agent-{i}").as_str())
                );
                got.push((c.job.id, c.job.lease_id.expect("a lease")));
                n += 1;
            }
            (n, got)
        }));
    }
    let mut seen = HashSet::new();
    let mut handed = 0;
    for t in tasks {
        let (n, got) = t.await.expect("a claimer");
        handed += n;
        for (job, lease) in got {
            assert!(seen.insert(job.clone()), "job {job} was handed out twice");
            let (leased_job, _) = one
                .swarm_lease(&lease)
                .await
                .expect("reads")
                .expect("lease");
            assert_eq!(leased_job, job);
        }
    }
    assert_eq!((handed, seen.len()), (120, 120), "every job exactly once");
}

/// Capabilities, order, quorum and lease expiry, one claim at a time.
async fn claims_keep_the_queue_rules(url: &str) {
    let store = Store::open(url).await.expect("opens");
    enqueue(
        &store,
        "old",
        &[
            ("3.13", &["redis"]),
            ("3.11", &[]),
            ("3.11", &["redis", "pg"]),
        ],
    )
    .await;
    enqueue(&store, "new", &[("3.11", &[])]).await;

    // Python and every service must be offered.
    assert!(claim(&store, "a", &["3.9"], &["redis", "pg"], NOW)
        .await
        .is_none());
    let got = claim(&store, "a", &["3.11", "3.13"], &["pg"], NOW)
        .await
        .expect("fits");
    assert_eq!(
        (got.job.run_id.as_str(), got.job.position),
        ("old", 1),
        "oldest first"
    );
    assert_eq!(
        (got.project.as_str(), got.matrix_file.as_str()),
        ("project", "ponyswarm.yaml")
    );
    let got = claim(&store, "a", &["3.11"], &["pg", "redis"], NOW)
        .await
        .expect("fits");
    assert_eq!((got.job.run_id.as_str(), got.job.position), ("old", 2));
    let got = claim(&store, "a", &["3.11"], &[], NOW).await.expect("fits");
    assert_eq!(
        got.job.run_id, "new",
        "the older run's jobs left need redis"
    );
    let first = claim(&store, "a", &["3.13"], &["redis"], NOW)
        .await
        .expect("fits");
    assert_eq!((first.job.run_id.as_str(), first.job.position), ("old", 0));
    assert!(claim(&store, "b", &["3.11", "3.13"], &["redis", "pg"], NOW)
        .await
        .is_none());

    // An agent's result keeps the job from it when it comes back for a quorum.
    answer_and_requeue(&store, &first, "a").await;
    assert!(
        claim(&store, "a", &["3.13"], &["redis"], NOW)
            .await
            .is_none(),
        "a answered that job already"
    );
    let again = claim(&store, "b", &["3.13"], &["redis"], NOW)
        .await
        .expect("b may");
    assert_eq!(again.job.id, first.job.id);

    // A lease that expired frees its job for the next claim, before queued ones.
    assert!(claim(&store, "c", &["3.13"], &["redis"], NOW + LEASE - 1)
        .await
        .is_none());
    enqueue(&store, "newest", &[("3.13", &["redis"])]).await;
    let back = claim(&store, "c", &["3.13"], &["redis"], NOW + LEASE + 1)
        .await
        .expect("expired");
    assert_eq!(back.job.id, first.job.id);
    assert!(!store
        .swarm_heartbeat(
            &again.job.lease_id.expect("lease"),
            "b",
            NOW + LEASE + 2,
            NOW + 2 * LEASE,
            None
        )
        .await
        .expect("beats"));
}

/// Claims served together (as the writer serves those waiting at once) get what they
/// would have one after another: oldest first, each agent skipping the jobs it
/// answered, each claim the jobs its own capabilities fit, and a claim whose agent
/// answered every job the batch locked still reaches an older fitting one past them.
async fn a_batch_of_claims_keeps_the_rules(url: &str) {
    let store = Store::open(url).await.expect("opens");
    let none: &[&str] = &[];
    enqueue(&store, "r", &[("3.11", none); 4]).await;
    enqueue(&store, "s", &[("3.13", none)]).await;
    // Agent a answered r-0 (a quorum of 2 wants another agent).
    let first = claim(&store, "a", &["3.11"], &[], NOW).await.expect("r-0");
    assert_eq!(first.job.id, "r-0");
    answer_and_requeue(&store, &first, "a").await;

    let req = |agent: &str, pythons: &[&str]| ClaimRequest {
        agent_id: agent.into(),
        pythons: pythons.iter().map(|p| p.to_string()).collect(),
        services: vec![],
        lease: format!("{agent}-{}", rand_suffix()),
        now: NOW,
        expires: NOW + LEASE,
    };
    // Alone, a's batch locks one job, r-0, which a answered: a still gets r-1.
    let got = store
        .swarm_claim_batch(&[req("a", &["3.11"])])
        .await
        .expect("claims");
    let ids = |got: &[Option<Claimed>]| -> Vec<Option<String>> {
        got.iter()
            .map(|c| c.as_ref().map(|c| c.job.id.clone()))
            .collect()
    };
    assert_eq!(ids(&got), [Some("r-1".to_string())]);
    answer_and_requeue(&store, got[0].as_ref().expect("r-1"), "a").await;

    // Together: a skips r-0 and r-1 (both answered), b takes the oldest, the 3.13 agent
    // its own run's job, and the last claim finds nothing left.
    let got = store
        .swarm_claim_batch(&[
            req("a", &["3.11"]),
            req("b", &["3.11"]),
            req("x", &["3.13"]),
            req("c", &["3.11"]),
            req("d", &["3.11"]),
            req("e", &["3.11"]),
        ])
        .await
        .expect("claims");
    let want = [
        Some("r-2"),
        Some("r-0"),
        Some("s-0"),
        Some("r-1"),
        Some("r-3"),
        None,
    ];
    let want: Vec<Option<String>> = want.iter().map(|w| w.map(str::to_string)).collect();
    assert_eq!(ids(&got), want);
    leases_are_recorded(&store, &got).await;

    // Claims offering the same (on PostgreSQL, served in one statement when no agent of
    // the batch answered the jobs it locks): oldest first in the order they came; with
    // an answered job among those locked, the same rule as above; more claims than jobs
    // leave the last ones empty.
    enqueue(&store, "t", &[("3.12", none); 3]).await;
    let got = store
        .swarm_claim_batch(&[req("f", &["3.12"]), req("g", &["3.12"])])
        .await
        .expect("claims");
    assert_eq!(
        ids(&got),
        [Some("t-0".to_string()), Some("t-1".to_string())]
    );
    answer_and_requeue(&store, got[0].as_ref().expect("t-0"), "f").await;
    let got = store
        .swarm_claim_batch(&[req("f", &["3.12"]), req("h", &["3.12"])])
        .await
        .expect("claims");
    assert_eq!(
        ids(&got),
        [Some("t-2".to_string()), Some("t-0".to_string())],
        "f answered t-0: h gets it, f the next"
    );
    leases_are_recorded(&store, &got).await;
    let got = store
        .swarm_claim_batch(&[req("i", &["3.12"]), req("j", &["3.12"])])
        .await
        .expect("claims");
    assert_eq!(ids(&got), [None, None], "every 3.12 job is leased");
}

/// Each job of `got` is leased, to its claimer, under a lease the store has recorded.
async fn leases_are_recorded(store: &Store, got: &[Option<Claimed>]) {
    for c in got.iter().flatten() {
        assert_eq!(c.job.state, SwarmJobState::Leased);
        let lease = c.job.lease_id.clone().expect("a lease");
        let (job, agent) = store
            .swarm_lease(&lease)
            .await
            .expect("reads")
            .expect("the lease is recorded");
        assert_eq!(
            (job, agent),
            (c.job.id.clone(), c.job.agent_id.clone().expect("agent"))
        );
    }
}

/// `agent` posts a result for `claimed` and the job goes back to the queue (a quorum
/// wants another agent).
async fn answer_and_requeue(store: &Store, claimed: &Claimed, agent: &str) {
    let lease = claimed.job.lease_id.clone().expect("a lease");
    store
        .swarm_add_result(&SwarmResult {
            lease_id: lease.clone(),
            job_id: claimed.job.id.clone(),
            agent_id: agent.into(),
            payload: "{}".into(),
            signature: "00".into(),
            status: "passed".into(),
            counted: false,
            received: NOW,
        })
        .await
        .expect("adds");
    store
        .swarm_requeue(&claimed.job.id, &lease)
        .await
        .expect("requeues");
}

async fn claim(
    store: &Store,
    agent: &str,
    pythons: &[&str],
    services: &[&str],
    now: i64,
) -> Option<Claimed> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    store
        .swarm_claim(ClaimRequest {
            agent_id: agent.into(),
            pythons: strings(pythons),
            services: strings(services),
            lease: format!("{agent}-{}", rand_suffix()),
            now,
            expires: now + LEASE,
        })
        .await
        .expect("claims")
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Queues run `id` with one job per (python, services).
async fn enqueue(store: &Store, id: &str, jobs: &[(&str, &[&str])]) {
    let result = RunResult::new(
        id.into(),
        "project".into(),
        "ponyswarm.yaml".into(),
        UNIX_EPOCH + Duration::from_secs(1_767_225_600),
    );
    store.begin_run(&result.run, &[]).await.expect("begins");
    let run = SwarmRun {
        id: id.into(),
        project: "project".into(),
        matrix_file: "ponyswarm.yaml".into(),
        state: SwarmRunState::Running,
        quorum: 1,
        origin: "submit".into(),
        commit_sha: None,
        source_sha256: "ab".repeat(32),
        created: result.run.started.clone(),
        trust: ponyswarm::run::prepare::Trust::Trusted,
    };
    let jobs: Vec<SwarmJob> = jobs
        .iter()
        .enumerate()
        .map(|(i, (python, services))| SwarmJob {
            id: format!("{id}-{i}"),
            run_id: id.into(),
            position: i,
            name: format!("job {i}"),
            python: python.to_string(),
            services: services.iter().map(|s| s.to_string()).collect(),
            allowed_failure: false,
            state: SwarmJobState::Queued,
            lease_id: None,
            agent_id: None,
            lease_expires: None,
            phase: None,
            status: None,
        })
        .collect();
    store
        .swarm_enqueue(&run, b"source", &jobs)
        .await
        .expect("enqueues");
}
