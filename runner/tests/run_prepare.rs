//! End to end: the prepare's offline check. Round 1 is checked by uv where the
//! environment will install with uv (a real install into a throwaway venv, offline,
//! from the wheels fetched so far); where uv misses something, pip's offline rounds
//! run as before and fetch what pip names.
//!
//! Each test writes its project into a temporary directory, with a unique line in
//! its pyproject.toml, so that its run fills a wheelhouse of its own whatever ran
//! before.

mod run_support;

use ponyswarm::run;
use run_support::{docker, ensure_images, run_dir, serial, status};
use serde_json::Value;
use std::path::Path;

/// Writes `files` (relative path, text) into `dir`, pyproject.toml made unique.
fn project(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        let salt = match path.ends_with("pyproject.toml") {
            true => format!("# {}\n", run::new_run_id()),
            false => String::new(),
        };
        std::fs::write(&path, format!("{text}{salt}")).expect("write");
    }
}

/// The log of the one job of `results`, which must have passed.
fn passed_log(results: &Value) -> String {
    let jobs = results["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1, "{results:#}");
    assert_eq!(status(&jobs[0]), "passed", "{:#}", jobs[0]);
    jobs[0]["log"].as_str().unwrap_or_default().to_string()
}

/// The output of the step `step` in a prepare log: the lines after `$ {step}` up to
/// its time.
fn step_output<'a>(log: &'a str, step: &str) -> Vec<&'a str> {
    log.lines()
        .skip_while(|l| *l != format!("$ {step}"))
        .skip(1)
        .take_while(|l| !l.starts_with("ponyswarm: step took"))
        .collect()
}

const UV_CHECK: &str = "offline: install check with uv (round 1)";
const PIP_ROUND_1: &str = "offline: metadata and sdist builds (round 1)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_uv_can_install_is_checked_by_uv_alone() {
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    project(
        dir.path(),
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\
                 [project]\nname = \"uvchecked\"\nversion = \"0.1\"\n\
                 [project.optional-dependencies]\ntest = [\"pytest\"]\n\
                 [tool.setuptools]\npackages = [\"uvchecked\"]\n",
            ),
            ("uvchecked/__init__.py", "ANSWER = 42\n"),
            (
                "tests/test_answer.py",
                "import uvchecked\n\ndef test_answer():\n    assert uvchecked.ANSWER == 42\n",
            ),
            (
                "ponyswarm.yaml",
                "name: uv-checked\npython: \"3.11\"\ninstall:\n  - pip install -e .[test]\n\
                 test: python -m pytest -q tests\ntimeout: 5m\n",
            ),
        ],
    );
    let log = passed_log(&run_dir(dir.path()).await);
    let check = step_output(&log, UV_CHECK);
    assert!(
        check.iter().any(|l| l.starts_with("+ uv venv")),
        "the uv check ran: {log}"
    );
    assert!(
        check
            .iter()
            .any(|l| l.starts_with("+ uv pip install --offline")
                && l.contains("--editable")
                && l.contains("/wheels/.partial-")),
        "it installed the install line from the wheels fetched: {log}"
    );
    assert!(
        !log.contains(&format!("$ {PIP_ROUND_1}")),
        "pip's offline step did not run: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_requirement_only_the_backend_names_is_fetched_by_pips_rounds() {
    // An in-tree build backend (`backend-path`) asks for `six` while it builds: no
    // file names it, so only running the backend finds it. uv's check runs it (a real
    // install, not a dry run, which would read the static metadata and pass) and
    // fails offline; pip's step then names it, the fetch container fetches it, and
    // the environment's uv install finds it.
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = "from setuptools import build_meta as _meta\n\
                   from setuptools.build_meta import *\n\n\
                   def get_requires_for_build_wheel(config_settings=None):\n    \
                   return _meta.get_requires_for_build_wheel(config_settings) + [\"six\"]\n\n\
                   def get_requires_for_build_editable(config_settings=None):\n    \
                   return _meta.get_requires_for_build_editable(config_settings) + [\"six\"]\n";
    project(
        dir.path(),
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"backend\"\n\
                 backend-path = [\"_build\"]\n\
                 [project]\nname = \"dynreq\"\nversion = \"0.1\"\n\
                 [tool.setuptools]\npackages = [\"dynreq\"]\n",
            ),
            ("_build/backend.py", backend),
            ("dynreq/__init__.py", "ANSWER = 42\n"),
            (
                "ponyswarm.yaml",
                "name: dynamic-build-requirement\npython: \"3.11\"\ninstall:\n  - pip install -e .\n\
                 test: python -c \"import dynreq; assert dynreq.ANSWER == 42\"\ntimeout: 5m\n",
            ),
        ],
    );
    let log = passed_log(&run_dir(dir.path()).await);
    assert!(
        step_output(&log, UV_CHECK)
            .iter()
            .any(|l| l.contains("six")),
        "uv's check ran the backend and missed six: {log}"
    );
    assert!(
        log.contains("ponyswarm: the uv check failed"),
        "the failure is said: {log}"
    );
    assert!(
        step_output(&log, PIP_ROUND_1)
            .iter()
            .any(|l| l.contains("No matching distribution found for six")),
        "pip's round 1 ran and named six: {log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("$ fetch: pip download") && l.ends_with(" six")),
        "six was fetched: {log}"
    );
    assert!(
        log.contains("$ offline: metadata and sdist builds (round 2)"),
        "{log}"
    );
}
