//! One claimed job, run exactly as `ponyswarm run` would run it: unpack the checked
//! source, load its matrix file, plan the spec's one job through the front door
//! ([`crate::plan::from_spec`]) and run that one plan with [`crate::run::run`].
//!
//! Whatever goes wrong here is the job's `error` outcome, reported like any other: the
//! coordinator decides whether to retry.

use super::unpack::{self, UnpackError};
use crate::matrix::{self, Spec};
use crate::outcome::{JobOutcome, Status};
use crate::plan::{self, JobPlan, PlanError, Selection};
use crate::run::progress::OutputMode;
use crate::run::{self, RunOptions};
use crate::sandbox::egress::Egress;
use crate::sandbox::images::ImageOptions;
use crate::swarm::api::JobSpec;
use bollard::Docker;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// What the job is doing now, for heartbeats.
#[derive(Debug, Clone, Default)]
pub struct PhaseCell(Arc<Mutex<String>>);

impl PhaseCell {
    /// Sets the phase.
    pub fn set(&self, phase: &str) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = phase.to_string();
    }

    /// The phase now.
    pub fn get(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// How the agent runs jobs: the engine and the same image and egress options as
/// `ponyswarm run`.
#[derive(Debug, Clone)]
pub struct Executor {
    /// The engine.
    pub docker: Docker,
    /// How images are found or built.
    pub images: ImageOptions,
    /// The CA bundle and proxy for the prepare phase.
    pub egress: Egress,
    /// Where sources are unpacked (`None`: the system's temporary directory).
    pub work_dir: Option<PathBuf>,
    /// The most any job may take here (the config's `[limits]`).
    pub ceiling: crate::matrix::Ceiling,
}

/// Why a job could not be planned.
#[derive(Debug, thiserror::Error)]
enum PrepareError {
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error("{0}")]
    Spec(#[from] matrix::SpecError),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Other(String),
}

impl Executor {
    /// Runs the job `spec` from the downloaded `source`; `cancel` stops it (its
    /// containers are removed before this returns).
    pub async fn run(
        &self,
        spec: &JobSpec,
        source: Vec<u8>,
        cancel: CancellationToken,
        phase: &PhaseCell,
    ) -> JobOutcome {
        let scratch = match self.scratch() {
            Ok(dir) => dir,
            Err(e) => return error_outcome(spec, format!("cannot make a work directory: {e}")),
        };
        phase.set("unpack");
        let root = scratch.path().join("source");
        let prepared = {
            let (root, want) = (root.clone(), spec.source_sha256.clone());
            let (matrix_file, name, index) = (
                spec.matrix_file.clone(),
                spec.job_name.clone(),
                spec.job_index,
            );
            tokio::task::spawn_blocking(move || {
                prepare(&source, &want, &root, &matrix_file, &name, index)
            })
            .await
        };
        let (matrix_spec, plan) = match prepared {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return error_outcome(spec, format!("cannot prepare the job: {e}")),
            Err(e) => return error_outcome(spec, format!("preparing the job panicked: {e}")),
        };
        phase.set("running");
        let opts = self.options(spec, scratch.path().join("report"), cancel);
        match run::run(&self.docker, &matrix_spec, vec![plan], opts).await {
            Ok(mut result) if !result.jobs.is_empty() => result.jobs.swap_remove(0),
            Ok(_) => error_outcome(spec, "the run recorded no outcome".into()),
            Err(e) => error_outcome(spec, e.to_string()),
        }
    }

    /// How the job of `spec` runs: one job, silently, with the agent's images and
    /// egress, and the spec's trust (an untrusted job's wheelhouses are its own).
    fn options(
        &self,
        spec: &JobSpec,
        report_dir: PathBuf,
        cancel: CancellationToken,
    ) -> RunOptions {
        let mut opts = RunOptions::new(report_dir);
        opts.jobs = Some(1);
        opts.images = self.images.clone();
        opts.egress = self.egress.clone();
        opts.output = OutputMode::Silent;
        opts.cancel = cancel;
        opts.trust = spec.trust;
        opts.ceiling = self.ceiling.clone();
        opts
    }

    fn scratch(&self) -> std::io::Result<Scratch> {
        let parent = self.work_dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = parent.join(format!("ponyswarm-agent-{}", run::new_run_id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

/// A job's work directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks and unpacks the source into `root`, then plans the job named `name` at
/// `index` of `matrix_file` exactly as `ponyswarm run` plans it.
fn prepare(
    source: &[u8],
    sha256: &str,
    root: &Path,
    matrix_file: &str,
    name: &str,
    index: usize,
) -> Result<(Spec, JobPlan), PrepareError> {
    unpack::check_sha256(source, sha256)?;
    std::fs::create_dir_all(root).map_err(UnpackError::Io)?;
    unpack::unpack(source, root)?;
    let rel = unpack::safe_relative(matrix_file)
        .filter(|r| !r.as_os_str().is_empty())
        .ok_or_else(|| PrepareError::Other(format!("bad matrix path {matrix_file:?}")))?;
    let spec = matrix::load(&root.join(rel))?;
    check_inside(root, &spec)?;
    let mut plans = plan::from_spec(spec, &Selection::job(name, index))?;
    let plan = plans
        .jobs
        .pop()
        .ok_or_else(|| PrepareError::Other("planning gave no job".into()))?;
    Ok((plans.spec, plan))
}

/// The matrix's `source:` and `files:` templates must stay inside the unpacked tree:
/// the agent's host files are not the project's to read.
fn check_inside(root: &Path, spec: &Spec) -> Result<(), PrepareError> {
    let root = root
        .canonicalize()
        .map_err(|e| PrepareError::Other(format!("{}: {e}", root.display())))?;
    let dir = spec.path.parent().unwrap_or(Path::new("."));
    let paths =
        std::iter::once(spec.source.clone()).chain(spec.files.values().map(|t| dir.join(&t.value)));
    for path in paths {
        // A path that does not exist reads nothing; loading it reports the error.
        if let Ok(real) = path.canonicalize() {
            if !real.starts_with(&root) {
                return Err(PrepareError::Other(format!(
                    "{} points outside the project's source",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// An `error` outcome for the job of `spec`.
pub fn error_outcome(spec: &JobSpec, detail: String) -> JobOutcome {
    let mut out = JobOutcome::new(&spec.job_name, Default::default(), Status::Error);
    out.detail = Some(detail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, path, body.as_bytes()).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    const MATRIX: &str =
        "name: lib\nmatrix:\n  python: [\"3.9\", \"3.11\"]\ntest: python -m pytest\n";

    #[test]
    fn the_named_job_is_planned_from_the_unpacked_source() {
        let bytes = tarball(&[("ci/ponyswarm.yaml", MATRIX), ("ci/t/test_a.py", "")]);
        let sum = hex::encode(Sha256::digest(&bytes));
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        let (spec, plan) =
            prepare(&bytes, &sum, &root, "ci/ponyswarm.yaml", "lib (3.11)", 1).unwrap();
        assert_eq!(spec.name, "lib");
        assert_eq!(plan.job.name, "lib (3.11)");
        assert_eq!(plan.python_image, "3.11");
    }

    #[test]
    fn a_wrong_job_path_or_checksum_is_refused() {
        let bytes = tarball(&[("ponyswarm.yaml", MATRIX)]);
        let sum = hex::encode(Sha256::digest(&bytes));
        let cases = [
            ("ponyswarm.yaml", "lib (3.11)", 0, sum.as_str(), "no job"),
            ("ponyswarm.yaml", "lib (3.13)", 1, sum.as_str(), "no job"),
            (
                "../ponyswarm.yaml",
                "lib (3.11)",
                1,
                sum.as_str(),
                "bad matrix path",
            ),
            ("ponyswarm.yaml", "lib (3.11)", 1, "00", "SHA-256"),
        ];
        for (file, name, index, sha, want) in cases {
            let dir = tempfile::tempdir().unwrap();
            let err = prepare(&bytes, sha, &dir.path().join("s"), file, name, index)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{file} {name}: {err}");
        }
    }

    #[test]
    fn the_specs_trust_decides_the_runs() {
        use crate::run::prepare::Trust;
        // Connecting is lazy: no engine is needed to build options.
        let docker =
            Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let executor = Executor {
            docker,
            images: ImageOptions::default(),
            egress: Egress::none(),
            work_dir: None,
            ceiling: crate::matrix::Ceiling::for_this_machine(),
        };
        let payload = |trust: &str| {
            format!(
                r#"{{"run_id":"r","job_id":"r-0","project":"p","matrix_file":"m.yaml",
                "job_name":"j","job_index":0,"python":"3.11","services":[],
                "source_path":"/s","source_sha256":"00","lease":"l",
                "issued_at":"2026-01-01T00:00:00Z"{trust}}}"#
            )
        };
        for (field, want) in [
            (r#","trust":"trusted""#, Trust::Trusted),
            (r#","trust":"untrusted""#, Trust::Untrusted),
            // A coordinator older than the field: the safe value.
            ("", Trust::Untrusted),
        ] {
            let spec: JobSpec = serde_json::from_str(&payload(field)).unwrap();
            assert_eq!(spec.trust, want, "{field}");
            let opts = executor.options(&spec, PathBuf::from("/r"), CancellationToken::new());
            assert_eq!(opts.trust, want, "{field}");
        }
        let spec: JobSpec = serde_json::from_str(&payload(r#","trust":"untrusted""#)).unwrap();
        assert!(serde_json::to_string(&spec)
            .unwrap()
            .contains(r#""trust":"untrusted""#));
    }

    #[test]
    fn templates_and_source_outside_the_tree_are_refused() {
        for extra in ["source: ..\n", "files:\n  x.py: ../../../../etc/hostname\n"] {
            let matrix = format!("{MATRIX}{extra}");
            let bytes = tarball(&[("ponyswarm.yaml", &matrix)]);
            let sum = hex::encode(Sha256::digest(&bytes));
            let dir = tempfile::tempdir().unwrap();
            let err = prepare(
                &bytes,
                &sum,
                &dir.path().join("s"),
                "ponyswarm.yaml",
                "lib (3.11)",
                1,
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("outside the project's source"),
                "{extra}: {err}"
            );
        }
    }
}
