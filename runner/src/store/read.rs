//! Reading runs back: one run as the `RunResult` results.json holds, the list of runs,
//! and the run a report compares with.

use super::codec::{
    decompress_log, map_from_json, matrix_from_json, parse_status, CodecError, JobState,
};
use super::{Store, StoreError};
use crate::outcome::{run_exit_code, run_status, JobOutcome, RunInfo, RunResult, Status, Tests};
use crate::sandbox::changes::{ChangeKind, InstallChange};
use crate::testresults::Failure;
use indexmap::IndexMap;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// What an interrupted job reads as: it has no status of its own, and `cancelled` is
/// the one that says "did not finish, not the project's verdict". The detail tells a
/// job that was running from one that never started.
const INTERRUPTED_RUNNING: &str = "interrupted: ponyswarm stopped while this job ran";
/// See [`INTERRUPTED_RUNNING`].
const INTERRUPTED_PENDING: &str = "interrupted: ponyswarm stopped before this job started";

/// A line of `ponyswarm runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The run; `finished` is `None` while it goes, and for interrupted runs.
    pub info: RunInfo,
    /// Whether the run's process died before finishing it.
    pub interrupted: bool,
    /// Jobs planned or recorded.
    pub jobs: usize,
    /// Jobs that ended, by status name (`passed`, `failed`, …; `interrupted`).
    pub by_status: IndexMap<String, usize>,
}

/// The run a report of `result` compares with: the previous finished run of the same
/// matrix in `store` ([`Store::previous_run`]); `None` without a store.
pub async fn previous_run_of(
    store: Option<&Store>,
    result: &RunResult,
) -> Result<Option<RunResult>, StoreError> {
    match store {
        Some(store) => store.previous_run(&result.run.name, &result.run.id).await,
        None => Ok(None),
    }
}

impl Store {
    /// The run `id` with every job that ended (interrupted ones as `cancelled`), in
    /// expansion order, logs included.
    pub async fn load_run(&self, id: &str) -> Result<RunResult, StoreError> {
        self.load(id, true).await
    }

    /// The last finished run named `name` that started before run `before` (or, when the
    /// store does not know `before`, the last finished run of that name other than it),
    /// without logs: what a report compares with.
    pub async fn previous_run(
        &self,
        name: &str,
        before: &str,
    ) -> Result<Option<RunResult>, StoreError> {
        let anchor = sqlx::query("SELECT started, seq FROM runs WHERE id = $1")
            .bind(before)
            .fetch_optional(&self.pool)
            .await?;
        const NEWEST: &str = "SELECT id FROM runs \
             WHERE name = $1 AND id <> $2 AND finished IS NOT NULL";
        const ORDER: &str = "ORDER BY started DESC, seq DESC LIMIT 1";
        let previous = match &anchor {
            Some(row) => {
                let started: String = row.try_get("started")?;
                let seq: i64 = row.try_get("seq")?;
                sqlx::query(&format!(
                    "{NEWEST} AND (started < $3 OR (started = $3 AND seq < $4)) {ORDER}"
                ))
                .bind(name)
                .bind(before)
                .bind(started)
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("{NEWEST} {ORDER}"))
                    .bind(name)
                    .bind(before)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        match previous {
            Some(row) => Ok(Some(
                self.load(&row.try_get::<String, _>("id")?, false).await?,
            )),
            None => Ok(None),
        }
    }

    /// The `limit` most recent runs, newest first.
    pub async fn list_runs(&self, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT id, name, matrix_file, started, finished, status, exit_code, ponyswarm \
             FROM runs ORDER BY started DESC, seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            let (info, interrupted) = run_info(row, &[])?;
            let statuses = sqlx::query(
                "SELECT status, COUNT(*) AS n FROM jobs WHERE run_id = $1 \
                 GROUP BY status ORDER BY status",
            )
            .bind(&info.id)
            .fetch_all(&self.pool)
            .await?;
            let mut by_status = IndexMap::new();
            let mut jobs = 0;
            for s in &statuses {
                let n = usize::try_from(s.try_get::<i64, _>("n")?).unwrap_or(0);
                jobs += n;
                let status: String = s.try_get("status")?;
                if !matches!(
                    JobState::parse(&status),
                    Ok(JobState::Pending | JobState::Running)
                ) {
                    by_status.insert(status, n);
                }
            }
            runs.push(RunSummary {
                info,
                interrupted,
                jobs,
                by_status,
            });
        }
        Ok(runs)
    }

    async fn load(&self, id: &str, with_logs: bool) -> Result<RunResult, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, matrix_file, started, finished, status, exit_code, ponyswarm \
             FROM runs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NoSuchRun(id.to_string()))?;
        let jobs = self.load_jobs(id, with_logs).await?;
        let (run, _) = run_info(&row, &jobs)?;
        Ok(RunResult { run, jobs })
    }

    async fn load_jobs(&self, id: &str, with_logs: bool) -> Result<Vec<JobOutcome>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, matrix, status, allowed_failure, detail, tests_passed, tests_failed, \
             tests_skipped, tests_errors, test_command, detected, install_changes_omitted, \
             phases, images, started, service_logs FROM jobs WHERE run_id = $1 \
             ORDER BY position, name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut failures = self.failures(id).await?;
        let mut changes = self.changes(id).await?;
        let mut logs = if with_logs {
            self.logs(id).await?
        } else {
            HashMap::new()
        };
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = row.try_get("name")?;
            let corrupt = |source| StoreError::Corrupt {
                run: id.to_string(),
                job: Some(name.clone()),
                source,
            };
            let Some(mut job) = job_row(row, &name).map_err(corrupt)? else {
                continue;
            };
            job.failures = failures.remove(&name).unwrap_or_default();
            job.install_changes = changes.remove(&name).unwrap_or_default();
            if let Some(log) = logs.remove(&name) {
                job.log = log.map_err(corrupt)?;
            }
            jobs.push(job);
        }
        Ok(jobs)
    }

    async fn failures(&self, id: &str) -> Result<HashMap<String, Vec<Failure>>, StoreError> {
        let rows = sqlx::query(
            "SELECT job, test, message FROM test_failures WHERE run_id = $1 \
             ORDER BY job, position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, Vec<Failure>> = HashMap::new();
        for row in &rows {
            out.entry(row.try_get("job")?).or_default().push(Failure {
                test: row.try_get("test")?,
                message: row.try_get("message")?,
            });
        }
        Ok(out)
    }

    async fn changes(&self, id: &str) -> Result<HashMap<String, Vec<InstallChange>>, StoreError> {
        let rows = sqlx::query(
            "SELECT job, path, kind, flagged, inside FROM install_changes WHERE run_id = $1 \
             ORDER BY job, position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, Vec<InstallChange>> = HashMap::new();
        for row in &rows {
            let kind = match row.try_get::<String, _>("kind")?.as_str() {
                "added" => ChangeKind::Added,
                "deleted" => ChangeKind::Deleted,
                _ => ChangeKind::Changed,
            };
            out.entry(row.try_get("job")?)
                .or_default()
                .push(InstallChange {
                    path: row.try_get("path")?,
                    kind,
                    flagged: row.try_get::<i64, _>("flagged")? != 0,
                    inside: usize::try_from(row.try_get::<i64, _>("inside")?).unwrap_or(0),
                });
        }
        Ok(out)
    }

    async fn logs(
        &self,
        id: &str,
    ) -> Result<HashMap<String, Result<String, CodecError>>, StoreError> {
        let rows = sqlx::query("SELECT job, encoding, data FROM logs WHERE run_id = $1")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = HashMap::new();
        for row in &rows {
            let encoding: String = row.try_get("encoding")?;
            let data: Vec<u8> = row.try_get("data")?;
            out.insert(row.try_get("job")?, decompress_log(&encoding, &data));
        }
        Ok(out)
    }
}

/// A run row as [`RunInfo`], and whether it was interrupted. A run still going gets the
/// status and exit code its ended `jobs` give so far.
fn run_info(row: &AnyRow, jobs: &[JobOutcome]) -> Result<(RunInfo, bool), StoreError> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let exit_code: Option<i64> = row.try_get("exit_code")?;
    let (status, interrupted) = match status.as_str() {
        "running" => (run_status(jobs), false),
        // RunInfo's documented spelling of an interrupted run.
        "interrupted" => (Status::Cancelled, true),
        other => (
            parse_status(other).map_err(|source| StoreError::Corrupt {
                run: id.clone(),
                job: None,
                source,
            })?,
            false,
        ),
    };
    let exit_code = exit_code
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or_else(|| run_exit_code(jobs));
    let info = RunInfo {
        id,
        name: row.try_get("name")?,
        matrix_file: row.try_get("matrix_file")?,
        started: row.try_get("started")?,
        finished: row.try_get("finished")?,
        status,
        exit_code,
        ponyswarm: row.try_get("ponyswarm")?,
    };
    Ok((info, interrupted))
}

/// A job row as a [`JobOutcome`] without its children; `None` for a job that has not
/// ended (results.json lists ended jobs only).
fn job_row(row: &AnyRow, name: &str) -> Result<Option<JobOutcome>, CodecError> {
    let column = |e: sqlx::Error| CodecError::Json {
        what: "job row",
        why: e.to_string(),
    };
    let state = JobState::parse(&row.try_get::<String, _>("status").map_err(column)?)?;
    let (status, interrupted) = match state {
        JobState::Pending | JobState::Running => return Ok(None),
        JobState::Interrupted => (Status::Cancelled, true),
        JobState::Ended(status) => (status, false),
    };
    let matrix = matrix_from_json(&row.try_get::<String, _>("matrix").map_err(column)?)?;
    let mut job = JobOutcome::new(name, matrix, status);
    job.allowed_failure = row.try_get::<i64, _>("allowed_failure").map_err(column)? != 0;
    job.detail = row.try_get("detail").map_err(column)?;
    if interrupted {
        let started: Option<String> = row.try_get("started").map_err(column)?;
        let why = match started {
            Some(_) => INTERRUPTED_RUNNING,
            None => INTERRUPTED_PENDING,
        };
        job.detail = Some(why.to_string());
    }
    let counts: [Option<i64>; 4] = [
        row.try_get("tests_passed").map_err(column)?,
        row.try_get("tests_failed").map_err(column)?,
        row.try_get("tests_skipped").map_err(column)?,
        row.try_get("tests_errors").map_err(column)?,
    ];
    job.tests = match counts {
        [Some(passed), Some(failed), Some(skipped), Some(errors)] => {
            let n = |x: i64| u32::try_from(x).unwrap_or(0);
            Some(Tests {
                passed: n(passed),
                failed: n(failed),
                skipped: n(skipped),
                errors: n(errors),
            })
        }
        _ => None,
    };
    job.test_command = row.try_get("test_command").map_err(column)?;
    job.detected = row.try_get("detected").map_err(column)?;
    job.install_changes_omitted = usize::try_from(
        row.try_get::<i64, _>("install_changes_omitted")
            .map_err(column)?,
    )
    .unwrap_or(0);
    job.phases = map_from_json(
        "phases",
        &row.try_get::<String, _>("phases").map_err(column)?,
    )?;
    job.images = map_from_json(
        "images",
        &row.try_get::<String, _>("images").map_err(column)?,
    )?;
    // NULL for jobs stored before service logs were kept.
    if let Some(text) = row
        .try_get::<Option<String>, _>("service_logs")
        .map_err(column)?
    {
        job.service_logs = map_from_json("service_logs", &text)?;
    }
    Ok(Some(job))
}
