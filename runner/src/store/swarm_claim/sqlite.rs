//! Claims on SQLite: a batch of claims one after another in one transaction (one
//! commit, one WAL append, for the batch). SQLite has one writer at a time anyway, and a
//! claim costs it a few index probes, so there is no statement for the batch as a whole
//! as on PostgreSQL.

use super::{claim_query, claimed_row, job_columns, ClaimRequest, Claimed};
use crate::store::StoreError;
use sqlx::Row;
use std::sync::LazyLock;

/// One claim, inside the batch's transaction; the same parameters as PostgreSQL's
/// claim alone.
const CLAIM: &str = "\
UPDATE swarm_jobs SET state = 'leased', lease_id = $1, agent_id = $2, lease_expires = $4, \
    phase = NULL \
WHERE id = COALESCE(\
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'leased' AND j.lease_expires < $3 \
     AND FITS ORDER BY j.lease_expires LIMIT 1), \
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'queued' \
     AND FITS ORDER BY j.run_seq, j.position LIMIT 1)) \
RETURNING id";

/// SQLite's capability match (json_each) and quorum rule.
const FITS: &str = "j.python IN (SELECT value FROM json_each($5)) \
     AND NOT EXISTS (SELECT 1 FROM json_each(j.services) s \
         WHERE s.value NOT IN (SELECT value FROM json_each($6))) \
     AND NOT EXISTS (SELECT 1 FROM swarm_results r WHERE r.job_id = j.id AND r.agent_id = $2)";

/// The claim, spelled out once.
pub(super) fn claim_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| CLAIM.replace("FITS", FITS));
    &SQL
}

/// What a claim reads of the job it took, with its run's columns.
fn claimed_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {}, r.project, r.matrix_file, r.source_sha256, r.trust \
             FROM swarm_jobs j JOIN swarm_runs r ON r.id = j.run_id WHERE j.id = $1",
            job_columns()
        )
    });
    &SQL
}

/// Every claim of `requests` in one transaction, in order: each sees the jobs the ones
/// before it took as leased. All or nothing.
pub(super) async fn batch(
    pool: &sqlx::AnyPool,
    requests: &[ClaimRequest],
) -> Result<Vec<Option<Claimed>>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut answers = Vec::with_capacity(requests.len());
    for req in requests {
        let Some(row) = claim_query(claim_sql(), req)
            .fetch_optional(&mut *tx)
            .await?
        else {
            answers.push(None);
            continue;
        };
        let id: String = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO swarm_leases (id, job_id, agent_id, issued) VALUES ($1, $2, $3, $4)",
        )
        .bind(req.lease.clone())
        .bind(id.clone())
        .bind(req.agent_id.clone())
        .bind(req.now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(claimed_sql())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        answers.push(Some(claimed_row(&row)?));
    }
    tx.commit().await?;
    Ok(answers)
}
