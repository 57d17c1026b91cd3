//! The GitHub outbox: commit statuses a coordinator owes, kept in the store until they
//! are posted, so a crash between a result and its status loses nothing.
//!
//! - [`Store::outbox_track`]: a run that reports to a commit (a [`Target`]);
//! - [`Store::outbox_add`]: statuses as they become due, each with a fixed id, so adding
//!   one twice (two coordinators, or one after a restart) adds it once;
//! - [`Store::outbox_next`] / [`Store::outbox_claim`]: the next statuses to post, in
//!   order per commit and context (a status waits while an earlier one of its context is
//!   unposted), taken with one conditional `UPDATE` whose row count says who won, so two
//!   coordinators on one database never post the same status;
//! - [`Store::outbox_renew`] while posting, then [`Store::outbox_settle`].
//!
//! A claim whose holder died expires and is taken again: a status is posted twice only if
//! its poster died after GitHub took it and before it was settled.
//!
//! I/O: this is the SQL edge; which statuses are due is decided elsewhere.

use super::{Store, StoreError};
use crate::report::github::{CommitStatus, State};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Where a status stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Not yet taken by a poster.
    Waiting,
    /// Claimed by a poster, which is posting it.
    Posting,
    /// GitHub took it.
    Posted,
    /// Not posted after the poster's retries: shown on the run page.
    Failed,
}

impl Delivery {
    /// The column's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Waiting => "waiting",
            Delivery::Posting => "posting",
            Delivery::Posted => "posted",
            Delivery::Failed => "failed",
        }
    }

    /// The delivery spelt `text`.
    pub fn parse(text: &str) -> Option<Delivery> {
        [
            Delivery::Waiting,
            Delivery::Posting,
            Delivery::Posted,
            Delivery::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
    }
}

/// A coordinator run that reports to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The run.
    pub run_id: String,
    /// Its project (whose credentials post).
    pub project: String,
    /// `owner/repo`.
    pub repository: String,
    /// The commit.
    pub commit_sha: String,
}

/// One status in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// `<run id>/<what>`: the same status always has the same id.
    pub id: String,
    /// Posting order.
    pub seq: i64,
    /// The run and commit it is about.
    pub target: Target,
    /// What to post.
    pub status: CommitStatus,
    /// Where it stands.
    pub delivery: Delivery,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

const COLUMNS: &str = "id, seq, run_id, project, repository, commit_sha, context, state, \
     description, target_url, delivery, error";

/// `waiting`, or `posting` under a claim that expired before `$1`; columns of `table`.
fn takeable(table: &str) -> String {
    format!(
        "({table}delivery = 'waiting' OR ({table}delivery = 'posting' \
         AND {table}claim_expires < $1))"
    )
}

impl Store {
    /// Records that run `target.run_id` reports to its commit. Again: no change.
    pub async fn outbox_track(&self, target: &Target) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO github_targets (run_id, project, repository, commit_sha, complete) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(&target.run_id)
        .bind(&target.project)
        .bind(&target.repository)
        .bind(&target.commit_sha)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The runs that may still owe statuses (their summary is not in the outbox yet).
    pub async fn outbox_open_targets(&self) -> Result<Vec<Target>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, project, repository, commit_sha FROM github_targets \
             WHERE complete = 0 ORDER BY run_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(target_row).collect()
    }

    /// Marks run `run_id`'s statuses all added.
    pub async fn outbox_complete(&self, run_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE github_targets SET complete = 1 WHERE run_id = $1")
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds `rows` as waiting, in one transaction; ids already present are skipped.
    /// Returns how many were new.
    pub async fn outbox_add(&self, rows: &[OutboxRow]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for row in rows {
            let done = sqlx::query(
                "INSERT INTO github_outbox (id, seq, run_id, project, repository, commit_sha, \
                 context, state, description, target_url, delivery) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(row.seq)
            .bind(&row.target.run_id)
            .bind(&row.target.project)
            .bind(&row.target.repository)
            .bind(&row.target.commit_sha)
            .bind(&row.status.context)
            .bind(row.status.state.as_str())
            .bind(&row.status.description)
            .bind(row.status.target_url.clone())
            .bind(Delivery::Waiting.as_str())
            .execute(&mut *tx)
            .await?;
            added += done.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Every status of run `run_id`, in posting order.
    pub async fn outbox_of_run(&self, run_id: &str) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM github_outbox WHERE run_id = $1 ORDER BY seq"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// Up to `limit` statuses a poster may take at `now`, oldest first: waiting (or with
    /// an expired claim), and the first unposted of their commit and context.
    pub async fn outbox_next(&self, now: i64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM github_outbox o WHERE {} \
             AND NOT EXISTS (SELECT 1 FROM github_outbox p \
                 WHERE p.repository = o.repository AND p.commit_sha = o.commit_sha \
                 AND p.context = o.context AND p.seq < o.seq \
                 AND p.delivery IN ('waiting', 'posting')) \
             ORDER BY o.seq LIMIT $2",
            takeable("o.")
        ))
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// Claims status `id` for poster `by` until `expires`, if nobody holds it at `now`.
    /// `false`: another poster has it (or it is settled).
    pub async fn outbox_claim(
        &self,
        id: &str,
        by: &str,
        now: i64,
        expires: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE github_outbox SET delivery = 'posting', claimed_by = $2, claim_expires = $3 \
             WHERE id = $4 AND {}",
            takeable("")
        ))
        .bind(now)
        .bind(by)
        .bind(expires)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Extends `by`'s claim on `id` to `expires`. `false`: the claim is lost.
    pub async fn outbox_renew(&self, id: &str, by: &str, expires: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE github_outbox SET claim_expires = $1 \
             WHERE id = $2 AND claimed_by = $3 AND delivery = 'posting'",
        )
        .bind(expires)
        .bind(id)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Settles `by`'s claim on `id`: posted (`error` `None`) or failed. `false`: the
    /// claim was lost before.
    pub async fn outbox_settle(
        &self,
        id: &str,
        by: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let delivery = match error {
            None => Delivery::Posted,
            Some(_) => Delivery::Failed,
        };
        let done = sqlx::query(
            "UPDATE github_outbox SET delivery = $1, error = $2, settled = $3, \
             claim_expires = NULL WHERE id = $4 AND claimed_by = $5 AND delivery = 'posting'",
        )
        .bind(delivery.as_str())
        .bind(error.map(str::to_string))
        .bind(now)
        .bind(id)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn target_row(r: &AnyRow) -> Result<Target, StoreError> {
    Ok(Target {
        run_id: r.try_get("run_id")?,
        project: r.try_get("project")?,
        repository: r.try_get("repository")?,
        commit_sha: r.try_get("commit_sha")?,
    })
}

fn outbox_row(r: &AnyRow) -> Result<OutboxRow, StoreError> {
    let text = |column: &str| -> Result<String, StoreError> { Ok(r.try_get(column)?) };
    let unknown = |what: &str, value: String| {
        StoreError::Query(sqlx::Error::Decode(
            format!("github_outbox: unknown {what} {value:?}").into(),
        ))
    };
    let state = text("state")?;
    let delivery = text("delivery")?;
    Ok(OutboxRow {
        id: text("id")?,
        seq: r.try_get("seq")?,
        target: target_row(r)?,
        status: CommitStatus {
            state: State::parse(&state).ok_or_else(|| unknown("state", state.clone()))?,
            context: text("context")?,
            description: text("description")?,
            target_url: r.try_get("target_url")?,
        },
        delivery: Delivery::parse(&delivery).ok_or_else(|| unknown("delivery", delivery))?,
        error: r.try_get("error")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_spell_back_and_forth() {
        for d in [
            Delivery::Waiting,
            Delivery::Posting,
            Delivery::Posted,
            Delivery::Failed,
        ] {
            assert_eq!(Delivery::parse(d.as_str()), Some(d));
        }
        assert_eq!(Delivery::parse("sent"), None);
    }
}
