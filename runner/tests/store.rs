//! The store against the real databases: SQLite in a temporary file, and a real
//! PostgreSQL — the one `PONYSWARM_TEST_POSTGRES` names (a `postgres://` URL whose user
//! may create databases), or else one this test starts itself with `initdb` and
//! `pg_ctl` (Debian's `postgresql` package) in a temporary directory on a free port.
//!
//! Every scenario runs on both backends, each on a fresh database.

use ponyswarm::matrix::{Combination, Value};
use ponyswarm::outcome::{JobOutcome, RunInfo, RunResult, Status, Tests};
use ponyswarm::sandbox::changes::{ChangeKind, InstallChange};
use ponyswarm::store::{RunOwner, Store, StoreError};
use ponyswarm::testresults::Failure;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Scenario = fn(String) -> Pin<Box<dyn Future<Output = ()>>>;

/// Every scenario, by name.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("a_run_reads_back_as_recorded", |u| {
        Box::pin(a_run_reads_back_as_recorded(u))
    }),
    ("recording_a_job_again_replaces_it", |u| {
        Box::pin(recording_a_job_again_replaces_it(u))
    }),
    ("unplanned_jobs_sort_after_planned_ones", |u| {
        Box::pin(unplanned_jobs_sort_after_planned_ones(u))
    }),
    ("dead_runs_are_marked_interrupted", |u| {
        Box::pin(dead_runs_are_marked_interrupted(u))
    }),
    ("previous_run_is_the_last_finished_of_the_matrix", |u| {
        Box::pin(previous_run_is_the_last_finished_of_the_matrix(u))
    }),
    ("runs_list_newest_first_with_counts", |u| {
        Box::pin(runs_list_newest_first_with_counts(u))
    }),
    ("reopening_migrates_once", |u| {
        Box::pin(reopening_migrates_once(u))
    }),
    ("mistakes_are_errors", |u| Box::pin(mistakes_are_errors(u))),
    ("a_key_registers_as_one_agent", |u| {
        Box::pin(a_key_registers_as_one_agent(u))
    }),
    ("one_key_registering_at_once_is_one_agent", |u| {
        Box::pin(one_key_registering_at_once_is_one_agent(u))
    }),
];

#[tokio::test]
async fn store_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, (name, scenario)) in SCENARIOS.iter().enumerate() {
        eprintln!("sqlite: {name}");
        // A subdirectory that does not exist yet: the store creates it.
        let url = format!("sqlite://{}/{i}/ponyswarm.db", dir.path().display());
        scenario(url).await;
    }
}

#[tokio::test]
async fn store_on_postgres() {
    let server = match std::env::var("PONYSWARM_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Server::External(url),
        _ => match Server::start() {
            Some(server) => server,
            None => {
                // In CI a missing server is a failure, not a skip: .ci/run installs it.
                assert!(
                    std::env::var_os("CI").is_none(),
                    "no PostgreSQL server binaries in CI: .ci/run must install Debian's `postgresql`"
                );
                eprintln!(
                    "\n!!!!!!!! SKIPPED store_on_postgres: no PostgreSQL server binaries \
                     (initdb, pg_ctl) under /usr/lib/postgresql/*/bin and \
                     PONYSWARM_TEST_POSTGRES unset. Install Debian's `postgresql`. !!!!!!!!\n"
                );
                return;
            }
        },
    };
    for (i, (name, scenario)) in SCENARIOS.iter().enumerate() {
        eprintln!("postgres: {name}");
        let url = server
            .fresh_database(&format!("ponyswarm_test_{}_{i}", std::process::id()))
            .await;
        scenario(url).await;
    }
}

// ---- scenarios ----

async fn a_run_reads_back_as_recorded(url: String) {
    let store = Store::open(&url).await.expect("opens");
    let mut run = run_info("r1", "demo", 100);
    let jobs = [
        job("3.11", Status::Passed),
        job("3.12", Status::Failed),
        job("3.13", Status::InstallFailed),
    ];
    store
        .begin_run(&run, &planned(&jobs))
        .await
        .expect("begins");
    // Jobs end out of order; the store keeps expansion order.
    for j in [&jobs[2], &jobs[0], &jobs[1]] {
        store
            .job_started(&run.id, &j.name, SystemTime::now())
            .await
            .expect("started");
        store.record_job(&run.id, j).await.expect("records");
    }
    run.finished = Some("2026-01-01T00:02:00Z".into());
    run.status = Status::Failed;
    run.exit_code = 1;
    store.finish_run(&run).await.expect("finishes");
    let loaded = store.load_run("r1").await.expect("loads");
    let want = RunResult {
        run,
        jobs: jobs.to_vec(),
    };
    assert_eq!(loaded, want);
    // IndexMap's `==` ignores order; axis and phase order matter to reports.
    let order = |r: &RunResult| -> Vec<Vec<String>> {
        r.jobs
            .iter()
            .flat_map(|j| {
                [
                    j.matrix.keys().cloned().collect(),
                    j.phases.keys().cloned().collect(),
                    j.images.keys().cloned().collect(),
                ]
            })
            .collect()
    };
    assert_eq!(order(&loaded), order(&want));
}

async fn recording_a_job_again_replaces_it(url: String) {
    let store = Store::open(&url).await.expect("opens");
    let run = run_info("r1", "demo", 100);
    let first = job("3.12", Status::Failed);
    store
        .begin_run(&run, &planned(std::slice::from_ref(&first)))
        .await
        .expect("begins");
    store.record_job(&run.id, &first).await.expect("records");
    let mut retried = job("3.12", Status::Passed);
    retried.failures.clear();
    retried.install_changes.truncate(1);
    retried.log = "second try".into();
    store
        .record_job(&run.id, &retried)
        .await
        .expect("records again");
    assert_eq!(store.load_run("r1").await.expect("loads").jobs, [retried]);
}

async fn unplanned_jobs_sort_after_planned_ones(url: String) {
    let store = Store::open(&url).await.expect("opens");
    let run = run_info("r1", "demo", 100);
    let (a, b, extra) = (
        job("3.11", Status::Passed),
        job("3.12", Status::Passed),
        job("pypy", Status::Passed),
    );
    store
        .begin_run(&run, &planned(&[a.clone(), b.clone()]))
        .await
        .expect("begins");
    store
        .record_job(&run.id, &extra)
        .await
        .expect("records unplanned");
    store.record_job(&run.id, &b).await.expect("records");
    store.record_job(&run.id, &a).await.expect("records");
    let names: Vec<String> = store
        .load_run("r1")
        .await
        .expect("loads")
        .jobs
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(names, [a.name, b.name, extra.name]);
}

async fn dead_runs_are_marked_interrupted(url: String) {
    let dead = RunOwner {
        pid: dead_pid(),
        ..RunOwner::current()
    };
    let crashed = Store::open(&url).await.expect("opens").with_owner(dead);
    let run = run_info("crashed", "demo", 100);
    let jobs = [
        job("3.11", Status::Passed),
        job("3.12", Status::Failed),
        job("3.13", Status::Passed),
    ];
    crashed
        .begin_run(&run, &planned(&jobs))
        .await
        .expect("begins");
    crashed
        .record_job(&run.id, &jobs[0])
        .await
        .expect("records");
    crashed
        .job_started(&run.id, &jobs[1].name, SystemTime::now())
        .await
        .expect("started");
    // A run of this very process is alive and must be left alone.
    let alive = Store::open(&url).await.expect("opens");
    alive
        .begin_run(&run_info("alive", "demo", 200), &planned(&jobs))
        .await
        .expect("begins");

    // Before marking, a report sees only the ended job; the run is still "going".
    let going = alive.load_run("crashed").await.expect("loads");
    assert_eq!(going.jobs.len(), 1);
    assert_eq!(going.run.finished, None);

    assert_eq!(alive.mark_interrupted().await.expect("marks"), ["crashed"]);
    assert_eq!(
        alive.mark_interrupted().await.expect("marks"),
        Vec::<String>::new()
    );
    let loaded = alive.load_run("crashed").await.expect("loads");
    assert_eq!(
        loaded.run.status,
        Status::Cancelled,
        "an interrupted run reads as cancelled"
    );
    let got: Vec<(Status, Option<&str>)> = loaded
        .jobs
        .iter()
        .map(|j| (j.status, j.detail.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Status::Passed, None),
            (
                Status::Cancelled,
                Some("interrupted: ponyswarm stopped while this job ran")
            ),
            (
                Status::Cancelled,
                Some("interrupted: ponyswarm stopped before this job started")
            ),
        ]
    );
    let runs = alive.list_runs(10).await.expect("lists");
    let crashed_line = runs
        .iter()
        .find(|r| r.info.id == "crashed")
        .expect("listed");
    assert!(crashed_line.interrupted);
    assert_eq!(crashed_line.by_status.get("interrupted"), Some(&2));
    assert!(
        !runs
            .iter()
            .find(|r| r.info.id == "alive")
            .expect("listed")
            .interrupted
    );
}

async fn previous_run_is_the_last_finished_of_the_matrix(url: String) {
    let store = Store::open(&url).await.expect("opens");
    let plain = |id: &str, name: &str, at: u64| run_info(id, name, at);
    // r1 and r2 start in the same second: insertion order decides.
    for (id, name, at, finish) in [
        ("r1", "demo", 100, true),
        ("r2", "demo", 100, true),
        ("other", "other", 150, true),
        ("r3", "demo", 200, false),
        ("r4", "demo", 300, true),
    ] {
        let mut run = plain(id, name, at);
        let j = job("3.12", Status::Failed);
        store
            .begin_run(&run, &planned(std::slice::from_ref(&j)))
            .await
            .expect("begins");
        store.record_job(id, &j).await.expect("records");
        if finish {
            run.finished = Some(run.started.clone());
            run.status = Status::Failed;
            run.exit_code = 1;
            store.finish_run(&run).await.expect("finishes");
        }
    }
    let previous = |before: &'static str| {
        let store = store.clone();
        async move {
            store
                .previous_run("demo", before)
                .await
                .expect("queries")
                .map(|r| (r.run.id, r.jobs.iter().all(|j| j.log.is_empty())))
        }
    };
    // r3 never finished: r4 compares with r2. Logs are not loaded for a comparison.
    assert_eq!(previous("r4").await, Some(("r2".to_string(), true)));
    assert_eq!(previous("r2").await, Some(("r1".to_string(), true)));
    assert_eq!(previous("r1").await, None);
    // A run the store does not know compares with the newest finished one.
    assert_eq!(previous("unknown").await, Some(("r4".to_string(), true)));
}

async fn runs_list_newest_first_with_counts(url: String) {
    let store = Store::open(&url).await.expect("opens");
    for (id, at) in [("old", 100), ("new", 200)] {
        let run = run_info(id, "demo", at);
        let jobs = [
            job("3.11", Status::Passed),
            job("3.12", Status::Failed),
            job("3.13", Status::Passed),
        ];
        store
            .begin_run(&run, &planned(&jobs))
            .await
            .expect("begins");
        for j in &jobs[..2] {
            store.record_job(id, j).await.expect("records");
        }
    }
    let runs = store.list_runs(10).await.expect("lists");
    let ids: Vec<&str> = runs.iter().map(|r| r.info.id.as_str()).collect();
    assert_eq!(ids, ["new", "old"]);
    assert_eq!(runs[0].jobs, 3);
    let counts: Vec<(&str, usize)> = runs[0]
        .by_status
        .iter()
        .map(|(s, n)| (s.as_str(), *n))
        .collect();
    assert_eq!(counts, [("failed", 1), ("passed", 1)]);
    assert_eq!(store.list_runs(1).await.expect("lists").len(), 1);
}

async fn reopening_migrates_once(url: String) {
    let store = Store::open(&url).await.expect("opens");
    store
        .begin_run(&run_info("r1", "demo", 1), &[])
        .await
        .expect("begins");
    store.close().await;
    let again = Store::open(&url).await.expect("reopens");
    assert_eq!(again.list_runs(5).await.expect("lists").len(), 1);
}

async fn a_key_registers_as_one_agent(url: String) {
    use ponyswarm::store::swarm::AgentRow;
    let store = Store::open(&url).await.expect("opens");
    let row = |id: &str, key: &str, token: &str, operator: &str| AgentRow {
        id: id.into(),
        name: format!("name-{id}"),
        public_key: key.into(),
        token_hash: token.into(),
        capabilities: "{}".into(),
        registered: "2026-11-30T00:00:00Z".into(),
        operator: Some(operator.into()),
    };
    let reg = |r: AgentRow| {
        let store = &store;
        async move { store.swarm_register_agent(&r).await.expect("registers") }
    };
    assert_eq!(reg(row("a1", "k1", "t1", "op1")).await, "a1");
    assert_eq!(reg(row("b1", "k2", "t2", "op1")).await, "b1", "a new key");
    assert_eq!(
        reg(row("a2", "k1", "t3", "op2")).await,
        "a1",
        "the same key keeps its id"
    );
    let a = store.swarm_agent("a1").await.expect("reads").expect("a1");
    assert_eq!((a.name.as_str(), a.token_hash.as_str()), ("name-a2", "t3"));
    assert_eq!(a.operator.as_deref(), Some("op2"));
    assert!(store.swarm_agent("a2").await.expect("reads").is_none());
    assert!(
        store
            .swarm_agent_by_token("t1")
            .await
            .expect("reads")
            .is_none(),
        "the old token no longer works"
    );
}

async fn one_key_registering_at_once_is_one_agent(url: String) {
    use ponyswarm::store::swarm::AgentRow;
    let store = Store::open(&url).await.expect("opens");
    // The unique index on the key, not a look-up before the insert, keeps it one row.
    let registrations = (0..8).map(|i| {
        let store = store.clone();
        let row = AgentRow {
            id: format!("a{i}"),
            name: format!("try-{i}"),
            public_key: "k".into(),
            token_hash: format!("t{i}"),
            capabilities: "{}".into(),
            registered: "2026-11-30T00:00:00Z".into(),
            operator: None,
        };
        tokio::spawn(async move { store.swarm_register_agent(&row).await.expect("registers") })
    });
    let mut ids = Vec::new();
    for r in registrations {
        ids.push(r.await.expect("the task"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id for one key: {ids:?}");
    let known = (0..8).filter(|i| ids.contains(&format!("a{i}"))).count();
    assert_eq!(known, 1);
}

async fn mistakes_are_errors(url: String) {
    let store = Store::open(&url).await.expect("opens");
    let run = run_info("r1", "demo", 1);
    store.begin_run(&run, &[]).await.expect("begins");
    assert!(
        matches!(store.begin_run(&run, &[]).await, Err(StoreError::DuplicateRun(id)) if id == "r1")
    );
    assert!(matches!(
        store.load_run("nope").await,
        Err(StoreError::NoSuchRun(_))
    ));
    assert!(matches!(
        store.record_job("nope", &job("3.12", Status::Passed)).await,
        Err(StoreError::NoSuchRun(_))
    ));
    assert!(matches!(
        store.finish_run(&run_info("nope", "demo", 1)).await,
        Err(StoreError::NoSuchRun(_))
    ));
}

// ---- data ----

fn run_info(id: &str, name: &str, started: u64) -> RunInfo {
    RunResult::new(
        id.into(),
        name.into(),
        "ponyswarm.yaml".into(),
        UNIX_EPOCH + Duration::from_secs(1_767_225_600 + started),
    )
    .run
}

fn planned(jobs: &[JobOutcome]) -> Vec<(&str, &Combination)> {
    jobs.iter().map(|j| (j.name.as_str(), &j.matrix)).collect()
}

/// A job with everything an outcome can hold, varied by status.
fn job(python: &str, status: Status) -> JobOutcome {
    let matrix: Combination = [
        ("python".to_string(), Value::Str(python.into())),
        ("django".to_string(), Value::Float(5.1)),
        ("workers".to_string(), Value::Int(4)),
        ("debug".to_string(), Value::Bool(false)),
    ]
    .into_iter()
    .collect();
    let mut j = JobOutcome::new(format!("demo ({python}, 5.1, 4, false)"), matrix, status);
    j.allowed_failure = python == "3.13";
    j.detail = (status != Status::Passed).then(|| format!("{status} because of reasons ✗"));
    j.tests = (status != Status::InstallFailed).then_some(Tests {
        passed: 40,
        failed: u32::from(status == Status::Failed),
        skipped: 2,
        errors: 0,
    });
    if status == Status::Failed {
        j.failures = (0..3)
            .map(|i| Failure {
                test: format!("tests.test_views::test_{i}"),
                message: format!("assert {i} == 2\n  \x1b[31mE   where ‘x’\x1b[0m"),
            })
            .collect();
    }
    j.test_command = Some("python -m pytest --junitxml=/tmp/junit.xml".into());
    j.detected = Some("pytest: a tests/ directory".into());
    j.install_changes = vec![
        InstallChange {
            path: "/home/pony/venv".into(),
            kind: ChangeKind::Added,
            flagged: false,
            inside: 1234,
        },
        InstallChange {
            path: "/etc/ld.so.cache".into(),
            kind: ChangeKind::Changed,
            flagged: true,
            inside: 0,
        },
        InstallChange {
            path: "/usr/lib/x".into(),
            kind: ChangeKind::Deleted,
            flagged: true,
            inside: 0,
        },
    ];
    j.install_changes_omitted = 7;
    // Phases keep their order, which is not alphabetical.
    j.record_phase("services", Duration::from_millis(2500));
    j.record_phase("install", Duration::from_millis(12_345));
    j.record_phase("test", Duration::from_millis(800));
    j.images
        .insert("python".into(), format!("sha256:{}", "ab".repeat(32)));
    j.images
        .insert("postgres".into(), format!("sha256:{}", "cd".repeat(32)));
    j.log = format!(
        "\x1b[1mcollecting\x1b[0m … ✓\n{}",
        "PASSED tests/test_x.py::test_y\n".repeat(20_000)
    );
    j
}

/// A pid no process has: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawns true");
    let pid = child.id();
    child.wait().expect("waits");
    pid
}

// ---- a PostgreSQL server for the test ----

// Shared with the coordinator's and the PyPI watcher's tests.
#[path = "swarm_coordinator_support/postgres.rs"]
mod postgres;
use postgres::Server;
