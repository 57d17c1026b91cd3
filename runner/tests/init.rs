//! `ponyswarm init` on fixture projects shaped as real ones are (a Django app with a
//! database matrix and services, a library across Pythons and systems with include
//! and exclude, a tox.ini with factors): the written matrix goes through the
//! library's plan front door and must list the jobs the project's CI runs. No Docker.

use ponyswarm::plan::{self, Selection};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A copy of fixture `name` in a temporary directory of the same name.
fn project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join(name);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/init")
            .join(name),
        &dest,
    );
    (tmp, dest)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("fixture dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn init(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .arg("init")
        .arg(dir)
        .args(extra)
        .output()
        .expect("runs")
}

/// Runs init in `dir` and returns the planned jobs' names and the services each starts.
fn planned(dir: &Path) -> Vec<(String, Vec<String>)> {
    let out = init(dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("ponyswarm.yaml");
    let plans = plan::from_file(&file, &Selection::all()).unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            std::fs::read_to_string(&file).unwrap_or_default()
        )
    });
    plans
        .jobs
        .iter()
        .map(|p| {
            let services = p.services.iter().map(|s| s.image.clone()).collect();
            (p.job.name.clone(), services)
        })
        .collect()
}

#[test]
fn django_workflow_keeps_its_database_matrix_and_services() {
    let (_tmp, dir) = project("django-app");
    let jobs = planned(&dir);
    let mut want = Vec::new();
    for py in ["3.9", "3.11", "3.13"] {
        for dj in ["4.2", "5.1"] {
            if py == "3.9" && dj == "5.1" {
                continue;
            }
            for (db, services) in [
                ("sqlite", vec![]),
                ("postgres", vec!["postgres"]),
                ("mysql", vec!["mariadb"]),
            ] {
                let services: Vec<String> = services.into_iter().map(String::from).collect();
                want.push((format!("django-app ({py}, {dj}, {db})"), services));
            }
        }
    }
    assert_eq!(jobs, want);
    let plans = plan::from_file(&dir.join("ponyswarm.yaml"), &Selection::all()).expect("plans");
    let pg = &plans.jobs[1];
    assert_eq!(pg.test.command, "python runtests.py --parallel 1");
    assert_eq!(
        pg.install,
        [
            "python -m pip install \"django~=4.2.0\"",
            "python -m pip install -e .[test]",
            "pip install psycopg2-binary"
        ]
    );
    assert_eq!(
        plans.jobs[0].install[2], "true",
        "the driver is only for postgres jobs"
    );
    assert_eq!(pg.env["DATABASE"], "postgres");
    let text = std::fs::read_to_string(dir.join("ponyswarm.yaml")).expect("written");
    assert!(text.contains("secrets.CODECOV_TOKEN"), "{text}");
}

#[test]
fn library_workflow_keeps_linux_jobs_with_include_and_exclude() {
    let (_tmp, dir) = project("library");
    let jobs: Vec<String> = planned(&dir).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        jobs,
        [
            "library (ubuntu-latest, 3.9)",
            "library (ubuntu-latest, 3.11)",
            "library (ubuntu-latest, 3.13, true)",
            "library (ubuntu-latest, pypy3)",
        ]
    );
    let plans = plan::from_file(&dir.join("ponyswarm.yaml"), &Selection::all()).expect("plans");
    assert!(plans.jobs[2].job.allow_failure && !plans.jobs[0].job.allow_failure);
    assert_eq!(plans.jobs[0].test.command, "pytest -q tests");
    assert_eq!(
        plans.jobs[0].install,
        ["pip install -r requirements-test.txt", "pip install ."]
    );
}

#[test]
fn tox_factors_become_axes_and_conditional_deps() {
    let (_tmp, dir) = project("tox-factors");
    let jobs: Vec<String> = planned(&dir).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        jobs,
        [
            "tox-factors (3.9, dj42)",
            "tox-factors (3.9, dj50)",
            "tox-factors (3.11, dj42)",
            "tox-factors (3.11, dj50)",
            "tox-factors (3.13, dj50)",
        ]
    );
    let plans = plan::from_file(&dir.join("ponyswarm.yaml"), &Selection::all()).expect("plans");
    let dj42 = &plans.jobs[0];
    assert_eq!(
        dj42.install,
        [
            "pip install \"pytest\" -r requirements.txt",
            "pip install \"Django>=4.2,<5.0\"",
            "true",
            "pip install -e .[test]"
        ]
    );
    assert_eq!(dj42.test.command, "python -m pytest tests");
    assert_eq!(dj42.env["PYTHONPATH"], "/work/src");
}

#[test]
fn init_keeps_an_existing_file_unless_forced() {
    let (_tmp, dir) = project("tox-factors");
    std::fs::write(dir.join("ponyswarm.yaml"), "mine").expect("write");
    let refused = init(&dir, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("ponyswarm.yaml")).expect("read"),
        "mine"
    );
    let printed = init(&dir, &["--stdout"]);
    assert!(String::from_utf8_lossy(&printed.stdout).contains("matrix:"));
    assert!(
        String::from_utf8_lossy(&printed.stderr).contains("tox env `lint` has commands of its own")
    );
    assert!(init(&dir, &["--force"]).status.success());
    assert_ne!(
        std::fs::read_to_string(dir.join("ponyswarm.yaml")).expect("read"),
        "mine"
    );
}
