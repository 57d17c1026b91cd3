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

/// Reads every `files:` template of `spec`, from inside the matrix file's directory
/// ([`crate::tree_file`]: no absolute path, `..`, symlink out, device or huge file).
fn load_templates(spec: &Spec) -> Result<Templates, SpecError> {
    let dir = spec_dir(spec);
    let mut out = Templates::new();
    for template in spec.files.values() {
        let text = crate::tree_file::read_text(&dir, &template.value).map_err(|e| {
            SpecError::at(
                &spec.path,
                template.pos,
                format!("the template {e} (templates are read from the matrix file's directory)"),
            )
        })?;
        out.insert(template.value.clone(), text);
    }
    Ok(out)
}

/// Checks the `-r`/`-c` files the install commands name: inside the source tree, and
/// regular files under the cap when they are there (a missing one may be made by
/// `files:`, and pip says so if not). A path written with a template is checked when
/// it is read ([`crate::run`]'s prepare reads through the same guard).
fn check_requirement_files(spec: &Spec) -> Result<(), SpecError> {
    for command in &spec.install {
        let named = crate::run::pip::referenced_files(std::slice::from_ref(&command.value));
        for rel in named.iter().filter(|p| !p.contains("{{")) {
            match crate::tree_file::read(&spec.source, rel) {
                Err(e) if !e.is_missing() => {
                    return Err(SpecError::at(
                        &spec.path,
                        command.pos,
                        format!("the requirement file {e} (it must be inside the source tree)"),
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
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
    check_requirement_files(&spec)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Plans the matrix `yaml` written as `ponyswarm.yaml` in a fresh tree holding
    /// `req.txt`; the error, as the user sees it.
    fn plan_error(yaml: &str) -> Option<String> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let tree = dir.path().join("tree");
        std::fs::create_dir(&tree).expect("mkdir");
        std::fs::write(tree.join("req.txt"), "pony\n").expect("writes");
        std::fs::write(tree.join("t.hbs"), "x = 1\n").expect("writes");
        std::fs::write(tree.join("tests.py"), "def test_x(): pass\n").expect("writes");
        std::os::unix::fs::symlink("/dev/zero", tree.join("zero")).expect("links");
        let path = tree.join("ponyswarm.yaml");
        std::fs::write(&path, yaml).expect("writes");
        from_file(&path, &Selection::all())
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn host_paths_of_a_matrix_stay_inside_its_tree() {
        let head = "matrix:\n  python: [\"3.13\"]\n";
        let cases = [
            (
                "files:\n  conf.py: t.hbs\ninstall: [pip install -r req.txt]\n",
                None,
            ),
            (
                "files:\n  conf.py: ../../etc/passwd\n",
                Some(":4:12: the template \"../../etc/passwd\" must be a relative path"),
            ),
            (
                "files:\n  conf.py: /etc/passwd\n",
                Some(":4:12: the template \"/etc/passwd\" must be a relative path"),
            ),
            (
                "files:\n  conf.py: zero\n",
                Some(":4:12: the template \"zero\" leads outside the tree"),
            ),
            (
                "install:\n  - pip install -r ../../etc/passwd\n",
                Some(":4:5: the requirement file \"../../etc/passwd\" must be a relative path"),
            ),
            (
                "install:\n  - pip install --constraint=zero pony\n",
                Some(":4:5: the requirement file \"zero\" leads outside the tree"),
            ),
            // Missing: `files:` may write it; pip says so if not.
            ("install:\n  - pip install -r made-by-files.txt\n", None),
        ];
        for (tail, want) in cases {
            let got = plan_error(&format!("{head}{tail}"));
            match (got, want) {
                (None, None) => {}
                (Some(got), Some(want)) => assert!(
                    got.contains("ponyswarm.yaml") && got.contains(want),
                    "{tail}: {got}"
                ),
                (got, want) => panic!("{tail}: got {got:?}, want {want:?}"),
            }
        }
    }
}
