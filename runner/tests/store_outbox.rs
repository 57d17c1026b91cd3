//! The store's GitHub outbox on SQLite and on PostgreSQL: adding a status twice adds it
//! once, statuses of one context come out in order, a claim is one poster's until it
//! settles or expires, and two posters racing for the same statuses each get different
//! ones. A pull request waiting for a maintainer has a status without a run; webhook
//! deliveries are replays by id or by body; a run's trust reads back.

mod swarm_coordinator_support;

use ponyswarm::outcome::RunResult;
use ponyswarm::report::github::{CommitStatus, State};
use ponyswarm::store::outbox::{Delivery, OutboxRow, Target};
use ponyswarm::store::swarm::{SwarmRun, SwarmRunState};
use ponyswarm::store::Store;
use std::collections::HashSet;
use std::time::UNIX_EPOCH;
use swarm_coordinator_support::postgres::Server;

/// A store at `url` with one coordinator run `r1`, tracked for a commit.
async fn store_with_run(url: &str) -> (Store, Target) {
    let store = Store::open(url).await.expect("opens");
    let result = RunResult::new("r1".into(), "demo".into(), "m.yaml".into(), UNIX_EPOCH);
    store.begin_run(&result.run, &[]).await.expect("begins");
    let run = SwarmRun {
        id: "r1".into(),
        project: "demo".into(),
        matrix_file: "m.yaml".into(),
        state: SwarmRunState::Running,
        quorum: 1,
        origin: "push".into(),
        commit_sha: Some("ab".repeat(20)),
        source_sha256: "00".repeat(32),
        created: result.run.started.clone(),
        trust: ponyswarm::run::prepare::Trust::Trusted,
    };
    store.swarm_enqueue(&run, b"", &[]).await.expect("enqueues");
    let target = Target {
        run_id: "r1".into(),
        project: "demo".into(),
        repository: "o/r".into(),
        commit_sha: "ab".repeat(20),
    };
    store.outbox_track(&target).await.expect("tracks");
    store.outbox_track(&target).await.expect("tracks again");
    (store, target)
}

fn row(target: &Target, id: &str, seq: i64, context: &str, state: State) -> OutboxRow {
    OutboxRow {
        id: id.into(),
        seq,
        target: target.clone(),
        status: CommitStatus {
            state,
            context: context.into(),
            description: id.into(),
            target_url: Some(format!("http://ci/{id}")),
        },
        delivery: Delivery::Waiting,
        error: None,
    }
}

fn ids(rows: &[OutboxRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

async fn statuses_come_out_in_order_per_context_and_once(url: String) {
    let (store, t) = store_with_run(&url).await;
    assert_eq!(store.outbox_open_targets().await.unwrap(), vec![t.clone()]);
    let rows = [
        row(&t, "r1/job/0/pending", 1, "ponyswarm/a", State::Pending),
        row(&t, "r1/job/1/pending", 2, "ponyswarm/b", State::Pending),
        row(&t, "r1/job/0/final", 3, "ponyswarm/a", State::Success),
    ];
    assert_eq!(store.outbox_add(&rows).await.unwrap(), 3);
    assert_eq!(store.outbox_add(&rows).await.unwrap(), 0, "added once");
    let read = store.outbox_of_run("r1").await.unwrap();
    assert_eq!(read, rows, "read back as written");

    // a's final waits for a's pending.
    let next = store.outbox_next(100, 10).await.unwrap();
    assert_eq!(ids(&next), ["r1/job/0/pending", "r1/job/1/pending"]);

    assert!(store
        .outbox_claim("r1/job/0/pending", "one", 100, 200)
        .await
        .unwrap());
    assert!(!store
        .outbox_claim("r1/job/0/pending", "two", 150, 250)
        .await
        .unwrap());
    assert!(store
        .outbox_renew("r1/job/0/pending", "one", 300)
        .await
        .unwrap());
    assert!(!store
        .outbox_renew("r1/job/0/pending", "two", 400)
        .await
        .unwrap());
    let next = store.outbox_next(250, 10).await.unwrap();
    assert_eq!(
        ids(&next),
        ["r1/job/1/pending"],
        "claimed, and its context waits"
    );
    // The claim expires unless renewed: another poster takes it over.
    assert!(store
        .outbox_claim("r1/job/0/pending", "two", 301, 500)
        .await
        .unwrap());
    assert!(!store
        .outbox_settle("r1/job/0/pending", "one", None, 302)
        .await
        .unwrap());
    assert!(store
        .outbox_settle("r1/job/0/pending", "two", None, 303)
        .await
        .unwrap());

    let next = store.outbox_next(304, 10).await.unwrap();
    assert_eq!(ids(&next), ["r1/job/1/pending", "r1/job/0/final"]);
    assert!(store
        .outbox_claim("r1/job/0/final", "one", 304, 900)
        .await
        .unwrap());
    let why = "HTTP 422: Validation Failed";
    assert!(store
        .outbox_settle("r1/job/0/final", "one", Some(why), 305)
        .await
        .unwrap());
    let settled = store.outbox_of_run("r1").await.unwrap();
    let deliveries: Vec<_> = settled
        .iter()
        .map(|r| (r.delivery, r.error.as_deref()))
        .collect();
    assert_eq!(
        deliveries,
        [
            (Delivery::Posted, None),
            (Delivery::Waiting, None),
            (Delivery::Failed, Some(why)),
        ]
    );
    store.outbox_complete("r1").await.unwrap();
    assert!(store.outbox_open_targets().await.unwrap().is_empty());
}

async fn racing_posters_claim_each_status_once(url: String) {
    let (store, t) = store_with_run(&url).await;
    let rows: Vec<OutboxRow> = (0..40)
        .map(|i| {
            let id = format!("r1/job/{i}/pending");
            row(&t, &id, i, &format!("ponyswarm/{i}"), State::Pending)
        })
        .collect();
    store.outbox_add(&rows).await.unwrap();
    let mut tasks = Vec::new();
    for poster in 0..4 {
        let store = Store::open(&url).await.expect("a second pool");
        tasks.push(tokio::spawn(async move {
            let me = format!("poster-{poster}");
            let mut won = Vec::new();
            loop {
                let next = store.outbox_next(1000, 8).await.unwrap();
                if next.is_empty() {
                    return won;
                }
                for r in next {
                    if store.outbox_claim(&r.id, &me, 1000, 60_000).await.unwrap() {
                        assert!(store.outbox_settle(&r.id, &me, None, 1001).await.unwrap());
                        won.push(r.id);
                    }
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a status was claimed twice");
    assert_eq!(all.len(), 40);
}

async fn gate_statuses_replays_and_trust(url: String) {
    use ponyswarm::run::prepare::Trust;
    use ponyswarm::store::swarm::DeliverySeen;
    let (store, t) = store_with_run(&url).await;
    // A status about no run (a pull request at the gate) goes through the same outbox.
    let gate = Target {
        run_id: "gate/d-1".into(),
        ..t.clone()
    };
    let waiting = row(
        &gate,
        "gate/d-1/waiting",
        1,
        "ponyswarm:gate",
        State::Pending,
    );
    assert_eq!(
        store
            .outbox_add(std::slice::from_ref(&waiting))
            .await
            .unwrap(),
        1
    );
    let next = store.outbox_next(1000, 8).await.unwrap();
    assert_eq!(next, [waiting]);

    let seen = |id: &'static str, body: &'static str| {
        let store = store.clone();
        async move {
            store
                .swarm_record_delivery(id, "push", "o/r", "now", body)
                .await
                .unwrap()
        }
    };
    assert_eq!(seen("d-1", "aa").await, DeliverySeen::New);
    assert_eq!(seen("d-1", "aa").await, DeliverySeen::SameId);
    assert_eq!(seen("d-2", "aa").await, DeliverySeen::SameBody);
    assert_eq!(seen("d-1", "bb").await, DeliverySeen::SameId);
    assert_eq!(seen("d-3", "bb").await, DeliverySeen::New);

    assert_eq!(
        store.swarm_run("r1").await.unwrap().unwrap().trust,
        Trust::Trusted
    );
    let result = RunResult::new("r2".into(), "demo".into(), "m.yaml".into(), UNIX_EPOCH);
    store.begin_run(&result.run, &[]).await.unwrap();
    let mut run = store.swarm_run("r1").await.unwrap().unwrap();
    run.id = "r2".into();
    run.trust = Trust::Untrusted;
    store.swarm_enqueue(&run, b"", &[]).await.unwrap();
    assert_eq!(
        store.swarm_run("r2").await.unwrap().unwrap().trust,
        Trust::Untrusted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    statuses_come_out_in_order_per_context_and_once(db("order.db")).await;
    racing_posters_claim_each_status_once(db("race.db")).await;
    gate_statuses_replays_and_trust(db("gate.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_on_postgres() {
    let Some(server) = Server::any_or_skip() else {
        return;
    };
    let pid = std::process::id();
    let url = server
        .fresh_database(&format!("ponyswarm_outbox_order_{pid}"))
        .await;
    statuses_come_out_in_order_per_context_and_once(url).await;
    let url = server
        .fresh_database(&format!("ponyswarm_outbox_race_{pid}"))
        .await;
    racing_posters_claim_each_status_once(url).await;
    let url = server
        .fresh_database(&format!("ponyswarm_outbox_gate_{pid}"))
        .await;
    gate_statuses_replays_and_trust(url).await;
}
