//! The swarm's jobs beyond claims and results: cancelling a run, agents seen
//! recently, and jobs no live agent can take (how long, why, and giving up on them).
//!
//! Like the rest of the queue, every change of a job's state is one conditional
//! `UPDATE` whose affected-row count says whether this call won, so several
//! coordinators on one PostgreSQL agree.

use super::swarm::{AgentRow, SwarmJobState, SwarmRunState};
use super::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

/// Most agents [`Store::swarm_touch_agents`] names in one statement: far below either
/// database's limit on parameters.
const TOUCH_CHUNK: usize = 500;

/// What cancelling a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelCount {
    /// Queued jobs cancelled (never ran).
    pub queued: u64,
    /// Leased jobs cancelled: their agents are told on their next heartbeat.
    pub running: u64,
}

/// Which jobs wait for an agent at `$3` (ms since 1970): queued (`$1`), or leased
/// (`$2`) with the lease expired.
const WAITING: &str = "(j.state = $1 OR (j.state = $2 AND j.lease_expires < $3))";

/// What some waiting jobs need, as the sweeper of stuck jobs asks the live agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingNeeds {
    /// The Python.
    pub python: String,
    /// The services.
    pub services: Vec<String>,
    /// The services as the jobs' column spells them, to find the jobs again.
    spelled: String,
}

/// A job waiting for an agent, as the sweeper of stuck jobs sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingJob {
    /// The job.
    pub id: String,
    /// Its run.
    pub run_id: String,
    /// The Python it needs.
    pub python: String,
    /// The services it needs.
    pub services: Vec<String>,
    /// The agents that already posted a result for it (they cannot take it again).
    pub answered: Vec<String>,
    /// Since when no live agent could take it (ms since 1970), if so.
    pub stuck_since: Option<i64>,
    /// Why, as last written.
    pub stuck_reason: Option<String>,
}

impl Store {
    /// Cancels run `run_id` if it is running: its queued and leased jobs become
    /// `cancelled` (leased ones keep their lease, so their agents' heartbeats learn it)
    /// and the run `cancelled`. `None`: the run is not running (unknown, finished, or
    /// cancelled already).
    pub async fn swarm_cancel_run(&self, run_id: &str) -> Result<Option<CancelCount>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let run = sqlx::query("UPDATE swarm_runs SET state = $1 WHERE id = $2 AND state = $3")
            .bind(SwarmRunState::Cancelled.as_str())
            .bind(run_id)
            .bind(SwarmRunState::Running.as_str())
            .execute(&mut *tx)
            .await?;
        if run.rows_affected() != 1 {
            return Ok(None);
        }
        let mut count = CancelCount::default();
        for (from, n) in [
            (SwarmJobState::Queued, &mut count.queued),
            (SwarmJobState::Leased, &mut count.running),
        ] {
            *n = sqlx::query(
                "UPDATE swarm_jobs SET state = $1, status = $2, phase = NULL \
                 WHERE run_id = $3 AND state = $4",
            )
            .bind(SwarmJobState::Cancelled.as_str())
            .bind(crate::outcome::Status::Cancelled.as_str())
            .bind(run_id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(Some(count))
    }

    /// Whether `lease`, held by `agent_id`, is of a job that was cancelled.
    pub async fn swarm_lease_cancelled(
        &self,
        lease: &str,
        agent_id: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM swarm_jobs WHERE lease_id = $1 AND agent_id = $2 AND state = $3",
        )
        .bind(lease)
        .bind(agent_id)
        .bind(SwarmJobState::Cancelled.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Notes that agents `ids` called at or after `since` (ms since 1970), in one
    /// statement per [`TOUCH_CHUNK`] agents; a later `last_seen` (another coordinator's)
    /// is kept.
    pub async fn swarm_touch_agents(&self, ids: &[String], since: i64) -> Result<(), StoreError> {
        for chunk in ids.chunks(TOUCH_CHUNK) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE swarm_agents SET last_seen = $1 WHERE id IN ({list}) \
                 AND (last_seen IS NULL OR last_seen < $1)"
            );
            // Not prepared: one spelling per number of agents would fill the
            // connections' statement caches.
            let mut query = sqlx::query(&sql).persistent(false).bind(since);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// The agents seen at or after `since` (ms since 1970).
    pub async fn swarm_live_agents(&self, since: i64) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, public_key, token_hash, capabilities, registered, operator \
             FROM swarm_agents WHERE last_seen >= $1 ORDER BY id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    public_key: r.try_get("public_key")?,
                    token_hash: r.try_get("token_hash")?,
                    capabilities: r.try_get("capabilities")?,
                    registered: r.try_get("registered")?,
                    operator: r.try_get("operator")?,
                })
            })
            .collect()
    }

    /// What the jobs waiting for an agent at `now` need, each once: the sweeper asks
    /// the live agents about these instead of about every waiting job.
    pub async fn swarm_waiting_needs(&self, now: i64) -> Result<Vec<WaitingNeeds>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT j.python, j.services FROM swarm_jobs j WHERE {WAITING}"
        ))
        .bind(SwarmJobState::Queued.as_str())
        .bind(SwarmJobState::Leased.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let spelled: String = r.try_get("services")?;
                Ok(WaitingNeeds {
                    python: r.try_get("python")?,
                    // Written by the store from a Vec<String>: unreadable only if edited by hand.
                    services: serde_json::from_str(&spelled).unwrap_or_default(),
                    spelled,
                })
            })
            .collect()
    }

    /// The jobs waiting for an agent at `now` that may be stuck, in queue order: those
    /// needing one of `unmet` (what no live agent offers), those some agent already
    /// answered (a quorum or a retry wants another agent), and those marked stuck (to
    /// clear the mark). Any other waiting job has a live agent that can take it and no
    /// mark to clear, so a healthy queue of thousands costs a few rows.
    pub async fn swarm_waiting_jobs(
        &self,
        now: i64,
        unmet: &[WaitingNeeds],
    ) -> Result<Vec<WaitingJob>, StoreError> {
        let columns = "j.id, j.run_id, j.run_seq, j.position, j.python, j.services, \
                       j.stuck_since, j.stuck_reason";
        let needing: String = (0..unmet.len())
            .map(|i| {
                format!(
                    " OR (j.python = ${} AND j.services = ${})",
                    4 + 2 * i,
                    5 + 2 * i
                )
            })
            .collect();
        let sql = format!(
            "SELECT {columns} FROM swarm_jobs j WHERE {WAITING} \
             AND (j.stuck_since IS NOT NULL{needing})"
        );
        // Not prepared: one spelling per number of needs would fill the connections'
        // statement caches.
        let mut query = sqlx::query(&sql)
            .persistent(false)
            .bind(SwarmJobState::Queued.as_str())
            .bind(SwarmJobState::Leased.as_str())
            .bind(now);
        for needs in unmet {
            query = query.bind(&needs.python).bind(&needs.spelled);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let answers = sqlx::query(&format!(
            "SELECT {columns}, r.agent_id AS answered_by FROM swarm_results r \
             JOIN swarm_jobs j ON j.id = r.job_id WHERE {WAITING}"
        ))
        .bind(SwarmJobState::Queued.as_str())
        .bind(SwarmJobState::Leased.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        // Each job once (a job can come from both queries, and once per answer), in
        // queue order, with every agent that answered it.
        let mut jobs: HashMap<String, (i64, i64, WaitingJob)> = HashMap::new();
        for r in rows.iter().chain(&answers) {
            let id: String = r.try_get("id")?;
            if let std::collections::hash_map::Entry::Vacant(place) = jobs.entry(id.clone()) {
                let services: String = r.try_get("services")?;
                let job = WaitingJob {
                    id,
                    run_id: r.try_get("run_id")?,
                    python: r.try_get("python")?,
                    services: serde_json::from_str(&services).unwrap_or_default(),
                    answered: Vec::new(),
                    stuck_since: r.try_get("stuck_since")?,
                    stuck_reason: r.try_get("stuck_reason")?,
                };
                place.insert((r.try_get("run_seq")?, r.try_get("position")?, job));
            }
        }
        for r in &answers {
            let id: String = r.try_get("id")?;
            if let Some((_, _, job)) = jobs.get_mut(&id) {
                job.answered.push(r.try_get("answered_by")?);
            }
        }
        let mut jobs: Vec<_> = jobs.into_values().collect();
        jobs.sort_by_key(|(seq, position, _)| (*seq, *position));
        Ok(jobs.into_iter().map(|(_, _, job)| job).collect())
    }

    /// Records why no live agent can take job `id` (since `since`), or, with `None`,
    /// that one can again.
    pub async fn swarm_set_stuck(
        &self,
        id: &str,
        stuck: Option<(i64, &str)>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE swarm_jobs SET stuck_since = $1, stuck_reason = $2 WHERE id = $3")
            .bind(stuck.map(|(since, _)| since))
            .bind(stuck.map(|(_, why)| why.to_string()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up on job `id`: `unschedulable`, with `status`, if it is still waiting at
    /// `now` and has been stuck since `since` or earlier. `false`: an agent took it
    /// meanwhile, or another coordinator gave up first.
    pub async fn swarm_give_up(
        &self,
        id: &str,
        status: &str,
        now: i64,
        since: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE swarm_jobs SET state = $1, status = $2, lease_id = NULL, agent_id = NULL, \
             lease_expires = NULL, phase = NULL WHERE id = $3 AND stuck_since <= $4 \
             AND (state = $5 OR (state = $6 AND lease_expires < $7))",
        )
        .bind(SwarmJobState::Unschedulable.as_str())
        .bind(status)
        .bind(id)
        .bind(since)
        .bind(SwarmJobState::Queued.as_str())
        .bind(SwarmJobState::Leased.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Why each of run `run_id`'s stuck (or unschedulable) jobs waits, by job id.
    pub async fn swarm_stuck_of_run(
        &self,
        run_id: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, stuck_reason FROM swarm_jobs WHERE run_id = $1 \
             AND stuck_reason IS NOT NULL",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("stuck_reason")?)))
            .collect()
    }
}
