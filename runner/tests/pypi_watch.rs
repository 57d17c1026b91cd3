//! The PyPI watcher against a local index served by a real HTTP server: following the
//! XML-RPC changelog, or the RSS feed where there is none, with its checkpoint and
//! queue in a real store; restarted mid-stream, it processes each release exactly once.
//! Following named projects on an index with neither, through their pages, with
//! conditional requests.

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
        projects: Vec::new(),
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

// ---- named projects, on an index without changelog or RSS ----

/// A release with one file (any bytes: the watcher only reads its name), since a
/// project page lists versions through their files.
fn release_with_file(dir: &std::path::Path, name: &str, version: &str) -> FixtureRelease {
    let path = dir.join(format!("{}-{version}.tar.gz", name.replace('-', "_")));
    std::fs::write(&path, format!("{name} {version}")).expect("writes the file");
    FixtureRelease {
        files: vec![path],
        ..release(name, version)
    }
}

fn project_options(projects: &[&str]) -> WatchOptions {
    WatchOptions {
        filters: Vec::new(),
        projects: projects.iter().map(|p| p.to_string()).collect(),
        ..options()
    }
}

/// A watcher of `projects` that processes every release at once; cancel the token
/// and await the handle to stop it.
fn watch_projects(
    local: &LocalIndex,
    store: &Store,
    projects: &[&str],
) -> (
    tokio::task::JoinHandle<Result<(), watch::WatchError>>,
    CancellationToken,
    Seen,
) {
    let (processed, (tx, _rx)) = (Seen::default(), mpsc::unbounded_channel());
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (index, store, cancel) = (index(local), store.clone(), cancel.clone());
        let opts = project_options(projects);
        let process = processor(processed.clone(), tx, Arc::new(Semaphore::new(1000)));
        async move { watch::watch(&index, &store, &opts, process, cancel).await }
    });
    (run, cancel, processed)
}

/// An index with project pages only: no changelog, no RSS feed.
fn pages_only_index(releases: Vec<FixtureRelease>) -> LocalIndex {
    let local = LocalIndex::start(releases);
    local.set_changelog(false);
    local.set_rss(false);
    local
}

#[tokio::test]
async fn project_watcher_tests_new_releases_of_watched_projects_and_unchanged_ones_cost_a_304() {
    let files = tempfile::tempdir().expect("a temp dir");
    let local = pages_only_index(vec![
        release_with_file(files.path(), "pony-a", "1.0"),
        release_with_file(files.path(), "Pony_B", "1.0"),
        release_with_file(files.path(), "zebra", "1.0"),
    ]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = format!("sqlite://{}", dir.path().join("watch.db").display());
    let store = Store::open(&db).await.expect("opens the store");
    let key = format!("{}/", local.url());
    let (a, b) = ("/pypi/pony-a/json", "/pypi/pony-b/json");

    let (run, cancel, processed) = watch_projects(&local, &store, &["pony-a", "pony-b"]);
    wait_for("both projects asked again, unchanged", || async {
        local.not_modified(a) >= 1 && local.not_modified(b) >= 1
    })
    .await;
    local.publish(release_with_file(files.path(), "pony-a", "1.1"));
    local.publish(release_with_file(files.path(), "zebra", "2.0"));
    wait_for("the new release", || async { !seen(&processed).is_empty() }).await;
    let unchanged = local.not_modified(a);
    wait_for("more polls", || async {
        local.not_modified(a) >= unchanged + 2
    })
    .await;
    cancel.cancel();
    run.await.expect("the watcher ends").expect("watches");

    assert_eq!(seen(&processed), vec![pair("pony-a", "1.1")]);
    let queue: Vec<(String, String, QueueState)> = store
        .queued_releases(&key)
        .await
        .expect("reads the queue")
        .into_iter()
        .map(|r| (r.name, r.version, r.state))
        .collect();
    assert_eq!(
        queue,
        vec![
            ("pony-a".into(), "1.0".into(), QueueState::Skipped),
            ("pony-b".into(), "1.0".into(), QueueState::Skipped),
            ("pony-a".into(), "1.1".into(), QueueState::Done),
        ],
        "what the projects had at the start is not tested; zebra is not watched"
    );
    let log = local.log();
    assert!(
        !log.iter().any(|l| l.path.contains("zebra")),
        "an unwatched project is never asked for: {log:?}"
    );
    assert!(
        !log.iter()
            .any(|l| l.path == "/pypi" || l.path.starts_with("/rss")),
        "no feed is needed: {log:?}"
    );
    let full_b = log
        .iter()
        .filter(|l| l.path == b && l.status == 200)
        .count();
    assert_eq!(
        full_b, 1,
        "pony-b never changed: one full answer, then 304s: {log:?}"
    );
    let pony_b = store.watched_project(&key, "pony-b").await.expect("reads");
    assert_eq!(pony_b.map(|p| p.versions), Some(vec!["1.0".to_string()]));
    store.close().await;
}

#[tokio::test]
async fn project_watcher_follows_a_simple_html_index_by_last_modified_across_restarts() {
    let files = tempfile::tempdir().expect("a temp dir");
    let local = pages_only_index(vec![release_with_file(files.path(), "pony-a", "1.0")]);
    local.set_json_api(false);
    local.set_simple_json(false);
    local.set_project_etags(false);
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = format!("sqlite://{}", dir.path().join("watch.db").display());
    let store = Store::open(&db).await.expect("opens the store");
    let key = format!("{}/", local.url());
    let page = "/simple/pony-a/";

    let (run, cancel, first) = watch_projects(&local, &store, &["pony-a"]);
    wait_for("a 304", || async { local.not_modified(page) >= 1 }).await;
    cancel.cancel();
    run.await.expect("the watcher ends").expect("watches");
    assert!(seen(&first).is_empty(), "1.0 was there before the start");

    // Restarted, the watcher asks with what the store kept: still unchanged.
    let asked = local.log().iter().filter(|l| l.path == page).count();
    let (run, cancel, second) = watch_projects(&local, &store, &["pony-a"]);
    wait_for("a poll after the restart", || async {
        local.log().iter().filter(|l| l.path == page).count() > asked
    })
    .await;
    let log = local.log();
    let first_after = log.iter().filter(|l| l.path == page).nth(asked);
    assert_eq!(first_after.map(|l| l.status), Some(304), "{log:?}");
    // Last-Modified counts seconds: upload in the next one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    local.publish(release_with_file(files.path(), "pony-a", "1.1"));
    wait_for("the new release", || async { !seen(&second).is_empty() }).await;
    cancel.cancel();
    run.await.expect("the watcher ends").expect("watches");

    assert_eq!(seen(&second), vec![pair("pony-a", "1.1")]);
    let log = local.log();
    assert_eq!(
        log.iter().filter(|l| l.path == "/pypi/pony-a/json").count(),
        1,
        "the JSON API is asked once, then known to be missing: {log:?}"
    );
    let state = store
        .watched_project(&key, "pony-a")
        .await
        .expect("reads")
        .expect("followed");
    assert_eq!(state.api, "simple");
    assert!(
        state.etag.is_none() && state.last_modified.is_some(),
        "{state:?}"
    );
    assert_eq!(state.versions, vec!["1.0".to_string(), "1.1".to_string()]);
    store.close().await;
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

    // A followed project: its state replaced at each poll, its releases queued once.
    assert_eq!(store.watched_project(key, "p").await.expect("reads"), None);
    let mut project = ponyswarm::store::WatchedProject {
        name: "p".into(),
        api: "json".into(),
        etag: Some("\"p-1\"".into()),
        last_modified: None,
        versions: vec!["1.0".into()],
    };
    let added = store
        .record_watched_project(key, &project, &[pair("p", "1.0")], QueueState::Skipped)
        .await
        .expect("records");
    assert_eq!(added, 1);
    project.versions.push("1.1".into());
    project.last_modified = Some("Mon, 30 Nov 2026 01:00:00 GMT".into());
    let added = store
        .record_watched_project(
            key,
            &project,
            &[pair("p", "1.0"), pair("p", "1.1")],
            QueueState::Queued,
        )
        .await
        .expect("records");
    assert_eq!(added, 1, "1.0 was seen already");
    assert_eq!(
        store.watched_project(key, "p").await.expect("reads"),
        Some(project)
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
