//! Synthetic runs for the report's browser test and benchmark: realistic outcomes (every
//! status, failures that follow axis values, install changes, ANSI logs) without Docker.
//!
//! The failures are planted on purpose, so a reader of the report can check the
//! attribution: tests fail where `python=3.13`, and where `database=mariadb` and
//! `django=5.1`; `python=3.14-dev` is allowed to fail and times out; pypy cannot install
//! the MariaDB driver.

#![allow(dead_code)]

use ponyswarm::matrix::{Combination, Value};
use ponyswarm::outcome::{JobOutcome, RunResult, Status, Tests};
use ponyswarm::sandbox::changes::{ChangeKind, InstallChange};
use ponyswarm::testresults::Failure;
use std::time::{Duration, UNIX_EPOCH};

/// The matrix of the browser test: 4 × 3 × 2 = 24 jobs.
pub const SMALL: &[(&str, &[&str])] = &[
    ("python", &["3.11", "3.12", "3.13", "3.14-dev"]),
    ("database", &["sqlite", "postgres", "mariadb"]),
    ("django", &["4.2", "5.1"]),
];

/// The matrix of the benchmark: 5 × 4 × 5 × 10 = 1,000 jobs.
pub const LARGE: &[(&str, &[&str])] = &[
    ("python", &["3.10", "3.11", "3.12", "3.13", "pypy3"]),
    ("django", &["4.2", "5.0", "5.1", "5.2"]),
    (
        "database",
        &["sqlite", "postgres", "mariadb", "mysql", "oracle-free"],
    ),
    ("shard", &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
];

/// A run of every combination of `axes`. `previous` makes the run before it: a test
/// since fixed still fails there, and the mariadb × django 5.1 failure is not there yet.
/// `log_lines` sets each job's log length.
pub fn synthetic(
    id: &str,
    axes: &[(&str, &[&str])],
    previous: bool,
    log_lines: usize,
) -> RunResult {
    let start = UNIX_EPOCH + Duration::from_secs(1_795_000_000 + if previous { 0 } else { 86_400 });
    let mut run = RunResult::new(
        id.into(),
        "django-polls".into(),
        "ponyswarm.yaml".into(),
        start,
    );
    for (i, matrix) in combinations(axes).into_iter().enumerate() {
        run.jobs.push(job(i, matrix, previous, log_lines));
    }
    run.finish(start + Duration::from_secs(754));
    run
}

fn combinations(axes: &[(&str, &[&str])]) -> Vec<Combination> {
    let mut out = vec![Combination::new()];
    for (axis, values) in axes {
        out = out
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(axis.to_string(), Value::Str(v.to_string()));
                    c
                })
            })
            .collect();
    }
    out
}

fn value(m: &Combination, axis: &str) -> String {
    m.get(axis).map(Value::text).unwrap_or_default()
}

fn job(i: usize, matrix: Combination, previous: bool, log_lines: usize) -> JobOutcome {
    let values: Vec<String> = matrix.values().map(Value::text).collect();
    let name = format!("django-polls ({})", values.join(", "));
    let (python, database, django) = (
        value(&matrix, "python"),
        value(&matrix, "database"),
        value(&matrix, "django"),
    );
    let (python, database, django) = (python.as_str(), database.as_str(), django.as_str());
    let mut failures = Vec::new();
    if python == "3.13" {
        failures.push(failure(
            "tests/test_compat.py::test_removed_cgi_module",
            "ModuleNotFoundError: No module named 'cgi'",
        ));
        failures.push(failure(
            "tests/test_compat.py::test_utcnow_deprecated",
            "DeprecationWarning: datetime.datetime.utcnow() is deprecated",
        ));
    }
    if database == "mariadb" && django == "5.1" && !previous {
        failures.push(failure(
            "tests/test_models.py::test_json_field_lookup",
            "django.db.utils.OperationalError: (4038, 'Syntax error in JSON path')",
        ));
    }
    if previous && python == "3.12" && database == "postgres" {
        failures.push(failure(
            "tests/test_views.py::test_vote_redirect",
            "AssertionError: 302 != 200",
        ));
    }
    let (mut status, mut detail) = if failures.is_empty() {
        (Status::Passed, None)
    } else {
        (Status::Failed, None)
    };
    let allowed = python == "3.14-dev";
    if allowed {
        (status, detail) = (Status::Timeout, Some("timed out after 10m".to_string()));
        failures.clear();
    } else if python == "pypy3" && database == "mariadb" {
        (status, detail) = (
            Status::InstallFailed,
            Some("install exited with 1".to_string()),
        );
        failures.clear();
    } else if database == "postgres" && i % 97 == 13 {
        (status, detail) = (
            Status::Error,
            Some("service postgres never became healthy".to_string()),
        );
        failures.clear();
    } else if i % 89 == 7 {
        (status, detail) = (
            Status::LimitExceeded,
            Some("killed: out of memory".to_string()),
        );
        failures.clear();
    } else if i % 211 == 5 {
        (status, detail) = (
            Status::NoTests,
            Some("pytest collected no tests (exit 5)".to_string()),
        );
        failures.clear();
    }
    let mut j = JobOutcome::new(name, matrix, status);
    j.allowed_failure = allowed;
    j.detail = detail;
    let ran = matches!(status, Status::Passed | Status::Failed | Status::NoTests);
    j.tests = ran.then(|| Tests {
        passed: if status == Status::NoTests {
            0
        } else {
            48 - failures.len() as u32
        },
        failed: failures.len() as u32,
        skipped: if status == Status::NoTests { 0 } else { 3 },
        errors: 0,
    });
    j.failures = failures;
    j.test_command = Some("python -m pytest -q --junitxml=/tmp/ponyswarm-junit.xml".into());
    j.detected = Some("pytest: pyproject.toml has [tool.pytest.ini_options]".into());
    j.install_changes = vec![
        InstallChange {
            path: "/home/pony/venv".into(),
            kind: ChangeKind::Added,
            flagged: false,
            inside: 2841,
        },
        InstallChange {
            path: "/home/pony/work/django_polls.egg-info".into(),
            kind: ChangeKind::Added,
            flagged: false,
            inside: 6,
        },
    ];
    if database == "mariadb" {
        j.install_changes.insert(
            0,
            InstallChange {
                path: "/usr/local/lib/python3/site-packages/mysql_hack.pth".into(),
                kind: ChangeKind::Added,
                flagged: true,
                inside: 0,
            },
        );
    }
    j.record_phase(
        "services",
        Duration::from_millis(if database == "sqlite" {
            0
        } else {
            4200 + (i as u64 % 7) * 300
        }),
    );
    j.record_phase("prepare", Duration::from_millis(900 + (i as u64 % 5) * 120));
    j.record_phase(
        "install",
        Duration::from_millis(7300 + (i as u64 % 11) * 410),
    );
    if ran {
        j.record_phase(
            "test",
            Duration::from_millis(15_000 + (i as u64 % 13) * 1700),
        );
    }
    j.images
        .insert("python".into(), digest(&format!("python {python}")));
    if database != "sqlite" {
        j.images.insert(database.to_string(), digest(database));
    }
    j.log = log(&j, log_lines);
    j
}

/// A made-up image id that looks like one.
fn digest(what: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(what.as_bytes())))
}

fn failure(test: &str, message: &str) -> Failure {
    Failure {
        test: test.into(),
        message: format!("{message}\n\n    def test():\n>       assert run() == expected\n\x1b[1m\x1b[31mE       {message}\x1b[0m\n"),
    }
}

/// A pip + pytest log with colors, about `lines` lines.
fn log(j: &JobOutcome, lines: usize) -> String {
    let mut out = String::new();
    out.push_str("\x1b[1m$ python -m venv /home/pony/venv\x1b[0m\n");
    out.push_str(
        "Looking in links: /wheelhouse\nProcessing /wheelhouse/Django-5.1.4-py3-none-any.whl\n",
    );
    out.push_str("Installing collected packages: sqlparse, asgiref, Django, django-polls\n");
    if j.status == Status::InstallFailed {
        out.push_str("\x1b[31merror: subprocess-exited-with-error\x1b[0m\n  × Building wheel for mysqlclient (pyproject.toml) did not run successfully.\n  │ exit code: 1\n");
        return out;
    }
    out.push_str(
        "Successfully installed Django-5.1.4 asgiref-3.8.1 django-polls-0.1 sqlparse-0.5.2\n",
    );
    out.push_str("\x1b[1m============================= test session starts ==============================\x1b[0m\n");
    out.push_str("collected 51 items\n\n");
    let failing: Vec<&str> = j.failures.iter().map(|f| f.test.as_str()).collect();
    for n in 0..lines.saturating_sub(12) {
        let test = format!("tests/test_polls.py::test_case_{n}");
        out.push_str(&format!(
            "{test} \x1b[32mPASSED\x1b[0m{:>30}\n",
            format!("[{:>3}%]", n * 100 / lines.max(1))
        ));
    }
    for t in &failing {
        out.push_str(&format!("{t} \x1b[31mFAILED\x1b[0m\n"));
    }
    out.push_str("Downloading \r 10%\r 55%\r100%\n");
    let summary = match failing.len() {
        0 => "\x1b[32m======================== 48 passed, 3 skipped in 17.04s ========================\x1b[0m".to_string(),
        n => format!("\x1b[31m=================== {n} failed, {} passed, 3 skipped in 17.04s ===================\x1b[0m", 48 - n),
    };
    out.push_str(&summary);
    out.push('\n');
    out
}
