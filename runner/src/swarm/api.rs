//! The coordinator's HTTP API, version 1: every path and body both sides use.
//!
//! All paths are under [`PREFIX`]. Bodies are JSON. Agents authenticate with
//! `Authorization: Bearer <agent token>` (the token given at registration); job specs
//! and results travel as [`Signed`] payloads: the JSON text and an ed25519 signature of
//! exactly those bytes, so neither side depends on re-serializing the same way.
//!
//! | method | path                               | body → answer                          |
//! |--------|------------------------------------|----------------------------------------|
//! | GET    | /api/v1/openapi.json               | → the OpenAPI description              |
//! | GET    | /api/v1/info                       | → [`Info`]                             |
//! | POST   | /api/v1/agents                     | [`RegisterRequest`] → [`RegisterResponse`] (Bearer: a registration token) |
//! | POST   | /api/v1/claims                     | [`ClaimRequest`] → 200 [`Claim`], or 204 when nothing fits before `wait_seconds` |
//! | POST   | /api/v1/leases/{lease}/heartbeat   | [`Heartbeat`] → 200 [`LeaseState`], 409 when the lease is lost |
//! | POST   | /api/v1/leases/{lease}/result      | [`Signed`] of [`JobResult`] → [`ResultAck`] |
//! | POST   | /api/v1/leases/{lease}/release     | → 204 (the job goes back to the queue) |
//! | GET    | /api/v1/runs/{run}/source          | → the run's source, tar.gz             |
//! | POST   | /api/v1/runs?project=P&matrix=PATH&commit=SHA | tar.gz of the source → [`Submitted`] (Bearer: a submit token; `commit` optional) |
//! | GET    | /api/v1/runs/{run}                 | → [`RunState`]                         |
//! | POST   | /api/v1/runs/{run}/cancel          | → [`Cancelled`] (Bearer: a submit token); 404 for an unknown run |
//! | POST   | /hooks/github                      | GitHub's push / pull_request webhook   |

use crate::outcome::JobOutcome;
use serde::{Deserialize, Serialize};

/// Every API path starts with this.
pub const PREFIX: &str = "/api/v1";

/// What an agent's machine offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Capabilities {
    /// Catalog Pythons (`3.11`, `pypy3`) or image references this agent can run.
    pub pythons: Vec<String>,
    /// Catalog services (`postgres`, `redis`) or image references.
    pub services: Vec<String>,
    /// Most jobs at once.
    pub slots: u32,
}

/// `GET /api/v1/info`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    /// ponyswarm's version.
    pub version: String,
    /// The API version (1).
    pub api: u32,
    /// The coordinator's public key (hex), which signs every job spec.
    pub coordinator_key: String,
}

/// `POST /api/v1/agents`: an agent introduces itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// A human name for the agent (shown on the coordinator's pages).
    pub name: String,
    /// The agent's ed25519 public key, hex: its results must verify with it.
    pub public_key: String,
    /// What it offers.
    pub capabilities: Capabilities,
}

/// The answer to [`RegisterRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The agent's id, for every later call.
    pub agent_id: String,
    /// The bearer token for every later call.
    pub agent_token: String,
    /// The coordinator's public key (hex): job specs must verify with it.
    pub coordinator_key: String,
    /// How long a lease lasts without a heartbeat.
    pub lease_seconds: u64,
}

/// `POST /api/v1/claims`: give me a job my capabilities satisfy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// Long-poll: wait up to this long for a job before answering 204.
    pub wait_seconds: u64,
}

/// A job handed to one agent until the lease expires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claim {
    /// The lease id: names this claim in heartbeats and the result.
    pub lease: String,
    /// The job, signed by the coordinator: a [`Signed`] of [`JobSpec`].
    pub spec: Signed,
    /// Heartbeat at least this often (a third of it is a good period).
    pub lease_seconds: u64,
}

/// What to run. Signed by the coordinator; an agent refuses a spec that fails to
/// verify with the coordinator's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The run this job belongs to.
    pub run_id: String,
    /// The job's id within the coordinator (unique across runs).
    pub job_id: String,
    /// The project, as on the coordinator's trusted list.
    pub project: String,
    /// The matrix file, relative to the source's root.
    pub matrix_file: String,
    /// The job's name in the expanded matrix (`name (python=3.11, db=postgres)`).
    pub job_name: String,
    /// The job's index in the expanded matrix.
    pub job_index: usize,
    /// The Python the job needs (catalog name or image reference).
    pub python: String,
    /// The services the job needs.
    pub services: Vec<String>,
    /// Where the source is: a path under the coordinator (`/api/v1/runs/{run}/source`).
    pub source_path: String,
    /// SHA-256 of the source tarball, hex: the agent checks what it downloads.
    pub source_sha256: String,
    /// The lease this spec was issued under (a spec is good for one claim only).
    pub lease: String,
    /// When it was issued (RFC 3339, UTC).
    pub issued_at: String,
    /// Whose code the job runs: `untrusted` for a pull request from a fork, whose
    /// wheelhouses the agent keeps apart from trusted runs'. Coordinators always write
    /// it; a spec without it (from a coordinator older than the field) reads as
    /// `untrusted`, the safe value, which costs at most a wheelhouse of its own.
    /// Agents older than the field ignore it and run every job as trusted.
    #[serde(default = "untrusted")]
    pub trust: crate::run::prepare::Trust,
}

fn untrusted() -> crate::run::prepare::Trust {
    crate::run::prepare::Trust::Untrusted
}

/// `POST /api/v1/leases/{lease}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Heartbeat {
    /// What the job is doing now (`prepare`, `install`, `test`…), for the pages.
    pub phase: Option<String>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseState {
    /// Seconds until the lease expires without another heartbeat.
    pub expires_in_seconds: u64,
    /// The coordinator wants the job stopped (its run was cancelled).
    pub cancel: bool,
}

/// What an agent reports for a job. Signed by the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobResult {
    /// The job, as in the spec.
    pub job_id: String,
    /// The lease it ran under.
    pub lease: String,
    /// The agent.
    pub agent_id: String,
    /// What happened.
    pub outcome: JobOutcome,
}

/// The coordinator's answer to a result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultAck {
    /// Taken (a repeat of an accepted result is accepted again, idempotently).
    pub accepted: bool,
    /// It decided the job (quorum reached, or no quorum asked).
    pub counted: bool,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// The answer to a submit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submitted {
    /// The new run.
    pub run_id: String,
    /// Its jobs, queued.
    pub jobs: usize,
    /// Its page on the coordinator.
    pub url: String,
}

/// `GET /api/v1/runs/{run}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    /// The run.
    pub run_id: String,
    /// The project.
    pub project: String,
    /// `queued`, `running`, `finished`, `cancelled`.
    pub state: String,
    /// Its jobs.
    pub jobs: Vec<JobState>,
}

/// The answer to `POST /api/v1/runs/{run}/cancel`. Queued jobs are cancelled at once;
/// running ones are told on their agent's next heartbeat, and whatever those agents
/// post afterwards does not count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cancelled {
    /// The run.
    pub run_id: String,
    /// The run's state now: `cancelled`, or `finished` when it was over already (then
    /// nothing changed).
    pub state: String,
    /// Queued jobs cancelled.
    pub queued: u64,
    /// Running jobs whose agents are told to stop.
    pub running: u64,
}

/// One job of [`RunState`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobState {
    /// The job's id.
    pub job_id: String,
    /// Its name.
    pub name: String,
    /// `queued`, `leased`, `done`, `disagreed`, `flaky`, `cancelled`, `unschedulable`.
    pub state: String,
    /// The counted status, once counted (`passed`, `failed`…).
    pub status: Option<String>,
    /// The agents whose results were received.
    pub agents: Vec<String>,
    /// Why no live agent takes it, while it waits so (and why it ended
    /// `unschedulable`): "no agent offers python 3.9; 2 agents online".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

/// A payload and its signature: `payload` is the exact JSON text that was signed,
/// `signature` the ed25519 signature of its UTF-8 bytes, hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// JSON text.
    pub payload: String,
    /// Hex.
    pub signature: String,
}
