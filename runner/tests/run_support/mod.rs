//! Helpers shared by the `run_*` end-to-end tests: plan a fixture project, run it
//! against the real Docker engine, read its results.json, and look for leftovers.
//!
//! The images are the shared `ponyswarm/…` ones, built when missing (so a fresh CI
//! machine builds them once, and later tests reuse them).

#![allow(dead_code)]

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptions, ListVolumesOptions,
};
use bollard::Docker;
use ponyswarm::matrix::Spec;
use ponyswarm::outcome::RunResult;
use ponyswarm::plan::{self, JobPlan, Selection};
use ponyswarm::run::prepare::Trust;
use ponyswarm::run::progress::OutputMode;
use ponyswarm::run::{self, RunOptions};
use ponyswarm::sandbox::egress::Egress;
use ponyswarm::sandbox::images::{self, ImageOptions};
use ponyswarm::sandbox::labels;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The fixture project `name`'s directory.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/projects")
        .join(name)
}

/// A connection to the local engine.
pub async fn docker() -> Docker {
    ponyswarm::sandbox::docker::connect()
        .await
        .expect("Docker is reachable")
}

/// Image options for the shared images: the host's CA bundle for builds.
pub fn image_options() -> ImageOptions {
    ImageOptions {
        egress: egress(),
        ..ImageOptions::default()
    }
}

/// The host's CA bundle and proxy, for the prepare phase.
pub fn egress() -> Egress {
    Egress::from_host(None).expect("host CA bundle")
}

/// Makes the catalog images `names` available (builds them when missing).
pub async fn ensure_images(docker: &Docker, names: &[&str]) {
    for name in names {
        images::ensure(docker, name, &image_options())
            .await
            .unwrap_or_else(|e| panic!("image {name}: {e}"));
    }
}

/// The spec and plans of a fixture's ponyswarm.yaml, as `ponyswarm run` makes them.
pub fn plans(name: &str) -> (Spec, Vec<JobPlan>) {
    plans_of(&fixture(name).join("ponyswarm.yaml"))
}

/// The spec and plans of the matrix file at `path`, as `ponyswarm run` makes them.
pub fn plans_of(path: &Path) -> (Spec, Vec<JobPlan>) {
    let plans = plan::from_file(path, &Selection::all()).unwrap_or_else(|e| panic!("{e}"));
    (plans.spec, plans.jobs)
}

/// Options for a test run: silent, results into `dir`.
pub fn options(dir: &Path) -> RunOptions {
    let mut opts = RunOptions::new(dir);
    opts.images = image_options();
    opts.egress = egress();
    opts.output = OutputMode::Silent;
    opts
}

/// Runs fixture `name` (plans filtered by `keep`) with options adjusted by `tweak`;
/// returns the result and results.json as written.
pub async fn run_fixture(
    name: &str,
    keep: impl Fn(&JobPlan) -> bool,
    tweak: impl FnOnce(&mut RunOptions),
) -> (RunResult, Value) {
    let docker = docker().await;
    let (spec, plans) = plans(name);
    let plans: Vec<JobPlan> = plans.into_iter().filter(|p| keep(p)).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = options(dir.path());
    tweak(&mut opts);
    let run_id = opts.run_id.clone();
    let result = run::run(&docker, &spec, plans, opts)
        .await
        .expect("the run records its results");
    let text = std::fs::read_to_string(dir.path().join("results.json")).expect("results.json");
    let json: Value = serde_json::from_str(&text).expect("results.json is JSON");
    assert_eq!(
        leftovers(&docker, &run_id).await,
        Vec::<String>::new(),
        "the run left objects behind"
    );
    (result, json)
}

/// Runs the matrix file `ponyswarm.yaml` in `dir` (a project made by the test) and
/// returns results.json as written, once the run left nothing behind.
pub async fn run_dir(dir: &Path) -> Value {
    run_dir_as(dir, Trust::Trusted).await
}

/// [`run_dir`] as a run of `trust`.
pub async fn run_dir_as(dir: &Path, trust: Trust) -> Value {
    let docker = docker().await;
    let (spec, plans) = plans_of(&dir.join("ponyswarm.yaml"));
    let report = tempfile::tempdir().expect("tempdir");
    let mut opts = options(report.path());
    opts.trust = trust;
    let run_id = opts.run_id.clone();
    run::run(&docker, &spec, plans, opts)
        .await
        .expect("the run records its results");
    let text = std::fs::read_to_string(report.path().join("results.json")).expect("results");
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// The job of `results` whose matrix has `key` = `value` (compared as text).
pub fn job<'a>(results: &'a Value, pairs: &[(&str, &str)]) -> &'a Value {
    results["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| pairs.iter().all(|(k, v)| text(&j["matrix"][k]) == *v))
        .unwrap_or_else(|| panic!("no job with {pairs:?} in {results:#}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A job's status, with the job printed when an assertion on it fails.
pub fn status(job: &Value) -> &str {
    job["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no status: {job:#}"))
}

/// The names of the containers, networks and volumes labelled with run `run_id`
/// (any run, with `None`).
pub async fn leftovers(docker: &Docker, run_id: &str) -> Vec<String> {
    let label = if run_id.is_empty() {
        labels::RUN.to_string()
    } else {
        format!("{}={run_id}", labels::RUN)
    };
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let mut out = Vec::new();
    let list = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    for c in docker
        .list_containers(Some(list))
        .await
        .expect("list containers")
    {
        out.push(format!("container {:?}", c.names));
    }
    let list = ListNetworksOptions {
        filters: Some(filters.clone()),
    };
    for n in docker
        .list_networks(Some(list))
        .await
        .expect("list networks")
    {
        out.push(format!("network {:?}", n.name));
    }
    let list = ListVolumesOptions {
        filters: Some(filters),
    };
    for v in docker
        .list_volumes(Some(list))
        .await
        .expect("list volumes")
        .volumes
        .unwrap_or_default()
    {
        out.push(format!("volume {}", v.name));
    }
    out
}

/// Serialises the end-to-end tests of one test binary: they share two cores, and a
/// timeout test must not be starved into a different outcome.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
