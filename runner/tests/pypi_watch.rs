//! The PyPI watcher against a local index served by a real HTTP server: following the
//! XML-RPC changelog, or the RSS feed where there is none, with its checkpoint and
//! queue in a real store; restarted mid-stream, it processes each release exactly once.

#[path = "swarm_coordinator_support/postgres.rs"]
mod postgres;
mod pypi_support;

use ponyswarm::pypi::index::retry::Backoff;
use ponyswarm::pypi::index::Index;
use ponyswarm::pypi::quality::{self, Score};
use ponyswarm::pypi::watch::{self, Announced, Processed, Start, WatchOptions};
use ponyswarm::store::{Checkpoint, QueueState, Store};
use pypi_support::index::{FixtureRelease, LocalIndex};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn release(name: &str, version: &str) -> FixtureRelease {
    FixtureRelease {
        name: name.into(),
        version: version.into(),
        files: Vec::new(),
        metadata: serde_json::json!({"summary": format!("{name} for the watcher")}),
    }
}

fn pair(name: &str, version: &str) -> (String, String) {
    (name.to_string(), version.to_string())
}

fn index(local: &LocalIndex) -> Index {
    let client =
        ponyswarm::http::client(&ponyswarm::sandbox::egress::Egress::none()).expect("a client");
    Index::new(&local.url(), client).expect("a valid URL")
}

fn options() -> WatchOptions {
    WatchOptions {
        poll_interval: Duration::from_millis(100),
        filters: vec![glob::Pattern::new("pony-*").expect("a glob")],
        jobs: 1,
        backoff: Backoff {
            retries: 2,
            base: Duration::from_millis(20),
            max: Duration::from_secs(1),
        },
        start: Start::Latest,
    }
}

/// The releases recorded as seen but not processed.
async fn skipped(db: &str, key: &str) -> Vec<String> {
    let store = Store::open(db).await.expect("opens the store");
    let rows = store.queued_releases(key).await.expect("reads the queue");
    store.close().await;
    rows.into_iter()
        .filter(|r| r.state == QueueState::Skipped)
        .map(|r| r.name)
        .collect()
}

/// Polls `check` until it holds; a watcher that never gets there fails the test after
/// a generous minute instead of hanging it.
async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..1200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting for {what}");
}

/// A processor that records each release, reports it on `tx`, and finishes only when
/// `gate` gives it a permit.
fn processor(
    seen: Seen,
    tx: mpsc::UnboundedSender<Announced>,
    gate: Arc<Semaphore>,
) -> impl Fn(Announced) -> std::pin::Pin<Box<dyn Future<Output = Processed> + Send>> + Send + Sync {
    move |job: Announced| {
        let (seen, tx, gate) = (seen.clone(), tx.clone(), gate.clone());
        Box::pin(async move {
            seen.lock()
                .expect("not poisoned")
                .push((job.name.clone(), job.version.clone()));
            let _ = tx.send(job);
            match gate.acquire().await {
                Ok(permit) => permit.forget(),
                Err(_) => return Processed::Interrupted,
            }
            Processed::Done
        })
    }
}

fn seen(seen: &Seen) -> Vec<(String, String)> {
    seen.lock().expect("not poisoned").clone()
}

async fn states(store: &Store, key: &str) -> Vec<(String, String, QueueState)> {
    store
        .queued_releases(key)
        .await
        .expect("reads the queue")
        .into_iter()
        // Releases the RSS feed held before the first start: seen, never processed.
        .filter(|r| r.state != QueueState::Skipped)
        .map(|r| (r.name, r.version, r.state))
        .collect()
}

/// Starts, publishes three releases, stops while the first is being processed and the
/// others wait; publishes one more while stopped; restarts. Returns what each run
/// processed.
async fn restart_mid_stream(
    local: &LocalIndex,
    db: &str,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let index = index(local);
    let key = index.url().to_string();
    let store = Store::open(db).await.expect("opens the store");

    let (first, (tx, mut rx), gate) = (
        Seen::default(),
        mpsc::unbounded_channel(),
        Arc::new(Semaphore::new(0)),
    );
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (index, store, cancel) = (index.clone(), store.clone(), cancel.clone());
        let process = processor(first.clone(), tx, gate.clone());
        async move { watch::watch(&index, &store, &options(), process, cancel).await }
    });
    wait_for("the first checkpoint", || async {
        store.pypi_checkpoint(&key).await.expect("reads").is_some()
    })
    .await;
    for (name, version) in [
        ("pony-b", "1.0"),
        ("zebra", "1.0"),
        ("pony-c", "1.0"),
        ("pony-d", "2.0"),
    ] {
        local.publish(release(name, version));
    }
    let job = rx.recv().await.expect("a release to process");
    assert_eq!((job.name.as_str(), job.version.as_str()), ("pony-b", "1.0"));
    wait_for("the rest to be queued", || async {
        states(&store, &key).await.len() == 3
    })
    .await;
    cancel.cancel();
    gate.add_permits(1);
    run.await.expect("the watcher ends").expect("watches");
    assert_eq!(
        states(&store, &key).await,
        vec![
            ("pony-b".into(), "1.0".into(), QueueState::Done),
            ("pony-c".into(), "1.0".into(), QueueState::Queued),
            ("pony-d".into(), "2.0".into(), QueueState::Queued),
        ],
        "stopped mid-stream"
    );

    local.publish(release("pony-e", "0.1"));
    let (second, (tx, _rx)) = (Seen::default(), mpsc::unbounded_channel());
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (index, store, cancel) = (index.clone(), store.clone(), cancel.clone());
        let process = processor(second.clone(), tx, Arc::new(Semaphore::new(1000)));
        async move { watch::watch(&index, &store, &options(), process, cancel).await }
    });
    wait_for("the rest to be processed", || async {
        states(&store, &key)
            .await
            .iter()
            .filter(|s| s.2 == QueueState::Done)
            .count()
            == 4
    })
    .await;
    // A few more polls, which must find nothing new.
    let polls = local.log().len();
    wait_for("more polls", || async { local.log().len() >= polls + 3 }).await;
    cancel.cancel();
    run.await.expect("the watcher ends").expect("watches");
    store.close().await;
    (seen(&first), seen(&second))
}

#[tokio::test]
async fn changelog_watcher_restarted_mid_stream_processes_each_release_once() {
    let local = LocalIndex::start(vec![release("pony-a", "1.0")]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = format!("sqlite://{}", dir.path().join("watch.db").display());
    let (first, second) = restart_mid_stream(&local, &db).await;
    assert_eq!(first, vec![pair("pony-b", "1.0")]);
    assert_eq!(
        second,
        vec![
            pair("pony-c", "1.0"),
            pair("pony-d", "2.0"),
            pair("pony-e", "0.1")
        ]
    );
    let log = local.log();
    assert!(
        log.iter().any(|l| l.method == "POST" && l.path == "/pypi"),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.path.starts_with("/rss")),
        "the changelog suffices: {log:?}"
    );
    assert!(skipped(&db, &format!("{}/", local.url())).await.is_empty());
}

#[tokio::test]
async fn rss_watcher_restarted_mid_stream_processes_each_release_once_with_conditional_polls() {
    let local = LocalIndex::start(vec![release("pony-a", "1.0")]);
    local.set_changelog(false);
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = format!("sqlite://{}", dir.path().join("watch.db").display());
    let (first, second) = restart_mid_stream(&local, &db).await;
    assert_eq!(first, vec![pair("pony-b", "1.0")]);
    assert_eq!(
        second,
        vec![
            pair("pony-c", "1.0"),
            pair("pony-d", "2.0"),
            pair("pony-e", "0.1")
        ]
    );
    let feed: Vec<u16> = local
        .log()
        .iter()
        .filter(|l| l.path == "/rss/updates.xml")
        .map(|l| l.status)
        .collect();
    assert!(
        feed.contains(&304),
        "unchanged feeds are not sent again: {feed:?}"
    );
    let key = format!("{}/", local.url());
    assert_eq!(
        skipped(&db, &key).await,
        vec!["pony-a"],
        "in the feed before the start"
    );
    assert!(feed.contains(&200), "{feed:?}");
}

// ---- the store's side, on SQLite and PostgreSQL ----

fn score(total: u32) -> Score {
    let mut s = quality::score(&Default::default(), &Default::default());
    s.total = total;
    s
}

async fn queue_and_reports(url: &str) {
    let store = Store::open(url).await.expect("opens");
    let key = "https://index.example/";
    let cp = |n: &str| Checkpoint {
        source: "changelog".into(),
        position: n.into(),
    };
    assert_eq!(store.pypi_checkpoint(key).await.expect("reads"), None);
    let added = store
        .enqueue_releases(
            key,
            &[pair("a", "1"), pair("b", "1")],
            QueueState::Queued,
            Some(&cp("5")),
        )
        .await
        .expect("queues");
    assert_eq!(added, 2);
    let added = store
        .enqueue_releases(
            key,
            &[pair("a", "1"), pair("c", "1")],
            QueueState::Queued,
            Some(&cp("9")),
        )
        .await
        .expect("queues");
    assert_eq!(added, 1, "a release is queued once");
    assert_eq!(
        store.pypi_checkpoint(key).await.expect("reads"),
        Some(cp("9"))
    );
    assert_eq!(
        store
            .pypi_checkpoint("https://other/")
            .await
            .expect("reads"),
        None
    );

    let claim = || async { store.claim_release(key).await.expect("claims") };
    assert_eq!(claim().await, Some(pair("a", "1")));
    assert_eq!(claim().await, Some(pair("b", "1")));
    store
        .finish_release(key, "a", "1", QueueState::Done, None)
        .await
        .expect("finishes");
    assert_eq!(
        store.requeue_running_releases(key).await.expect("requeues"),
        1
    );
    assert_eq!(claim().await, Some(pair("b", "1")), "b again, before c");
    assert_eq!(claim().await, Some(pair("c", "1")));
    assert_eq!(claim().await, None);
    store
        .finish_release(
            key,
            "b",
            "1",
            QueueState::Failed,
            Some("the index went away"),
        )
        .await
        .expect("finishes");
    store
        .finish_release(key, "c", "1", QueueState::Done, None)
        .await
        .expect("finishes");
    let rows = store.queued_releases(key).await.expect("reads");
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.state, r.detail.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a", QueueState::Done, None),
            ("b", QueueState::Failed, Some("the index went away")),
            ("c", QueueState::Done, None),
        ]
    );

    assert_eq!(
        store.load_release_report("a", "1").await.expect("reads"),
        None
    );
    store
        .save_release_report("a", "1", r#"{"v": 1}"#, Some(&score(40)))
        .await
        .expect("saves");
    store
        .save_release_report("a", "1", r#"{"v": 2}"#, None)
        .await
        .expect("saves again");
    assert_eq!(
        store
            .load_release_report("a", "1")
            .await
            .expect("reads")
            .as_deref(),
        Some(r#"{"v": 2}"#)
    );
    store.close().await;
}

#[tokio::test]
async fn queue_and_reports_on_sqlite() {
    let dir = tempfile::tempdir().expect("a temp dir");
    queue_and_reports(&format!("sqlite://{}", dir.path().join("q.db").display())).await;
}

#[tokio::test]
async fn queue_and_reports_on_postgres() {
    let Some(server) = postgres::Server::any() else {
        eprintln!("SKIPPED queue_and_reports_on_postgres: no PostgreSQL (see tests/store.rs)");
        return;
    };
    let url = server
        .fresh_database(&format!("ponyswarm_pypi_{}", std::process::id()))
        .await;
    queue_and_reports(&url).await;
}
