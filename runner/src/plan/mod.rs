//! The front door from a matrix to job plans: a matrix file ([`from_file`]) or a
//! [`Spec`] built in code ([`from_spec`]), plus a [`Selection`] of jobs, in; a
//! [`Plans`] out. Every way in goes through it: `ponyswarm run`, the swarm's
//! coordinator (to check a submitted matrix) and agent (to plan its one job), PyPI
//! release tests, and the end-to-end tests.
//!
//! In the order a matrix goes through it: expand ([`crate::matrix::expand`]), select
//! ([`select`]), read the `files:` templates, detect the test command from the source
//! tree when the file has no `test:` ([`crate::detect`]), then plan each job
//! ([`render`], pure: which images, the env with service connection details filled
//! in, the files rendered from templates, the commands of each phase, the limits).
//!
//! Nothing here touches Docker.

mod render;
mod select;

pub use render::env_name;
pub use select::{Selection, SelectionError};

use crate::detect::{self, SourceTree};
use crate::matrix::{self, Job, Limits, Spec, SpecError};
use indexmap::IndexMap;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A service container a job starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicePlan {
    /// The key in `services:`, also the host name on the job's network.
    pub name: String,
    /// Catalog name or image reference.
    pub image: String,
    pub port: u16,
    /// Environment of the service container.
    pub env: Vec<(String, String)>,
    /// Where the service keeps its data, for a catalog image that seeds it at start
    /// (see [`ServiceInfo::data`]): a size-capped tmpfs goes there and the rest of the
    /// service is read-only. `None`: the service's root stays writable.
    pub data: Option<String>,
}

/// Everything needed to run one job, decided before Docker is touched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobPlan {
    pub job: Job,
    /// Catalog name or image reference of the Python image.
    pub python_image: String,
    pub services: Vec<ServicePlan>,
    /// The job's environment: `env:` rendered, plus NAME_HOST, NAME_PORT, NAME_URL and
    /// for databases NAME_USER, NAME_PASSWORD, NAME_DB per service.
    pub env: IndexMap<String, String>,
    /// Files to write into the source tree before installing: relative path → content.
    pub files: IndexMap<String, String>,
    /// Install commands, rendered, run in order in the job's venv.
    pub install: Vec<String>,
    /// What the prepare fetches for, when not `install` (PyPI release tests: fetch
    /// through the wheel so that the sdist's own code never runs with the network).
    pub prepare: Option<Vec<String>>,
    /// The test command, and how it was chosen.
    pub test: TestCommand,
    pub timeout: Duration,
    #[serde(skip)]
    pub limits: Limits,
}

/// The test command of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestCommand {
    pub command: String,
    /// `None` when the matrix file said `test:`; else what detection found and why.
    pub detected: Option<String>,
}

/// The text of every `files:` template, keyed by the path written in the matrix file.
type Templates = IndexMap<String, String>;

/// Reads every `files:` template of `spec`, relative to the matrix file's directory.
fn load_templates(spec: &Spec) -> Result<Templates, SpecError> {
    let dir = spec_dir(spec);
    let mut out = Templates::new();
    for template in spec.files.values() {
        let path = dir.join(&template.value);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SpecError::at(
                &spec.path,
                template.pos,
                format!("cannot read the template {}: {e}", path.display()),
            )
        })?;
        out.insert(template.value.clone(), text);
    }
    Ok(out)
}

pub(super) fn spec_dir(spec: &Spec) -> PathBuf {
    spec.path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// What the front door hands out: the spec the plans came from (a run needs it for
/// its name, `max-parallel` and `fail-fast`) and one plan per selected job, in
/// expansion order.
#[derive(Debug, Clone)]
pub struct Plans {
    /// The matrix, as read or as built.
    pub spec: Spec,
    /// One plan per selected job.
    pub jobs: Vec<JobPlan>,
}

/// Why a matrix could not be planned: each is the user's to fix.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The matrix file is invalid, or a template does not read or render; the message
    /// says file:line:col.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The selection is malformed or keeps no job.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// The source tree (for test detection) could not be read.
    #[error("cannot read the source tree {}: {source}", path.display())]
    SourceTree {
        /// The `source:` directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Reads the matrix file at `path` and plans the jobs `selection` keeps.
pub fn from_file(path: &Path, selection: &Selection) -> Result<Plans, PlanError> {
    from_spec(matrix::load(path)?, selection)
}

/// Plans the jobs of `spec` that `selection` keeps: its `files:` templates are read
/// relative to `spec.path`'s directory, and the test command, when `spec.test` is
/// `None`, is detected from the tree at `spec.source`.
pub fn from_spec(spec: Spec, selection: &Selection) -> Result<Plans, PlanError> {
    let jobs = select_jobs(&spec, selection)?;
    let templates = load_templates(&spec)?;
    let default_test = detected_test(&spec.source)?;
    let jobs = render::plan_all(&spec, &jobs, &templates, &default_test)?;
    Ok(Plans { spec, jobs })
}

/// The jobs of `spec` that `selection` keeps, expanded but not planned (pure: what
/// `ponyswarm plan` prints).
pub fn select_jobs(spec: &Spec, selection: &Selection) -> Result<Vec<Job>, PlanError> {
    Ok(selection.apply(matrix::expand(spec)?)?)
}

/// What detection finds in the tree at `source`, and why.
fn detected_test(source: &Path) -> Result<TestCommand, PlanError> {
    let tree = SourceTree::read(source).map_err(|e| PlanError::SourceTree {
        path: source.to_path_buf(),
        source: e,
    })?;
    let d = detect::detect(&tree);
    Ok(TestCommand {
        command: d.command,
        detected: Some(d.reason),
    })
}
