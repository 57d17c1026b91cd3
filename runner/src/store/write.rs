//! Writing a run as it goes: begun with its planned jobs, each job recorded when it
//! ends, finished at the end; and, at the next start, the unfinished jobs of dead runs
//! marked `interrupted`.

use super::codec::{compress_log, map_to_json, matrix_to_json, JobState, LOG_ENCODING};
use super::{RunOwner, Store, StoreError};
use crate::matrix::Combination;
use crate::outcome::{JobOutcome, RunInfo};
use crate::time::timestamp;
use sqlx::any::Any;
use sqlx::{Row, Transaction};
use std::time::SystemTime;

/// `runs.status` of a run that is going.
const RUNNING: &str = "running";
/// `runs.status` of a run whose process died before finishing it.
const INTERRUPTED: &str = "interrupted";

impl Store {
    /// Records a run that starts now, with the jobs it plans (name and combination, in
    /// expansion order) as `pending`. Jobs not planned here may still be recorded; they
    /// sort after the planned ones.
    pub async fn begin_run(
        &self,
        run: &RunInfo,
        jobs: &[(&str, &Combination)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM runs WHERE id = $1")
            .bind(&run.id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::DuplicateRun(run.id.clone()));
        }
        sqlx::query(
            "INSERT INTO runs (id, seq, name, matrix_file, started, status, ponyswarm, host, pid) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8 FROM runs",
        )
        .bind(&run.id)
        .bind(&run.name)
        .bind(&run.matrix_file)
        .bind(&run.started)
        .bind(RUNNING)
        .bind(&run.ponyswarm)
        .bind(&self.owner.host)
        .bind(i64::from(self.owner.pid))
        .execute(&mut *tx)
        .await?;
        for (position, (name, matrix)) in jobs.iter().enumerate() {
            sqlx::query(
                "INSERT INTO jobs (run_id, name, position, matrix, status) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&run.id)
            .bind(*name)
            .bind(position as i64)
            .bind(matrix_to_json(matrix))
            .bind(JobState::Pending.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a planned job `running` from `at`: if the run dies now, this job is the one
    /// that reads as interrupted while running rather than never started.
    pub async fn job_started(
        &self,
        run_id: &str,
        job: &str,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET status = $1, started = $2 \
             WHERE run_id = $3 AND name = $4 AND status = $5",
        )
        .bind(JobState::Running.as_str())
        .bind(timestamp(at))
        .bind(run_id)
        .bind(job)
        .bind(JobState::Pending.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a job that ended: its outcome, failures, install changes and log, in one
    /// transaction. Recording the same job again replaces it (a retried job).
    pub async fn record_job(&self, run_id: &str, job: &JobOutcome) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        record_job_in(&mut tx, run_id, job).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the end of a run: when, its status and exit code (see
    /// `RunResult::finish`).
    pub async fn finish_run(&self, run: &RunInfo) -> Result<(), StoreError> {
        let finished = run
            .finished
            .clone()
            .unwrap_or_else(|| timestamp(SystemTime::now()));
        let done =
            sqlx::query("UPDATE runs SET finished = $1, status = $2, exit_code = $3 WHERE id = $4")
                .bind(finished)
                .bind(run.status.as_str())
                .bind(i64::from(run.exit_code))
                .bind(&run.id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchRun(run.id.clone()));
        }
        Ok(())
    }

    /// Marks the runs whose process died before finishing them `interrupted`, and their
    /// pending and running jobs too. Returns the ids of the runs marked.
    ///
    /// Only runs begun on this host are checked; a run of another host (a shared
    /// PostgreSQL) is left for its own host to mark. Call at start, before beginning a
    /// run.
    pub async fn mark_interrupted(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id, host, pid FROM runs WHERE status = $1")
            .bind(RUNNING)
            .fetch_all(&self.pool)
            .await?;
        let mut marked = Vec::new();
        for row in rows {
            let owner = RunOwner {
                host: row.try_get("host")?,
                pid: u32::try_from(row.try_get::<i64, _>("pid")?).unwrap_or(0),
            };
            if owner.is_alive_here() {
                continue;
            }
            let id: String = row.try_get("id")?;
            self.interrupt(&id).await?;
            marked.push(id);
        }
        Ok(marked)
    }

    /// Marks one run and its unfinished jobs interrupted.
    async fn interrupt(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE jobs SET status = $1 WHERE run_id = $2 AND status IN ($3, $4)")
            .bind(JobState::Interrupted.as_str())
            .bind(id)
            .bind(JobState::Pending.as_str())
            .bind(JobState::Running.as_str())
            .execute(&mut *tx)
            .await?;
        // `status = running` again: another start may have marked it meanwhile.
        sqlx::query("UPDATE runs SET status = $1 WHERE id = $2 AND status = $3")
            .bind(INTERRUPTED)
            .bind(id)
            .bind(RUNNING)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// [`Store::record_job`] inside `tx`, for callers that record more in the same
/// transaction.
pub(super) async fn record_job_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    job: &JobOutcome,
) -> Result<(), StoreError> {
    let run = sqlx::query("SELECT 1 FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(&mut **tx)
        .await?;
    if run.is_none() {
        return Err(StoreError::NoSuchRun(run_id.to_string()));
    }
    let planned = sqlx::query("SELECT 1 FROM jobs WHERE run_id = $1 AND name = $2")
        .bind(run_id)
        .bind(&job.name)
        .fetch_optional(&mut **tx)
        .await?;
    if planned.is_none() {
        sqlx::query(
            "INSERT INTO jobs (run_id, name, position, matrix, status) \
             SELECT $1, $2, COALESCE(MAX(position), -1) + 1, $3, $4 \
             FROM jobs WHERE run_id = $1",
        )
        .bind(run_id)
        .bind(&job.name)
        .bind(matrix_to_json(&job.matrix))
        .bind(JobState::Pending.as_str())
        .execute(&mut **tx)
        .await?;
    }
    update_job(tx, run_id, job).await?;
    replace_children(tx, run_id, job).await?;
    Ok(())
}

/// Writes the job row's own columns.
async fn update_job(
    tx: &mut Transaction<'_, Any>,
    run_id: &str,
    job: &JobOutcome,
) -> Result<(), StoreError> {
    let count = |pick: fn(&crate::outcome::Tests) -> u32| job.tests.map(|t| i64::from(pick(&t)));
    sqlx::query(
        "UPDATE jobs SET matrix = $1, status = $2, allowed_failure = $3, detail = $4, \
         tests_passed = $5, tests_failed = $6, tests_skipped = $7, tests_errors = $8, \
         test_command = $9, detected = $10, install_changes_omitted = $11, \
         phases = $12, images = $13, finished = $14, service_logs = $15 \
         WHERE run_id = $16 AND name = $17",
    )
    .bind(matrix_to_json(&job.matrix))
    .bind(job.status.as_str())
    .bind(i64::from(job.allowed_failure))
    .bind(job.detail.clone())
    .bind(count(|t| t.passed))
    .bind(count(|t| t.failed))
    .bind(count(|t| t.skipped))
    .bind(count(|t| t.errors))
    .bind(job.test_command.clone())
    .bind(job.detected.clone())
    .bind(i64::try_from(job.install_changes_omitted).unwrap_or(i64::MAX))
    .bind(map_to_json(&job.phases))
    .bind(map_to_json(&job.images))
    .bind(timestamp(SystemTime::now()))
    .bind(map_to_json(&job.service_logs))
    .bind(run_id)
    .bind(&job.name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Replaces the job's failures, install changes and log.
async fn replace_children(
    tx: &mut Transaction<'_, Any>,
    run_id: &str,
    job: &JobOutcome,
) -> Result<(), StoreError> {
    for table in ["test_failures", "install_changes", "logs"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE run_id = $1 AND job = $2"
        ))
        .bind(run_id)
        .bind(&job.name)
        .execute(&mut **tx)
        .await?;
    }
    for (position, failure) in job.failures.iter().enumerate() {
        sqlx::query(
            "INSERT INTO test_failures (run_id, job, position, test, message) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(run_id)
        .bind(&job.name)
        .bind(position as i64)
        .bind(&failure.test)
        .bind(&failure.message)
        .execute(&mut **tx)
        .await?;
    }
    for (position, change) in job.install_changes.iter().enumerate() {
        let kind = serde_json::to_value(change.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        sqlx::query(
            "INSERT INTO install_changes (run_id, job, position, path, kind, flagged, inside) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(run_id)
        .bind(&job.name)
        .bind(position as i64)
        .bind(&change.path)
        .bind(kind)
        .bind(i64::from(change.flagged))
        .bind(i64::try_from(change.inside).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("INSERT INTO logs (run_id, job, encoding, size, data) VALUES ($1, $2, $3, $4, $5)")
        .bind(run_id)
        .bind(&job.name)
        .bind(LOG_ENCODING)
        .bind(i64::try_from(job.log.len()).unwrap_or(i64::MAX))
        .bind(compress_log(&job.log))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
