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
//! Claims go through a writer ([`ClaimWriter`]): tasks that take every claim waiting
//! when one of them is free and serve them as one batch, in one transaction. A claim
//! alone pays a round trip, a statement and a commit of its own; in a batch, claims
//! share them, so the busier the coordinator, the cheaper each claim.
//!
//! - **PostgreSQL** ([`postgres`]): per batch, one statement locks as many fitting jobs
//!   as there are claims (`FOR UPDATE SKIP LOCKED`: concurrent batches, in this process
//!   or in other coordinators on the same database, step over the rows another holds
//!   instead of waiting on them), hands them out in the order the claims came and
//!   leases them: one round trip. When an agent of the batch answered one of those
//!   jobs, or the claims offer different things, the long way: the jobs are locked,
//!   [`assign`] hands them out, one statement leases them, in a transaction.
//!   A few writers at once ([`POSTGRES_WRITERS`]), so a batch's round trips overlap
//!   another's. The scans follow the index on `(state, run_seq, position)` for queued
//!   jobs and `(state, lease_expires)` for expired leases (migration 0007), and stop at
//!   the first jobs that fit.
//! - **SQLite** ([`sqlite`]): one writer at a time is all SQLite has, so one writer
//!   task claims one after another in the batch's transaction: one commit (one WAL
//!   append) for a batch instead of one per claim.
//!
//! Capabilities are matched in SQL (the agent's Pythons and services as JSON arrays),
//! so a claim reads the jobs it can take rather than a page of candidates. Jobs no
//! agent can run are stepped over by every claim: they are few while the queue is
//! healthy, and the coordinator ends those that wait too long.

mod assign;
mod postgres;
mod sqlite;

use super::swarm::SwarmJob;
use super::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The PostgreSQL channel on which a coordinator says jobs became claimable, so
/// coordinators sharing a database wake each other's waiting claims.
pub const QUEUE_CHANNEL: &str = "ponyswarm_queue";

/// Most claims a writer takes in one batch.
const BATCH: usize = 256;

/// Set on the writers' PostgreSQL connections: their statements are planned once per
/// connection, not on every batch.
///
/// A prepared statement is planned again for each call's values until PostgreSQL finds
/// a plan for any values about as cheap; for the candidates it never does (it prices
/// `LIMIT $4` as a tenth of the queue), so every batch paid a planning of each
/// statement (0.3–0.5 ms apiece, measured with `pg_stat_statements` at 5,000 claims/s:
/// about as much as running them). The plan for any values is the one wanted: it walks
/// the queue's indexes in order and stops at the first jobs that fit, whatever the
/// values (`tests/swarm_claims.rs` checks its shape), and PostgreSQL plans it again when
/// `ANALYZE` changes the table's statistics.
const GENERIC_PLANS: &str = "SET plan_cache_mode = force_generic_plan";

/// Writers at once on PostgreSQL: while one waits on a round trip, another's batch
/// runs. Each holds a connection of the pool while it writes.
const POSTGRES_WRITERS: usize = 2;

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
type Waiting = mpsc::UnboundedReceiver<(ClaimRequest, Reply)>;

/// The claim writer: tasks that own the claim transactions, on connections of their
/// own. Started on the first claim (a store that never claims never starts it); ends
/// with the last clone of its store.
///
/// On PostgreSQL the writers have a pool of their own ([`POSTGRES_WRITERS`]
/// connections, opened on first use): on the store's pool, a batch waited for a
/// connection behind whatever else the coordinator was asking at the time (at 500
/// agents, bursts of hundreds of lookups), and every claim in it with it. SQLite's one
/// connection is shared: it has one writer anyway.
#[derive(Debug, Clone)]
pub(super) struct ClaimWriter {
    pool: sqlx::AnyPool,
    sender: Arc<std::sync::OnceLock<mpsc::UnboundedSender<(ClaimRequest, Reply)>>>,
}

impl ClaimWriter {
    /// The writer of a store on `backend` at `url`; `pool` is the store's, which
    /// SQLite's writer shares.
    pub(super) fn new(
        backend: Backend,
        url: &str,
        pool: &sqlx::AnyPool,
    ) -> Result<ClaimWriter, sqlx::Error> {
        let pool = match backend {
            Backend::Postgres => sqlx::any::AnyPoolOptions::new()
                .max_connections(POSTGRES_WRITERS as u32)
                .acquire_timeout(std::time::Duration::from_secs(30))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        use sqlx::Executor;
                        conn.execute(GENERIC_PLANS).await?;
                        Ok(())
                    })
                })
                .connect_lazy(url)?,
            Backend::Sqlite => pool.clone(),
        };
        Ok(ClaimWriter {
            pool,
            sender: Default::default(),
        })
    }

    /// Closes the writers' connections.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

/// A job's columns as the claims read them (from `j`).
fn job_columns() -> String {
    super::swarm::prefixed(super::swarm::JOB_COLUMNS, "j.")
}

impl Store {
    /// Takes the oldest job `req`'s agent can run under a new lease (see the module
    /// doc for the rules); `None` when there is none. Waits for the writer: claims
    /// made at once are served together.
    pub async fn swarm_claim(&self, req: ClaimRequest) -> Result<Option<Claimed>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.claims
            .sender
            .get_or_init(|| spawn_writers(self.claims.pool.clone(), self.backend))
            .send((req, reply))
            .map_err(|_| StoreError::ClaimWriter("it has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::ClaimWriter("it dropped the claim".into()))?
    }

    /// Serves `requests` as one batch, as the writer does with the claims waiting for
    /// it: the answer of each, in order, as if they were made one after another. An
    /// error when the batch failed (on PostgreSQL, claims it had answered before then
    /// keep their jobs: see [`postgres`]).
    pub async fn swarm_claim_batch(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<Option<Claimed>>, StoreError> {
        let (answers, done) = batch(&self.claims.pool, self.backend, requests).await;
        done.map(|()| answers)
    }

    /// How PostgreSQL plans the statements that look for `req`'s job (`EXPLAIN`, as
    /// text: a batch's candidates, then a claim alone), without running them, as the
    /// writers run them: prepared, on a writer's connection, with the plan for any
    /// values ([`GENERIC_PLANS`]); `None` on SQLite. For checking that claims walk the
    /// queue's index rather than reading and sorting the queue (see [`postgres`]'s
    /// capability match), in the tests and on a coordinator whose claims got slow.
    pub async fn swarm_claim_plan(&self, req: &ClaimRequest) -> Result<Option<String>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = self.claims.pool.acquire().await?;
        postgres::explain(&mut conn, req).await.map(Some)
    }

    /// Says jobs became claimable: a `NOTIFY` on [`QUEUE_CHANNEL`] for the
    /// coordinators listening on PostgreSQL; nothing on SQLite (one coordinator, which
    /// wakes its own claims).
    pub(super) async fn swarm_announce<'e, E>(&self, executor: E) -> Result<(), StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        if self.backend == Backend::Postgres {
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
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(self.url.expose()).await?;
        listener.listen(QUEUE_CHANNEL).await?;
        Ok(Some(listener))
    }
}

/// `sql` (the claim alone) bound for `req`: both databases' claim statements take the
/// same parameters in the same order.
fn claim_query<'q>(
    sql: &'q str,
    req: &ClaimRequest,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
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

/// What a batch gave: each claim's answer, in order, and the error that stopped the
/// batch, if one did. The claims answered with a job keep it even then (its lease is
/// written); the others failed.
type Served = (Vec<Option<Claimed>>, Result<(), StoreError>);

async fn batch(pool: &sqlx::AnyPool, backend: Backend, requests: &[ClaimRequest]) -> Served {
    match backend {
        Backend::Postgres => postgres::batch(pool, requests).await,
        Backend::Sqlite => match sqlite::batch(pool, requests).await {
            Ok(answers) => (answers, Ok(())),
            Err(e) => (vec![None; requests.len()], Err(e)),
        },
    }
}

fn spawn_writers(
    pool: sqlx::AnyPool,
    backend: Backend,
) -> mpsc::UnboundedSender<(ClaimRequest, Reply)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let writers = match backend {
        Backend::Postgres => POSTGRES_WRITERS,
        Backend::Sqlite => 1,
    };
    for _ in 0..writers {
        tokio::spawn(write(pool.clone(), backend, receiver.clone()));
    }
    sender
}

/// One writer: takes the claims waiting (one writer at a time looks), serves them as a
/// batch, answers each; until the store is gone.
async fn write(pool: sqlx::AnyPool, backend: Backend, waiting: Arc<tokio::sync::Mutex<Waiting>>) {
    let mut taken = Vec::with_capacity(BATCH);
    loop {
        {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            taken.push(first);
            // Claims that arrived while the last batch was written are all waiting now.
            while taken.len() < BATCH {
                match waiting.try_recv() {
                    Ok(next) => taken.push(next),
                    Err(_) => break,
                }
            }
        }
        let (requests, replies): (Vec<ClaimRequest>, Vec<Reply>) = taken.drain(..).unzip();
        let (answers, done) = batch(&pool, backend, &requests).await;
        let failed = done.err().map(|e| e.to_string());
        for (reply, answer) in replies.into_iter().zip(answers) {
            let _ = reply.send(match (answer, &failed) {
                (None, Some(text)) => Err(StoreError::ClaimWriter(format!(
                    "a batch of claims failed and was rolled back: {text}"
                ))),
                (answer, _) => Ok(answer),
            });
        }
    }
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
        let candidates = postgres::candidates_sql();
        for (name, sql) in [
            ("postgres", postgres::claim_sql()),
            ("postgres batch", candidates),
            ("sqlite", sqlite::claim_sql()),
        ] {
            for token in ["FITS", "JOBS", "CAPS", "PYTHONS", "SERVICES"] {
                assert!(!sql.contains(token), "{name} keeps {token}: {sql}");
            }
            for rule in [
                "j.state = 'leased' AND j.lease_expires < $",
                "ORDER BY j.lease_expires LIMIT",
                "j.state = 'queued'",
                "ORDER BY j.run_seq, j.position LIMIT",
                "r.agent_id",
                "j.python IN",
                "j.services",
            ] {
                assert!(sql.contains(rule), "{name} lacks {rule}: {sql}");
            }
            // Expired leases are probed before queued jobs, in all.
            assert!(sql.find("'leased' AND") < sql.find("'queued'"), "{name}");
        }
        for sql in [postgres::claim_sql(), candidates] {
            assert_eq!(sql.matches("FOR UPDATE SKIP LOCKED").count(), 2, "{sql}");
        }
        assert!(postgres::claim_sql().contains("INSERT INTO swarm_leases"));
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
