//! The coordinator's queue in the store: agents, runs sent to it with their source,
//! queued jobs and their leases, signed results, and webhook deliveries seen.
//!
//! Every change of a job's hands is one conditional `UPDATE … WHERE state = …` whose
//! affected-row count says whether this call won: two coordinators on one PostgreSQL
//! never both take a job, lease it twice, or decide it twice. Times that leases compare
//! are milliseconds since 1970. Claims are their own module, [`super::swarm_claim`].

use super::codec::CodecError;
use super::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Where a job of the swarm is: waiting, held by an agent, or decided. Stored as its
/// [`as_str`](SwarmJobState::as_str) text, so rows written as strings read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SwarmJobState {
    /// Waiting for an agent.
    Queued,
    /// An agent holds it under a lease.
    Leased,
    /// Its result counted.
    Done,
    /// Its agents did not agree.
    Disagreed,
    /// Its results vary in a way that says the tests are flaky.
    Flaky,
    /// Its run was cancelled before it was decided.
    Cancelled,
    /// No live agent could take it for the coordinator's `unschedulable_after`.
    Unschedulable,
}

impl SwarmJobState {
    /// Every state, in the order a job goes through them.
    pub const ALL: [SwarmJobState; 7] = [
        SwarmJobState::Queued,
        SwarmJobState::Leased,
        SwarmJobState::Done,
        SwarmJobState::Disagreed,
        SwarmJobState::Flaky,
        SwarmJobState::Cancelled,
        SwarmJobState::Unschedulable,
    ];

    /// The text in the `swarm_jobs.state` column, the API and the pages.
    pub fn as_str(self) -> &'static str {
        match self {
            SwarmJobState::Queued => "queued",
            SwarmJobState::Leased => "leased",
            SwarmJobState::Done => "done",
            SwarmJobState::Disagreed => "disagreed",
            SwarmJobState::Flaky => "flaky",
            SwarmJobState::Cancelled => "cancelled",
            SwarmJobState::Unschedulable => "unschedulable",
        }
    }

    /// Reads the column's text.
    pub fn parse(text: &str) -> Result<SwarmJobState, CodecError> {
        SwarmJobState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| CodecError::State(text.to_string()))
    }

    /// Whether the job is decided (done, disagreed, flaky, cancelled or unschedulable):
    /// no agent runs it again.
    pub fn is_decided(self) -> bool {
        !matches!(self, SwarmJobState::Queued | SwarmJobState::Leased)
    }
}

/// Whether a run sent to the swarm still has undecided jobs. Stored as its
/// [`as_str`](SwarmRunState::as_str) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SwarmRunState {
    /// Some job is not decided yet.
    Running,
    /// Every job is decided.
    Finished,
    /// Cancelled: its undecided jobs were cancelled, and it is over.
    Cancelled,
}

impl SwarmRunState {
    /// The text in the `swarm_runs.state` column, the API and the pages.
    pub fn as_str(self) -> &'static str {
        match self {
            SwarmRunState::Running => "running",
            SwarmRunState::Finished => "finished",
            SwarmRunState::Cancelled => "cancelled",
        }
    }

    /// Reads the column's text.
    pub fn parse(text: &str) -> Result<SwarmRunState, CodecError> {
        [
            SwarmRunState::Running,
            SwarmRunState::Finished,
            SwarmRunState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| CodecError::State(text.to_string()))
    }
}

impl std::fmt::Display for SwarmJobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for SwarmRunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// Its id.
    pub id: String,
    /// Its human name.
    pub name: String,
    /// Its ed25519 public key, hex.
    pub public_key: String,
    /// SHA-256 of its bearer token, hex.
    pub token_hash: String,
    /// `api::Capabilities` as JSON.
    pub capabilities: String,
    /// When it registered (RFC 3339).
    pub registered: String,
    /// SHA-256 of the registration token it registered with, hex: who runs it, for
    /// counting a quorum. `None` for agents registered before this was kept.
    pub operator: Option<String>,
}

/// A run handed to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmRun {
    /// The run's id, the same as in `runs`.
    pub id: String,
    /// The project on the trusted list.
    pub project: String,
    /// The matrix file, relative to the source's root.
    pub matrix_file: String,
    /// Whether jobs are left to decide.
    pub state: SwarmRunState,
    /// Agreeing results needed per job.
    pub quorum: u32,
    /// `submit`, `push`, `pull_request`.
    pub origin: String,
    /// The commit, for webhook runs.
    pub commit_sha: Option<String>,
    /// SHA-256 of the source tarball.
    pub source_sha256: String,
    /// When it was enqueued (RFC 3339).
    pub created: String,
    /// Whose code it is: untrusted runs (pull requests from forks) get wheelhouses of
    /// their own on the agents.
    pub trust: crate::run::prepare::Trust,
}

/// What became of a webhook delivery [`Store::swarm_record_delivery`] was asked to
/// record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverySeen {
    /// New: recorded.
    New,
    /// Its delivery id was recorded before.
    SameId,
    /// Its body was recorded before, under another delivery id.
    SameBody,
}

/// A job of a run, as queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmJob {
    /// Unique across runs.
    pub id: String,
    /// The run.
    pub run_id: String,
    /// Expansion order.
    pub position: usize,
    /// The job's name in the expanded matrix.
    pub name: String,
    /// The Python it needs.
    pub python: String,
    /// The services it needs.
    pub services: Vec<String>,
    /// Whether it may fail without failing the run.
    pub allowed_failure: bool,
    /// Where the job is.
    pub state: SwarmJobState,
    /// The current lease, while leased.
    pub lease_id: Option<String>,
    /// The agent holding it, while leased.
    pub agent_id: Option<String>,
    /// When the current lease expires (ms since 1970).
    pub lease_expires: Option<i64>,
    /// What the agent says it is doing.
    pub phase: Option<String>,
    /// The counted status, once decided.
    pub status: Option<String>,
}

/// A result as an agent signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmResult {
    /// The lease it was run under (one result per lease).
    pub lease_id: String,
    /// The job.
    pub job_id: String,
    /// The agent.
    pub agent_id: String,
    /// The signed JSON text.
    pub payload: String,
    /// Its signature, hex.
    pub signature: String,
    /// The status it reports.
    pub status: String,
    /// Whether it counted toward the job's decision.
    pub counted: bool,
    /// When it arrived (ms since 1970).
    pub received: i64,
}

/// What taking a result needs to know of its lease, read in one query: who holds it,
/// its job, the run's quorum, and the result already received under it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseContext {
    /// The agent the lease was given to.
    pub holder: String,
    /// The lease's job, as it is now.
    pub job: SwarmJob,
    /// How many agents must agree on the job.
    pub quorum: u32,
    /// The result received under the lease already.
    pub earlier: Option<SwarmResult>,
}

/// A result with what its agent's row says of who sent it (`None`: no such agent row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFrom {
    /// The result.
    pub result: SwarmResult,
    /// The agent's public key.
    pub key: Option<String>,
    /// The agent's operator (its registration token's hash).
    pub operator: Option<String>,
}

/// A run with how many of its jobs are in each state, for the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmRunSummary {
    /// The run.
    pub run: SwarmRun,
    /// Jobs in all.
    pub jobs: i64,
    /// Jobs decided (done, disagreed or flaky).
    pub decided: i64,
    /// Jobs whose agents disagreed or were flaky.
    pub disputed: i64,
}

/// A run of at least this many jobs has PostgreSQL's statistics of the queue refreshed
/// when it is queued (see [`Store::swarm_enqueue`]).
const ANALYZE_AFTER_JOBS: usize = 100;

const RUN_COLUMNS: &str =
    "id, project, matrix_file, state, quorum, origin, commit_sha, source_sha256, created, trust";
pub(super) const JOB_COLUMNS: &str =
    "id, run_id, position, name, python, services, allowed_failure, \
     state, lease_id, agent_id, lease_expires, phase, status";
const RESULT_COLUMNS: &str =
    "lease_id, job_id, agent_id, payload, signature, status, counted, received";

impl Store {
    /// Registers an agent and returns its id: `agent.id` if its key is new, else the id
    /// that key already has (its name, capabilities, token and operator are updated, and
    /// the old token stops working).
    pub async fn swarm_register_agent(&self, agent: &AgentRow) -> Result<String, StoreError> {
        // A key already registered is the same agent (restarted, or moved): it keeps its
        // id, so it can neither answer a job twice nor count twice towards a quorum. One
        // statement over the unique index on the key, so two registrations of one key
        // at once still make one row.
        let row = sqlx::query(
            "INSERT INTO swarm_agents (id, name, public_key, token_hash, capabilities, \
             registered, operator) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (public_key) DO UPDATE SET name = excluded.name, \
             token_hash = excluded.token_hash, capabilities = excluded.capabilities, \
             operator = excluded.operator RETURNING id",
        )
        .bind(&agent.id)
        .bind(&agent.name)
        .bind(&agent.public_key)
        .bind(&agent.token_hash)
        .bind(&agent.capabilities)
        .bind(&agent.registered)
        .bind(&agent.operator)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The agent whose token hashes to `token_hash`.
    pub async fn swarm_agent_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<AgentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, public_key, token_hash, capabilities, registered, operator \
             FROM swarm_agents WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| agent_row(&r)).transpose()
    }

    /// The agent `id`.
    pub async fn swarm_agent(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, public_key, token_hash, capabilities, registered, operator \
             FROM swarm_agents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| agent_row(&r)).transpose()
    }

    /// Stores a run's source and queues its jobs, in one transaction. The run must
    /// already be begun with [`Store::begin_run`].
    pub async fn swarm_enqueue(
        &self,
        run: &SwarmRun,
        source: &[u8],
        jobs: &[SwarmJob],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM swarm_runs")
            .fetch_one(&mut *tx)
            .await?
            .try_get("seq")?;
        sqlx::query(
            "INSERT INTO swarm_runs (id, seq, project, matrix_file, state, quorum, origin, \
             commit_sha, source_sha256, source, created, trust) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&run.id)
        .bind(seq)
        .bind(&run.project)
        .bind(&run.matrix_file)
        .bind(run.state.as_str())
        .bind(i64::from(run.quorum))
        .bind(&run.origin)
        .bind(run.commit_sha.clone())
        .bind(&run.source_sha256)
        .bind(source.to_vec())
        .bind(&run.created)
        .bind(run.trust.as_str())
        .execute(&mut *tx)
        .await?;
        for job in jobs {
            sqlx::query(
                "INSERT INTO swarm_jobs (id, run_id, position, run_seq, name, python, services, \
                 allowed_failure, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&job.id)
            .bind(&run.id)
            .bind(job.position as i64)
            .bind(seq)
            .bind(&job.name)
            .bind(&job.python)
            .bind(serde_json::to_string(&job.services).unwrap_or_else(|_| "[]".into()))
            .bind(i64::from(job.allowed_failure))
            .bind(SwarmJobState::Queued.as_str())
            .execute(&mut *tx)
            .await?;
        }
        self.swarm_announce(&mut *tx).await?;
        tx.commit().await?;
        if self.backend == super::Backend::Postgres && jobs.len() >= ANALYZE_AFTER_JOBS {
            // Claims are planned from PostgreSQL's statistics of the queue: until
            // autovacuum gets to a big run queued at once, they would be planned for the
            // queue as it was (read and sort it all, instead of walking its index).
            // Only an optimisation: the run is queued either way.
            if let Err(e) = sqlx::query("ANALYZE swarm_jobs").execute(&self.pool).await {
                tracing::warn!("could not refresh the queue's statistics: {e}");
            }
        }
        Ok(())
    }

    /// Extends `lease` of `agent_id` to `expires` if it is still the job's and has not
    /// expired at `now`. `false`: the lease is lost.
    pub async fn swarm_heartbeat(
        &self,
        lease: &str,
        agent_id: &str,
        now: i64,
        expires: i64,
        phase: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE swarm_jobs SET lease_expires = $1, phase = COALESCE($2, phase) \
             WHERE lease_id = $3 AND agent_id = $4 AND state = $5 AND lease_expires >= $6",
        )
        .bind(expires)
        .bind(phase.map(String::from))
        .bind(lease)
        .bind(agent_id)
        .bind(SwarmJobState::Leased.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts the job held under `lease` (by `agent_id`) back in the queue. `false`: the
    /// lease was not the job's current one.
    pub async fn swarm_release(&self, lease: &str, agent_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE swarm_jobs SET state = $1, lease_id = NULL, agent_id = NULL, \
             lease_expires = NULL, phase = NULL \
             WHERE lease_id = $2 AND agent_id = $3 AND state = $4",
        )
        .bind(SwarmJobState::Queued.as_str())
        .bind(lease)
        .bind(agent_id)
        .bind(SwarmJobState::Leased.as_str())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            self.swarm_announce(&self.pool).await?;
        }
        Ok(done.rows_affected() == 1)
    }

    /// The job and agent of `lease`, current or not.
    pub async fn swarm_lease(&self, lease: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT job_id, agent_id FROM swarm_leases WHERE id = $1")
            .bind(lease)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("job_id")?, r.try_get("agent_id")?)))
            .transpose()
    }

    /// The job `id`.
    pub async fn swarm_job(&self, id: &str) -> Result<Option<SwarmJob>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM swarm_jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_row).transpose()
    }

    /// The jobs of run `run_id`, in expansion order.
    pub async fn swarm_jobs_of_run(&self, run_id: &str) -> Result<Vec<SwarmJob>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM swarm_jobs WHERE run_id = $1 ORDER BY position"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    /// Stores a result unless its lease already has one. `false`: it had one (a repeat).
    pub async fn swarm_add_result(&self, r: &SwarmResult) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO swarm_results (lease_id, job_id, agent_id, payload, signature, status, \
             counted, received) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (lease_id) DO NOTHING",
        )
        .bind(&r.lease_id)
        .bind(&r.job_id)
        .bind(&r.agent_id)
        .bind(&r.payload)
        .bind(&r.signature)
        .bind(&r.status)
        .bind(i64::from(r.counted))
        .bind(r.received)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The result received under `lease`.
    pub async fn swarm_result(&self, lease: &str) -> Result<Option<SwarmResult>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RESULT_COLUMNS} FROM swarm_results WHERE lease_id = $1"
        ))
        .bind(lease)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(result_row).transpose()
    }

    /// Every result received for `job_id`, oldest first.
    pub async fn swarm_results_of_job(&self, job_id: &str) -> Result<Vec<SwarmResult>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RESULT_COLUMNS} FROM swarm_results WHERE job_id = $1 \
             ORDER BY received, lease_id"
        ))
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(result_row).collect()
    }

    /// After a result that did not decide the job: back to the queue if `lease` is
    /// still the one holding it.
    pub async fn swarm_requeue(&self, job_id: &str, lease: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE swarm_jobs SET state = $1, lease_id = NULL, agent_id = NULL, \
             lease_expires = NULL, phase = NULL WHERE id = $2 AND lease_id = $3 AND state = $4",
        )
        .bind(SwarmJobState::Queued.as_str())
        .bind(job_id)
        .bind(lease)
        .bind(SwarmJobState::Leased.as_str())
        .execute(&self.pool)
        .await?;
        self.swarm_announce(&self.pool).await?;
        Ok(())
    }

    /// Lease `lease` with its job, quorum and earlier result (see [`LeaseContext`]).
    pub async fn swarm_lease_context(
        &self,
        lease: &str,
    ) -> Result<Option<LeaseContext>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT l.agent_id AS holder, {}, ru.quorum, \
             r.lease_id AS r_lease_id, r.agent_id AS r_agent_id, r.payload AS r_payload, \
             r.signature AS r_signature, r.status AS r_status, r.counted AS r_counted, \
             r.received AS r_received \
             FROM swarm_leases l JOIN swarm_jobs j ON j.id = l.job_id \
             JOIN swarm_runs ru ON ru.id = j.run_id \
             LEFT JOIN swarm_results r ON r.lease_id = l.id WHERE l.id = $1",
            prefixed(JOB_COLUMNS, "j.")
        ))
        .bind(lease)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let earlier = match r.try_get::<Option<String>, _>("r_lease_id")? {
            None => None,
            Some(lease_id) => Some(SwarmResult {
                lease_id,
                job_id: r.try_get("id")?,
                agent_id: r.try_get("r_agent_id")?,
                payload: r.try_get("r_payload")?,
                signature: r.try_get("r_signature")?,
                status: r.try_get("r_status")?,
                counted: r.try_get::<i64, _>("r_counted")? != 0,
                received: r.try_get("r_received")?,
            }),
        };
        Ok(Some(LeaseContext {
            holder: r.try_get("holder")?,
            job: job_row(&r)?,
            quorum: u32::try_from(r.try_get::<i64, _>("quorum")?).unwrap_or(1),
            earlier,
        }))
    }

    /// Every result received for `job_id`, oldest first, each with its agent's key and
    /// operator.
    pub async fn swarm_results_from(&self, job_id: &str) -> Result<Vec<ResultFrom>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {}, a.public_key AS a_key, a.operator AS a_operator \
             FROM swarm_results r LEFT JOIN swarm_agents a ON a.id = r.agent_id \
             WHERE r.job_id = $1 ORDER BY r.received, r.lease_id",
            prefixed(RESULT_COLUMNS, "r.")
        ))
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ResultFrom {
                    result: result_row(r)?,
                    key: r.try_get("a_key")?,
                    operator: r.try_get("a_operator")?,
                })
            })
            .collect()
    }

    /// Decides job `job_id` of run `run_id` (`done`, `disagreed`, `flaky`) with
    /// `outcome`'s status, marks the results under the leases in `counted` as the ones
    /// that counted, records `outcome` as [`Store::record_job`] does, and finishes the
    /// run as [`Store::swarm_finish_if_done`] does, in one transaction. `None`: the job
    /// was decided already (by another result, or another coordinator), and nothing was
    /// written; else whether this call finished the run.
    pub async fn swarm_settle(
        &self,
        job_id: &str,
        run_id: &str,
        state: SwarmJobState,
        counted: &[String],
        outcome: &crate::outcome::JobOutcome,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !decide_in(&mut tx, job_id, state, outcome.status.as_str(), counted).await? {
            return Ok(None);
        }
        super::write::record_job_in(&mut tx, run_id, outcome).await?;
        let finished = finish_if_done(run_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(Some(finished))
    }

    /// Marks run `run_id` finished if none of its jobs is still open. `true`: this call
    /// finished it (so this caller writes its report).
    pub async fn swarm_finish_if_done(&self, run_id: &str) -> Result<bool, StoreError> {
        let done = finish_if_done(run_id).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    /// The run `id` (without its source).
    pub async fn swarm_run(&self, id: &str) -> Result<Option<SwarmRun>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM swarm_runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_row).transpose()
    }

    /// The source tarball of run `id` and its SHA-256.
    pub async fn swarm_source(&self, id: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let row = sqlx::query("SELECT source, source_sha256 FROM swarm_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("source")?, r.try_get("source_sha256")?)))
            .transpose()
    }

    /// The newest `limit` runs with their job counts.
    pub async fn swarm_runs(&self, limit: usize) -> Result<Vec<SwarmRunSummary>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS}, \
             (SELECT COUNT(*) FROM swarm_jobs j WHERE j.run_id = r.id) AS n_jobs, \
             (SELECT COUNT(*) FROM swarm_jobs j WHERE j.run_id = r.id \
                AND j.state NOT IN ($1, $2)) AS n_decided, \
             (SELECT COUNT(*) FROM swarm_jobs j WHERE j.run_id = r.id \
                AND j.state IN ($3, $4)) AS n_disputed \
             FROM swarm_runs r ORDER BY seq DESC LIMIT $5"
        ))
        .bind(SwarmJobState::Queued.as_str())
        .bind(SwarmJobState::Leased.as_str())
        .bind(SwarmJobState::Disagreed.as_str())
        .bind(SwarmJobState::Flaky.as_str())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SwarmRunSummary {
                    run: run_row(r)?,
                    jobs: r.try_get("n_jobs")?,
                    decided: r.try_get("n_decided")?,
                    disputed: r.try_get("n_disputed")?,
                })
            })
            .collect()
    }

    /// Records webhook delivery `id` with the SHA-256 of its body (hex), unless the
    /// id or the body was recorded before (a replay, or a body replayed under a fresh
    /// id): then nothing is written and [`DeliverySeen`] says which.
    pub async fn swarm_record_delivery(
        &self,
        id: &str,
        event: &str,
        repository: &str,
        received: &str,
        body_sha256: &str,
    ) -> Result<DeliverySeen, StoreError> {
        // No conflict target: either unique key (the id, the body's hash) stops it.
        let done = sqlx::query(
            "INSERT INTO swarm_deliveries (id, event, repository, received, body_sha256) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(event)
        .bind(repository)
        .bind(received)
        .bind(body_sha256)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(DeliverySeen::New);
        }
        let same_id = sqlx::query("SELECT 1 AS one FROM swarm_deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        Ok(if same_id {
            DeliverySeen::SameId
        } else {
            DeliverySeen::SameBody
        })
    }
}

/// `columns` (comma-separated) each with `prefix`.
pub(super) fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decides job `job_id` inside `tx` (see [`Store::swarm_settle`]); `false`: it was
/// decided already.
async fn decide_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job_id: &str,
    state: SwarmJobState,
    status: &str,
    counted: &[String],
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE swarm_jobs SET state = $1, status = $2, lease_id = NULL, \
         lease_expires = NULL, phase = NULL WHERE id = $3 AND state IN ($4, $5)",
    )
    .bind(state.as_str())
    .bind(status)
    .bind(job_id)
    .bind(SwarmJobState::Queued.as_str())
    .bind(SwarmJobState::Leased.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    for lease in counted {
        sqlx::query("UPDATE swarm_results SET counted = 1 WHERE lease_id = $1")
            .bind(lease)
            .execute(&mut **tx)
            .await?;
    }
    Ok(true)
}

/// The statement of [`Store::swarm_finish_if_done`].
fn finish_if_done(run_id: &str) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(
        "UPDATE swarm_runs SET state = $4 WHERE id = $1 AND state = $5 \
         AND NOT EXISTS (SELECT 1 FROM swarm_jobs WHERE run_id = $1 AND state IN ($2, $3))",
    )
    .bind(run_id)
    .bind(SwarmJobState::Queued.as_str())
    .bind(SwarmJobState::Leased.as_str())
    .bind(SwarmRunState::Finished.as_str())
    .bind(SwarmRunState::Running.as_str())
}

fn agent_row(r: &AnyRow) -> Result<AgentRow, StoreError> {
    Ok(AgentRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        public_key: r.try_get("public_key")?,
        token_hash: r.try_get("token_hash")?,
        capabilities: r.try_get("capabilities")?,
        registered: r.try_get("registered")?,
        operator: r.try_get("operator")?,
    })
}

fn run_row(r: &AnyRow) -> Result<SwarmRun, StoreError> {
    let id: String = r.try_get("id")?;
    Ok(SwarmRun {
        project: r.try_get("project")?,
        matrix_file: r.try_get("matrix_file")?,
        state: SwarmRunState::parse(&r.try_get::<String, _>("state")?).map_err(|source| {
            StoreError::Corrupt {
                run: id.clone(),
                job: None,
                source,
            }
        })?,
        quorum: u32::try_from(r.try_get::<i64, _>("quorum")?).unwrap_or(1),
        origin: r.try_get("origin")?,
        commit_sha: r.try_get("commit_sha")?,
        source_sha256: r.try_get("source_sha256")?,
        created: r.try_get("created")?,
        trust: trust_column(r, &id)?,
        id,
    })
}

pub(super) fn job_row(r: &AnyRow) -> Result<SwarmJob, StoreError> {
    let services: String = r.try_get("services")?;
    let (id, run_id): (String, String) = (r.try_get("id")?, r.try_get("run_id")?);
    let state = SwarmJobState::parse(&r.try_get::<String, _>("state")?).map_err(|source| {
        StoreError::Corrupt {
            run: run_id.clone(),
            job: Some(id.clone()),
            source,
        }
    })?;
    Ok(SwarmJob {
        id,
        run_id,
        position: usize::try_from(r.try_get::<i64, _>("position")?).unwrap_or(0),
        name: r.try_get("name")?,
        python: r.try_get("python")?,
        // Written by this module from a Vec<String>: unreadable only if edited by hand.
        services: serde_json::from_str(&services).unwrap_or_default(),
        allowed_failure: r.try_get::<i64, _>("allowed_failure")? != 0,
        state,
        lease_id: r.try_get("lease_id")?,
        agent_id: r.try_get("agent_id")?,
        lease_expires: r.try_get("lease_expires")?,
        phase: r.try_get("phase")?,
        status: r.try_get("status")?,
    })
}

fn result_row(r: &AnyRow) -> Result<SwarmResult, StoreError> {
    Ok(SwarmResult {
        lease_id: r.try_get("lease_id")?,
        job_id: r.try_get("job_id")?,
        agent_id: r.try_get("agent_id")?,
        payload: r.try_get("payload")?,
        signature: r.try_get("signature")?,
        status: r.try_get("status")?,
        counted: r.try_get::<i64, _>("counted")? != 0,
        received: r.try_get("received")?,
    })
}

/// The `trust` column of a `swarm_runs` row (run `run`).
pub(super) fn trust_column(
    r: &AnyRow,
    run: &str,
) -> Result<crate::run::prepare::Trust, StoreError> {
    let text: String = r.try_get("trust")?;
    crate::run::prepare::Trust::parse(&text).ok_or_else(|| StoreError::Corrupt {
        run: run.to_string(),
        job: None,
        source: CodecError::State(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_the_text_rows_were_written_with() {
        let jobs = [
            (SwarmJobState::Queued, "queued", false),
            (SwarmJobState::Leased, "leased", false),
            (SwarmJobState::Done, "done", true),
            (SwarmJobState::Disagreed, "disagreed", true),
            (SwarmJobState::Flaky, "flaky", true),
            (SwarmJobState::Cancelled, "cancelled", true),
            (SwarmJobState::Unschedulable, "unschedulable", true),
        ];
        for (state, text, decided) in jobs {
            assert_eq!(state.as_str(), text);
            assert_eq!(SwarmJobState::parse(text), Ok(state));
            assert_eq!(state.is_decided(), decided, "{text}");
            assert_eq!(serde_json::to_value(state).ok(), Some(text.into()));
        }
        for (state, text) in [
            (SwarmRunState::Running, "running"),
            (SwarmRunState::Finished, "finished"),
            (SwarmRunState::Cancelled, "cancelled"),
        ] {
            assert_eq!(state.as_str(), text);
            assert_eq!(SwarmRunState::parse(text), Ok(state));
            assert_eq!(serde_json::to_value(state).ok(), Some(text.into()));
        }
        assert_eq!(
            SwarmJobState::parse("Queued"),
            Err(CodecError::State("Queued".into()))
        );
        assert!(SwarmRunState::parse("").is_err());
    }
}
