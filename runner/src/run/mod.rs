//! Running a matrix for real: every job's plan through the sandbox, at most N at once,
//! with fail-fast, Ctrl-C and `results.json` written as jobs end.
//!
//! - [`job`]: one job's life (images, network and services, install, tests);
//! - [`layout`]: where the work area, venv, source and results are in a job's container;
//! - [`image_cache`]: the run's images, each resolved once;
//! - [`record`]: what a job's life observed, and the outcome it makes;
//! - [`pip`]: `pip install` lines rewritten to fetch, offline-ready;
//! - [`prepare`]: the wheelhouse, filled with the network on, shared by jobs and runs;
//! - [`environment`]: the dependencies installed once per key into an image jobs start from;
//! - [`env_images`]: those images listed, removed, and held under a size cap;
//! - [`source`]: the source tree as a tar stream;
//! - [`mod@clean`]: removing what killed runs left behind;
//! - [`progress`]: what the user sees while it runs.
//!
//! Shutdown is designed: every container and network is owned by a guard and recorded
//! in the run's [`Tracker`]; cancelled jobs drop their guards, and before [`run`]
//! returns it removes whatever the run still has (and sweeps by the run's label, for
//! objects whose creation was cut short).

pub mod actions;
pub mod clean;
pub mod env_images;
pub(crate) mod environment;
pub(crate) mod fetch;
pub(crate) mod image_cache;
pub(crate) mod installed;
pub(crate) mod job;
mod keeper;
pub(crate) mod layout;
pub(crate) mod once_per_key;
pub(crate) mod order;
pub(crate) mod pip;
pub mod prepare;
pub mod progress;
pub mod record;
mod services;
pub mod source;
pub(crate) mod uv;

use crate::matrix::{Ceiling, Spec};
use crate::outcome::{JobOutcome, RunResult, Status};
use crate::plan::JobPlan;
use crate::sandbox::container::Tracker;
use crate::sandbox::egress::Egress;
use crate::sandbox::images::ImageOptions;
use crate::sandbox::policy::Owner;
use bollard::Docker;
use clean::{clean as clean_leftovers, CleanOptions};
use environment::Environments;
use futures_util::stream::{FuturesUnordered, StreamExt};
use image_cache::ImageCache;
use job::{run_job, JobContext};
use prepare::Wheelhouses;
use progress::{JobLine, OutputMode, Progress};
use record::outcome_of;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use clean::{clean, CleanError, CleanReport};

/// How to run a matrix. [`RunOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run's id: names its Docker objects and labels them. Letters, digits, `-`.
    pub run_id: String,
    /// Where `results.json` goes (created if missing).
    pub report_dir: PathBuf,
    /// Most jobs at once (`--jobs`); `None`: the matrix's `max-parallel`, else the
    /// number of CPUs.
    pub jobs: Option<usize>,
    /// Overrides the matrix's `fail-fast:`.
    pub fail_fast: Option<bool>,
    /// How images are made.
    pub images: ImageOptions,
    /// The CA bundle and proxy for the prepare phase (the only one with the network).
    pub egress: Egress,
    /// What is shown while the run goes.
    pub output: OutputMode,
    /// Cancelled by the caller (on Ctrl-C): running jobs stop, the rest never start,
    /// all are `cancelled`, and every container and network of the run is removed
    /// before [`run`] returns.
    pub cancel: CancellationToken,
    /// Where results are recorded as jobs end (see `crate::store`); `None`: only
    /// results.json. A store that fails is a note, not a failed run: results.json
    /// stays the record.
    pub store: Option<crate::store::Store>,
    /// Told of each job as it starts and ends, in that order (commit statuses, an
    /// agent's heartbeats). A receiver that went away is ignored.
    pub events: Option<UnboundedSender<RunEvent>>,
    /// Most bytes the environment images (their own layers) may hold after the run;
    /// the least recently used beyond it are removed. `None`: no cap.
    pub env_cap: Option<u64>,
    /// Whose code the run tests: untrusted origins (PyPI releases, pull requests from
    /// outside the repository) get wheelhouses of their own. Default: trusted.
    pub trust: prepare::Trust,
    /// The most any job may take: its `limits:` and `timeout:` are lowered to it, and
    /// each lowering is said in the job's log. Default: [`Ceiling::for_this_machine`].
    pub ceiling: Ceiling,
    /// Resolve dependencies as of this instant (RFC 3339, UTC): only files the index
    /// says were uploaded before it are fetched (see
    /// [`prepare::Wheelhouses::resolved_as_of`]). `None` (the default): today.
    pub resolved_as_of: Option<String>,
}

/// What a run tells [`RunOptions::events`] as it goes.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// A job got its slot and starts.
    JobStarted {
        /// The job's name.
        name: String,
    },
    /// A job ended (cancelled jobs too, including those that never started).
    JobFinished(Box<JobOutcome>),
}

impl RunOptions {
    /// Defaults: a new run id, results into `report_dir`, parallelism and fail-fast
    /// from the matrix file, default images, no egress settings, bars or lines as the
    /// terminal allows, a token nobody cancels yet.
    pub fn new(report_dir: impl Into<PathBuf>) -> Self {
        RunOptions {
            run_id: new_run_id(),
            report_dir: report_dir.into(),
            jobs: None,
            fail_fast: None,
            images: ImageOptions::default(),
            egress: Egress::none(),
            output: OutputMode::auto(false),
            cancel: CancellationToken::new(),
            store: None,
            events: None,
            env_cap: None,
            trust: prepare::Trust::Trusted,
            ceiling: Ceiling::for_this_machine(),
            resolved_as_of: None,
        }
    }
}

/// A fresh run id: the UTC time to the second and 6 hex digits, e.g.
/// `20261123-060631-3fa9c1` (sortable, and safe in Docker object names).
pub fn new_run_id() -> String {
    let now = SystemTime::now();
    let stamp = crate::time::timestamp(now);
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(8.min(digits.len()));
    let mut h = Sha256::new();
    h.update(format!("{now:?}{}", std::process::id()).as_bytes());
    let salt = hex::encode(h.finalize());
    format!("{date}-{time}-{}", &salt[..6])
}

/// The run could not record its results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The report directory or results.json could not be written.
    #[error("cannot write {path}: {source}")]
    Report {
        /// What was being written.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}

/// Runs every plan of `spec` and returns the results, also written to
/// `opts.report_dir/results.json` after each job ends.
///
/// A job's own failure, or Docker's failure within one job, is that job's status; the
/// others go on. Only failing to write the results is an error of the run.
pub async fn run(
    docker: &Docker,
    spec: &Spec,
    plans: Vec<JobPlan>,
    opts: RunOptions,
) -> Result<RunResult, RunError> {
    let wall = Instant::now();
    std::fs::create_dir_all(&opts.report_dir).map_err(|source| RunError::Report {
        path: opts.report_dir.clone(),
        source,
    })?;
    let progress = Arc::new(Progress::new(opts.output));
    progress.set_total(plans.len());
    remove_leftovers(docker, &progress).await;
    let tracker = Tracker::new(docker);
    let ctx = job_context(docker, &tracker, spec, &opts, &progress);
    let record = Record {
        result: Mutex::new(RunResult::new(
            opts.run_id.clone(),
            spec.name.clone(),
            spec.path.display().to_string(),
            SystemTime::now(),
        )),
        done: Mutex::new(vec![None; plans.len()]),
        path: opts.report_dir.join("results.json"),
    };
    record.write()?;
    let store = begin_in_store(opts.store.as_ref(), &record, &plans, &progress).await;

    let parallel = opts
        .jobs
        .or(spec.max_parallel)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let jobs = Jobs {
        ctx,
        slots: Semaphore::new(parallel),
        stop: opts.cancel.child_token(),
        interrupt: opts.cancel.clone(),
        fail_fast: opts.fail_fast.unwrap_or(spec.fail_fast),
        fail_fast_reason: Mutex::new(None),
        events: opts.events.clone(),
    };
    let (lines, write_error) = jobs
        .run_all(&plans, &record, store.as_ref(), &progress)
        .await;

    // The ended jobs' objects, then whatever is left (cancelled jobs' guards remove
    // theirs in the background).
    jobs.ctx.removals.close();
    jobs.ctx.removals.wait().await;
    let mut failed = tracker.teardown().await;
    failed.extend(clean::sweep_run(docker, &opts.run_id).await);
    for f in failed {
        progress.note(&format!("ponyswarm: could not remove {f}"));
    }

    if let Some(cap) = opts.env_cap {
        match env_images::enforce_cap(docker, cap).await {
            Ok(removed) if !removed.is_empty() => progress.note(&format!(
                "ponyswarm: removed {} least recently used environment images (cap {} MiB)",
                removed.len(),
                cap >> 20
            )),
            Ok(_) => {}
            Err(e) => progress.note(&format!("ponyswarm: environment size cap: {e}")),
        }
    }

    let result = record.finish()?;
    if let Some(store) = &store {
        if let Err(e) = store.finish_run(&result.run).await {
            progress.note(&format!(
                "ponyswarm: could not record the run's end in the store: {e}"
            ));
        }
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    progress.summary(&spec.name, &lines, wall.elapsed());
    Ok(result)
}

/// What the run's jobs share: the engine, the tracker, the labels, the caches.
fn job_context(
    docker: &Docker,
    tracker: &Tracker,
    spec: &Spec,
    opts: &RunOptions,
    progress: &Arc<Progress>,
) -> Arc<JobContext> {
    let pid = std::process::id();
    let owner = Owner {
        run: opts.run_id.clone(),
        job: None,
        pid,
        pid_start: crate::host::process_start(pid),
    };
    let mut image_options = opts.images.clone();
    if let Some(multi) = progress.multi() {
        image_options.progress = Some(multi.clone());
    }
    let wheelhouses = Wheelhouses::new(
        docker,
        tracker,
        opts.egress.clone(),
        opts.images.clone(),
        owner.clone(),
    )
    .trust(opts.trust)
    .resolved_as_of(opts.resolved_as_of.clone());
    // The environments key and look up wheelhouses in the same scope as the prepare.
    let environments =
        Environments::new(docker, tracker, owner.clone(), wheelhouses.scope().clone());
    Arc::new(JobContext {
        docker: docker.clone(),
        tracker: tracker.clone(),
        owner: owner.clone(),
        source: spec.source.clone(),
        image_options,
        images: ImageCache::default(),
        wheelhouses,
        environments,
        progress: progress.clone(),
        ceiling: opts.ceiling.clone(),
        removals: tokio_util::task::TaskTracker::new(),
    })
}

/// Marks runs that died before as interrupted, and records this run with its planned
/// jobs. Returns the store to record into, `None` when there is none or it failed.
async fn begin_in_store(
    store: Option<&crate::store::Store>,
    record: &Record,
    plans: &[JobPlan],
    progress: &Progress,
) -> Option<crate::store::Store> {
    let store = store?;
    match store.mark_interrupted().await {
        Ok(ids) if !ids.is_empty() => {
            progress.note(&format!(
                "ponyswarm: marked interrupted runs {}",
                ids.join(", ")
            ));
        }
        Ok(_) => {}
        Err(e) => progress.note(&format!(
            "ponyswarm: could not check the store for dead runs: {e}"
        )),
    }
    let run = record.run_info();
    let planned: Vec<(&str, &crate::matrix::Combination)> = plans
        .iter()
        .map(|p| (p.job.name.as_str(), &p.job.matrix))
        .collect();
    match store.begin_run(&run, &planned).await {
        Ok(()) => Some(store.clone()),
        Err(e) => {
            progress.note(&format!(
                "ponyswarm: not recording this run in the store: {e}"
            ));
            None
        }
    }
}

/// Removes what killed runs left behind; a failure is only a note.
async fn remove_leftovers(docker: &Docker, progress: &Progress) {
    match clean_leftovers(docker, CleanOptions::default()).await {
        Ok(r) => {
            let n = r.containers.len() + r.networks.len() + r.volumes.len();
            if n > 0 {
                progress.note(&format!("ponyswarm: removed {n} leftovers of earlier runs"));
            }
        }
        Err(e) => progress.note(&format!("ponyswarm: could not look for leftovers: {e}")),
    }
}

/// The jobs of a run and what they share while running.
struct Jobs {
    ctx: Arc<JobContext>,
    slots: Semaphore,
    /// Cancelled on Ctrl-C (through `interrupt`) or by fail-fast.
    stop: CancellationToken,
    interrupt: CancellationToken,
    /// Whether the first failure stops the rest.
    fail_fast: bool,
    fail_fast_reason: Mutex<Option<String>>,
    events: Option<UnboundedSender<RunEvent>>,
}

impl Jobs {
    /// Runs every plan, recording each outcome as it comes; returns the summary lines
    /// in plan order, and the last failure to write results.json, if any (the jobs
    /// still running go on after one: the next write may succeed).
    async fn run_all(
        &self,
        plans: &[JobPlan],
        record: &Record,
        store: Option<&crate::store::Store>,
        progress: &Progress,
    ) -> (Vec<JobLine>, Option<RunError>) {
        // Slots are positions in `plans`: job indexes have gaps when plans were filtered.
        // Jobs take the free slots in the order they are pushed here (FuturesUnordered
        // first polls its futures in push order, and tokio's semaphore is fair): one
        // job of each environment before a second of any (see `order`).
        let mut running: FuturesUnordered<_> = order::dispatch_order(plans)
            .into_iter()
            .map(|slot| self.one(slot, &plans[slot]))
            .collect();
        let mut lines: Vec<Option<JobLine>> = vec![None; plans.len()];
        let mut write_error = None;
        while let Some((slot, outcome, took)) = running.next().await {
            if self.fail_fast
                && outcome.status.is_failure()
                && !outcome.allowed_failure
                && !self.stop.is_cancelled()
            {
                *self
                    .fail_fast_reason
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(format!(
                    "fail-fast: {} ended {}",
                    outcome.name, outcome.status
                ));
                self.stop.cancel();
            }
            self.emit(RunEvent::JobFinished(Box::new(outcome.clone())));
            let line = job_line(&outcome, took);
            progress.finished(plans[slot].job.index, &line);
            lines[slot] = Some(line);
            // The store is a second record: a failure there is a note, results.json
            // stays the record of the run.
            if let Some(store) = store {
                if let Err(e) = store.record_job(&record.run_id(), &outcome).await {
                    progress.note(&format!(
                        "ponyswarm: could not record {} in the store: {e}",
                        outcome.name
                    ));
                }
            }
            if let Err(e) = record.add(slot, outcome) {
                write_error = Some(e);
            }
        }
        (lines.into_iter().flatten().collect(), write_error)
    }

    /// Runs one job when a slot is free, unless the run stops first.
    ///
    /// The job runs as a task of its own, so that a panic in it is that job's `error`
    /// rather than the end of the run; on a stop the task is aborted and awaited, so
    /// its guards have been dropped (their containers on their way out) when this
    /// returns.
    async fn one(&self, slot: usize, plan: &JobPlan) -> (usize, JobOutcome, Duration) {
        let started = Instant::now();
        let outcome = tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            permit = self.slots.acquire() => Some(permit),
        };
        let Some(_permit) = outcome else {
            return (slot, self.cancelled(plan), started.elapsed());
        };
        self.emit(RunEvent::JobStarted {
            name: plan.job.name.clone(),
        });
        let (ctx, owned) = (self.ctx.clone(), plan.clone());
        let mut task = tokio::spawn(async move { run_job(&ctx, &owned).await });
        let outcome = tokio::select! {
            biased;
            _ = self.stop.cancelled() => {
                task.abort();
                let _ = task.await;
                self.cancelled(plan)
            }
            done = &mut task => match done {
                Ok(record) => outcome_of(plan, record),
                Err(e) => {
                    let mut out = JobOutcome::new(&plan.job.name, plan.job.matrix.clone(), Status::Error);
                    out.allowed_failure = plan.job.allow_failure;
                    out.detail = Some(format!("ponyswarm failed inside this job: {e}"));
                    out
                }
            },
        };
        (slot, outcome, started.elapsed())
    }

    fn emit(&self, event: RunEvent) {
        if let Some(events) = &self.events {
            // A listener that has gone away does not stop the run.
            let _ = events.send(event);
        }
    }

    fn cancelled(&self, plan: &JobPlan) -> JobOutcome {
        let why = if self.interrupt.is_cancelled() {
            "interrupted".to_string()
        } else {
            self.fail_fast_reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or_else(|| "fail-fast".to_string())
        };
        let mut out = JobOutcome::new(&plan.job.name, plan.job.matrix.clone(), Status::Cancelled);
        out.allowed_failure = plan.job.allow_failure;
        out.detail = Some(format!("cancelled: {why}"));
        out
    }
}

fn job_line(outcome: &JobOutcome, took: Duration) -> JobLine {
    let status = if outcome.allowed_failure && outcome.status != Status::Passed {
        format!("{} (allowed)", outcome.status)
    } else {
        outcome.status.to_string()
    };
    let first_failure = outcome.failures.first().map(|f| {
        let message = f.message.lines().next().unwrap_or_default();
        format!("{} — {message}", f.test)
    });
    JobLine {
        name: outcome.name.clone(),
        status,
        tests: outcome.tests.map_or("-".to_string(), |t| {
            format!("{}/{}/{}/{}", t.passed, t.failed, t.skipped, t.errors)
        }),
        duration: took,
        why: first_failure.or_else(|| outcome.detail.clone()),
        failures: outcome.failures.clone(),
    }
}

/// results.json as it grows: the jobs that have ended, in expansion order.
struct Record {
    result: Mutex<RunResult>,
    done: Mutex<Vec<Option<JobOutcome>>>,
    path: PathBuf,
}

impl Record {
    /// The run as recorded so far.
    fn run_info(&self) -> crate::outcome::RunInfo {
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .run
            .clone()
    }

    fn run_id(&self) -> String {
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .run
            .id
            .clone()
    }

    fn add(&self, slot: usize, outcome: JobOutcome) -> Result<(), RunError> {
        {
            let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(place) = done.get_mut(slot) {
                *place = Some(outcome);
            }
        }
        self.write()
    }

    fn snapshot(&self) -> RunResult {
        let mut result = self
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        result.jobs = done.iter().flatten().cloned().collect();
        result
    }

    fn write(&self) -> Result<(), RunError> {
        write_json(&self.path, &self.snapshot())
    }

    fn finish(&self) -> Result<RunResult, RunError> {
        let mut result = self.snapshot();
        result.finish(SystemTime::now());
        write_json(&self.path, &result)?;
        Ok(result)
    }
}

/// Writes `value` to `path` through a temporary file and a rename, so a reader (or a
/// crash) never sees half a file.
fn write_json(path: &Path, value: &RunResult) -> Result<(), RunError> {
    let err = |source| RunError::Report {
        path: path.to_path_buf(),
        source,
    };
    let text = serde_json::to_string_pretty(value).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_safe_docker_names() {
        let id = new_run_id();
        assert_eq!(id.len(), "20261123-060631-3fa9c1".len(), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_ne!(id, new_run_id());
    }
}
