//! A source tarball and the path of its matrix file become a run: the tree is unpacked
//! into a scratch directory, the matrix loaded, expanded and planned exactly as
//! `ponyswarm run` would (so a bad matrix is refused now, naming file:line:col, rather
//! than failing on every agent), then the run is begun in the store, its jobs queued
//! with what they need, and the source kept as a blob agents download.
//!
//! Shared by `POST /api/v1/runs` (`ponyswarm submit`) and the GitHub webhook.

use super::config::Project;
use super::tarball::{self, TarballError};
use super::{random_id, sha256_hex, ApiError, Coordinator};
use crate::matrix::{self, Job};
use crate::outcome::RunResult;
use crate::plan::{self, Selection};
use crate::run::prepare::Trust;
use crate::store::swarm::{SwarmJob, SwarmRun};
use crate::swarm::api::Submitted;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where a run came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `submit`, `push`, `pull_request`.
    pub kind: String,
    /// The commit, for webhook runs.
    pub commit: Option<String>,
}

/// What the matrix says, once checked.
struct Planned {
    name: String,
    jobs: Vec<(Job, Vec<String>)>,
}

/// Checks and queues a trusted run (a submit, a push) of `project` from `source`
/// (tar.gz) whose matrix file is `matrix_file` (relative to the source's root).
pub async fn enqueue(
    c: &Coordinator,
    project: &Project,
    matrix_file: &str,
    source: Vec<u8>,
    origin: Origin,
) -> Result<Submitted, ApiError> {
    enqueue_as(c, project, matrix_file, source, origin, Trust::Trusted).await
}

/// [`enqueue`], with the code's `trust` (untrusted: a pull request from a fork).
pub async fn enqueue_as(
    c: &Coordinator,
    project: &Project,
    matrix_file: &str,
    source: Vec<u8>,
    origin: Origin,
    trust: Trust,
) -> Result<Submitted, ApiError> {
    let rel = crate::run::source::check_relative(matrix_file).map_err(|_| {
        ApiError::bad_request(format!(
            "matrix {matrix_file:?} must be a relative path inside the source"
        ))
    })?;
    let scratch = Scratch::new(&c.config.data_dir)?;
    let planned = {
        let (dir, gz) = (scratch.0.clone(), source.clone());
        tokio::task::spawn_blocking(move || plan_source(&gz, &dir, &rel))
            .await
            .map_err(|e| ApiError::internal(format!("planning failed: {e}")))??
    };
    drop(scratch);

    let result = RunResult::new(
        crate::run::new_run_id(),
        planned.name.clone(),
        matrix_file.to_string(),
        SystemTime::now(),
    );
    let named: Vec<(&str, &matrix::Combination)> = planned
        .jobs
        .iter()
        .map(|(j, _)| (j.name.as_str(), &j.matrix))
        .collect();
    c.store.begin_run(&result.run, &named).await?;
    let run = SwarmRun {
        id: result.run.id.clone(),
        project: project.name.clone(),
        matrix_file: matrix_file.to_string(),
        state: crate::store::swarm::SwarmRunState::Running,
        quorum: project.quorum.max(1),
        origin: origin.kind,
        commit_sha: origin.commit,
        source_sha256: sha256_hex(&source),
        created: result.run.started.clone(),
        trust,
    };
    let jobs: Vec<SwarmJob> = planned
        .jobs
        .iter()
        .map(|(job, services)| SwarmJob {
            id: format!("{}-{}", run.id, job.index),
            run_id: run.id.clone(),
            position: job.index,
            name: job.name.clone(),
            python: job.python.clone(),
            services: services.clone(),
            allowed_failure: job.allow_failure,
            state: crate::store::swarm::SwarmJobState::Queued,
            lease_id: None,
            agent_id: None,
            lease_expires: None,
            phase: None,
            status: None,
        })
        .collect();
    c.store.swarm_enqueue(&run, &source, &jobs).await?;
    super::outbox::track(c, project, &run.id, run.commit_sha.as_deref()).await?;
    c.queued.notify_waiters();
    tracing::info!(
        "run {} of {}: {} jobs queued ({})",
        run.id,
        project.name,
        jobs.len(),
        run.trust.as_str()
    );
    Ok(Submitted {
        url: format!("{}/runs/{}", c.public_url, run.id),
        run_id: run.id,
        jobs: jobs.len(),
    })
}

/// Unpacks `gz` into `dir`, then loads, expands and plans its matrix `rel`.
fn plan_source(gz: &[u8], dir: &Path, rel: &Path) -> Result<Planned, ApiError> {
    tarball::unpack(gz, dir).map_err(|e| match e {
        TarballError::Io(_) => ApiError::bad_request(e.to_string()),
        TarballError::TooLarge => {
            ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        e => ApiError::bad_request(e.to_string()),
    })?;
    // Messages name the file as the submitter knows it, not our scratch directory.
    let prefix = format!("{}/", dir.display());
    let bad = |e: &dyn std::fmt::Display| ApiError::bad_request(e.to_string().replace(&prefix, ""));
    let path = dir.join(rel);
    if !path.is_file() {
        return Err(ApiError::bad_request(format!(
            "the source has no matrix file {}",
            rel.display()
        )));
    }
    let spec = matrix::load(&path).map_err(|e| bad(&e))?;
    if !spec.source.canonicalize().is_ok_and(|s| s.starts_with(dir)) {
        return Err(ApiError::bad_request(format!(
            "{}: `source:` must stay inside the submitted tree",
            rel.display()
        )));
    }
    let plan::Plans { spec, jobs: plans } =
        plan::from_spec(spec, &Selection::all()).map_err(|e| bad(&e))?;
    let jobs = plans
        .into_iter()
        .map(|plan| {
            let job = plan.job;
            // Agents offer catalog names or image references, as the file writes them.
            let services = job
                .services
                .iter()
                .filter_map(|s| spec.services.get(s).map(|svc| svc.image.value.clone()))
                .collect();
            (job, services)
        })
        .collect();
    Ok(Planned {
        name: spec.name,
        jobs,
    })
}

/// A scratch directory under `data_dir/tmp/`, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(data_dir: &Path) -> Result<Scratch, ApiError> {
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .and_then(|_| tmp.canonicalize())
            .map(|tmp| tmp.join(random_id()))
            .and_then(|dir| std::fs::create_dir(&dir).map(|_| Scratch(dir)))
            .map_err(|e| {
                ApiError::internal(format!(
                    "cannot make a scratch directory in {}: {e}",
                    tmp.display()
                ))
            })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("cannot remove {}: {e}", self.0.display());
        }
    }
}
