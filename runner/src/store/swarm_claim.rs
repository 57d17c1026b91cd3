//! The claim path of the swarm's queue: one agent takes the oldest job it can run, at
//! thousands of claims a second, on either database.
//!
//! The rules are the same on both: a job is claimable when it is `queued`, or `leased`
//! with the lease expired; the agent must offer the job's Python and every service it
//! needs; the agent must not have posted a result for the job already (a quorum wants
//! distinct agents); the oldest run's first job goes first. A job whose lease expired
//! goes before a queued one, the longest expired first: it was handed out before the
//! jobs still queued behind it.
//! The lease row is written with the claim, so a claim is all or nothing.
//!
//! - **PostgreSQL**: one statement per claim, `UPDATE … FROM (SELECT … FOR UPDATE SKIP
//!   LOCKED LIMIT 1)` with the lease insert and the run's columns in the same statement
//!   (CTEs). Concurrent claimers, in this process or in other coordinators on the same
//!   database, skip the rows another holds instead of waiting on them or retrying, so
//!   claims scale with connections. The scans follow the index on `(state, run_seq,
//!   position)` for queued jobs and `(state, lease_expires)` for expired leases
//!   (migration 0007), and stop at the first job that fits (see [`POSTGRES_FITS`]).
//! - **SQLite**: one writer at a time is all SQLite has, so claims go through a single
//!   writer task ([`ClaimWriter`]) that takes every claim waiting when it is free in one
//!   transaction: one commit (one WAL append) for a batch instead of one per claim.
//!
//! Capabilities are matched in SQL (the agent's Pythons and services as JSON arrays),
//! so a claim reads the jobs it can take rather than a page of candidates. Jobs no
//! agent can run are stepped over by every claim: they are few while the queue is
//! healthy, and the coordinator ends those that wait too long.

use super::swarm::SwarmJob;
use super::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::{Arc, LazyLock};
use tokio::sync::{mpsc, oneshot};

/// The PostgreSQL channel on which a coordinator says jobs became claimable, so
/// coordinators sharing a database wake each other's waiting claims.
pub const QUEUE_CHANNEL: &str = "ponyswarm_queue";

/// Most claims the SQLite writer takes in one transaction.
const BATCH: usize = 256;

/// What one claim asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The claiming agent.
    pub agent_id: String,
    /// The Pythons it offers.
    pub pythons: Vec<String>,
    /// The services it offers.
    pub services: Vec<String>,
    /// The new lease's id.
    pub lease: String,
    /// Now, ms since 1970: leases that expired before it are free.
    pub now: i64,
    /// When the new lease expires, ms since 1970.
    pub expires: i64,
}

/// A job taken by a claim, with what its spec needs of its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The job, as leased.
    pub job: SwarmJob,
    /// The run's project.
    pub project: String,
    /// The run's matrix file.
    pub matrix_file: String,
    /// SHA-256 of the run's source tarball.
    pub source_sha256: String,
    /// Whose code the run is.
    pub trust: crate::run::prepare::Trust,
}

type Reply = oneshot::Sender<Result<Option<Claimed>, StoreError>>;

/// The SQLite claim writer: a task that owns the claim transactions. Started on the
/// first claim (a store that never claims never starts it); ends with the last clone
/// of its store.
#[derive(Debug, Default, Clone)]
pub(super) struct ClaimWriter {
    sender: Arc<std::sync::OnceLock<mpsc::UnboundedSender<(ClaimRequest, Reply)>>>,
}

/// PostgreSQL. `$1` lease, `$2` agent, `$3` now, `$4` expires, `$5` Pythons and `$6`
/// services as JSON arrays. `FOR UPDATE SKIP LOCKED` in each probe: a row another
/// claim holds is stepped over, and a row taken meanwhile is rechecked and skipped.
const POSTGRES_CLAIM: &str = "\
WITH pick AS (SELECT COALESCE(\
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'leased' AND j.lease_expires < $3 \
     AND FITS ORDER BY j.lease_expires LIMIT 1 FOR UPDATE SKIP LOCKED), \
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'queued' \
     AND FITS ORDER BY j.run_seq, j.position LIMIT 1 FOR UPDATE SKIP LOCKED)) AS id), \
taken AS (UPDATE swarm_jobs j SET state = 'leased', lease_id = $1, agent_id = $2, \
    lease_expires = $4, phase = NULL FROM pick WHERE j.id = pick.id RETURNING JOBS), \
lease AS (INSERT INTO swarm_leases (id, job_id, agent_id, issued) \
    SELECT $1, j.id, $2, $3 FROM taken j) \
SELECT JOBS, r.project, r.matrix_file, r.source_sha256, r.trust \
FROM taken j JOIN swarm_runs r ON r.id = j.run_id";

/// PostgreSQL's capability match and quorum rule.
///
/// Spelled as a semi-join and an anti-join over the JSON arrays rather than as jsonb
/// containment (`<@`), on purpose: PostgreSQL guesses that `<@` keeps 0.1 % of rows, so
/// with the containment form it expected one fitting job and read, checked and sorted
/// the whole queue for it (25 ms a claim at 5,000 jobs) instead of walking the queue's
/// index in order and stopping at the first job that fits. With this form it reads
/// `python`'s statistics and walks the index, whatever share of the jobs need services.
const POSTGRES_FITS: &str = "j.python IN (SELECT jsonb_array_elements_text($5::jsonb)) \
     AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(j.services::jsonb) s(name) \
         WHERE s.name NOT IN (SELECT jsonb_array_elements_text($6::jsonb))) \
     AND NOT EXISTS (SELECT 1 FROM swarm_results r WHERE r.job_id = j.id AND r.agent_id = $2)";

/// SQLite, inside the writer's transaction; the same parameters as PostgreSQL's.
const SQLITE_CLAIM: &str = "\
UPDATE swarm_jobs SET state = 'leased', lease_id = $1, agent_id = $2, lease_expires = $4, \
    phase = NULL \
WHERE id = COALESCE(\
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'leased' AND j.lease_expires < $3 \
     AND FITS ORDER BY j.lease_expires LIMIT 1), \
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'queued' \
     AND FITS ORDER BY j.run_seq, j.position LIMIT 1)) \
RETURNING id";

/// SQLite's capability match (json_each) and quorum rule.
const SQLITE_FITS: &str = "j.python IN (SELECT value FROM json_each($5)) \
     AND NOT EXISTS (SELECT 1 FROM json_each(j.services) s \
         WHERE s.value NOT IN (SELECT value FROM json_each($6))) \
     AND NOT EXISTS (SELECT 1 FROM swarm_results r WHERE r.job_id = j.id AND r.agent_id = $2)";

/// A job's columns as the claims read them (from `j`).
fn job_columns() -> String {
    super::swarm::prefixed(super::swarm::JOB_COLUMNS, "j.")
}

/// The PostgreSQL claim, spelled out once: it runs on every claim.
fn postgres_claim() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        POSTGRES_CLAIM
            .replace("FITS", POSTGRES_FITS)
            .replace("JOBS", &job_columns())
    });
    &SQL
}

/// The SQLite claim, spelled out once.
fn sqlite_claim() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| SQLITE_CLAIM.replace("FITS", SQLITE_FITS));
    &SQL
}

/// What the SQLite writer reads of a job it claimed, with its run's columns.
fn sqlite_claimed() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {}, r.project, r.matrix_file, r.source_sha256, r.trust \
             FROM swarm_jobs j JOIN swarm_runs r ON r.id = j.run_id WHERE j.id = $1",
            job_columns()
        )
    });
    &SQL
}

impl Store {
    /// Takes the oldest job `req`'s agent can run under a new lease (see the module
    /// doc for the rules); `None` when there is none.
    pub async fn swarm_claim(&self, req: ClaimRequest) -> Result<Option<Claimed>, StoreError> {
        match self.backend {
            super::Backend::Postgres => {
                let row = bind(sqlx::query(postgres_claim()), &req)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(claimed_row).transpose()
            }
            super::Backend::Sqlite => {
                let (reply, answer) = oneshot::channel();
                self.claims
                    .sender
                    .get_or_init(|| spawn_writer(self.pool.clone()))
                    .send((req, reply))
                    .map_err(|_| StoreError::ClaimWriter("it has stopped".into()))?;
                answer
                    .await
                    .map_err(|_| StoreError::ClaimWriter("it dropped the claim".into()))?
            }
        }
    }

    /// How PostgreSQL plans `req`'s claim on this database (`EXPLAIN`, as text),
    /// without running it; `None` on SQLite. For checking that a claim walks the
    /// queue's index rather than reading and sorting the queue (see [`POSTGRES_FITS`]),
    /// in the tests and on a coordinator whose claims got slow.
    pub async fn swarm_claim_plan(&self, req: &ClaimRequest) -> Result<Option<String>, StoreError> {
        if self.backend != super::Backend::Postgres {
            return Ok(None);
        }
        let rows = bind(sqlx::query(&format!("EXPLAIN {}", postgres_claim())), req)
            .fetch_all(&self.pool)
            .await?;
        let lines = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(lines.join("\n")))
    }

    /// Says jobs became claimable: a `NOTIFY` on [`QUEUE_CHANNEL`] for the
    /// coordinators listening on PostgreSQL; nothing on SQLite (one coordinator, which
    /// wakes its own claims).
    pub(super) async fn swarm_announce<'e, E>(&self, executor: E) -> Result<(), StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        if self.backend == super::Backend::Postgres {
            sqlx::query(&format!("NOTIFY {QUEUE_CHANNEL}"))
                .execute(executor)
                .await?;
        }
        Ok(())
    }

    /// A listener on [`QUEUE_CHANNEL`] of this PostgreSQL; `None` on SQLite.
    pub async fn swarm_queue_listener(
        &self,
    ) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        if self.backend != super::Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(self.url.expose()).await?;
        listener.listen(QUEUE_CHANNEL).await?;
        Ok(Some(listener))
    }
}

fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    req: &ClaimRequest,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(req.lease.clone())
        .bind(req.agent_id.clone())
        .bind(req.now)
        .bind(req.expires)
        .bind(json_array(&req.pythons))
        .bind(json_array(&req.services))
}

fn json_array(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn spawn_writer(pool: sqlx::AnyPool) -> mpsc::UnboundedSender<(ClaimRequest, Reply)> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<(ClaimRequest, Reply)>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = receiver.recv().await {
            batch.push(first);
            // Claims that arrive while the last batch was written are all waiting now.
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let requests: Vec<ClaimRequest> = batch.iter().map(|(r, _)| r.clone()).collect();
            match sqlite_batch(&pool, &requests).await {
                Ok(answers) => {
                    for ((_, reply), answer) in batch.drain(..).zip(answers) {
                        let _ = reply.send(Ok(answer));
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    for (_, reply) in batch.drain(..) {
                        let _ = reply.send(Err(StoreError::ClaimWriter(format!(
                            "a batch of claims failed and was rolled back: {text}"
                        ))));
                    }
                }
            }
        }
    });
    sender
}

/// Every claim of `requests` in one transaction, in order: each sees the jobs the ones
/// before it took as leased. All or nothing.
async fn sqlite_batch(
    pool: &sqlx::AnyPool,
    requests: &[ClaimRequest],
) -> Result<Vec<Option<Claimed>>, StoreError> {
    let claim = sqlite_claim();
    let mut tx = pool.begin().await?;
    let mut answers = Vec::with_capacity(requests.len());
    for req in requests {
        let Some(row) = bind(sqlx::query(claim), req)
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
        let row = sqlx::query(sqlite_claimed())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        answers.push(Some(claimed_row(&row)?));
    }
    tx.commit().await?;
    Ok(answers)
}

fn claimed_row(r: &AnyRow) -> Result<Claimed, StoreError> {
    let job = super::swarm::job_row(r)?;
    Ok(Claimed {
        trust: super::swarm::trust_column(r, &job.run_id)?,
        job,
        project: r.try_get("project")?,
        matrix_file: r.try_get("matrix_file")?,
        source_sha256: r.try_get("source_sha256")?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::swarm::SwarmJobState;
    use super::*;

    #[test]
    fn claims_spell_out_the_same_rules_on_both_databases() {
        for (name, sql) in [("postgres", postgres_claim()), ("sqlite", sqlite_claim())] {
            assert!(
                !sql.contains("FITS") && !sql.contains("JOBS"),
                "{name}: {sql}"
            );
            for rule in [
                "j.state = 'leased' AND j.lease_expires < $3",
                "ORDER BY j.lease_expires LIMIT 1",
                "j.state = 'queued'",
                "ORDER BY j.run_seq, j.position LIMIT 1",
                "r.agent_id = $2",
                "$5",
                "$6",
            ] {
                assert!(sql.contains(rule), "{name} lacks {rule}: {sql}");
            }
            // Expired leases are probed before queued jobs, in both.
            assert!(sql.find("'leased' AND") < sql.find("'queued'"), "{name}");
        }
        assert_eq!(
            postgres_claim().matches("FOR UPDATE SKIP LOCKED").count(),
            2
        );
        assert!(postgres_claim().contains("INSERT INTO swarm_leases"));
    }

    #[test]
    fn capability_lists_are_bound_as_json_arrays() {
        assert_eq!(json_array(&[]), "[]");
        assert_eq!(
            json_array(&["3.11".into(), "a\"b".into()]),
            r#"["3.11","a\"b"]"#
        );
    }

    #[test]
    fn job_states_in_the_claims_are_the_stored_texts() {
        assert_eq!(SwarmJobState::Queued.as_str(), "queued");
        assert_eq!(SwarmJobState::Leased.as_str(), "leased");
    }
}
