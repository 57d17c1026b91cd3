//! The coordinator (`ponyswarm serve`): an axum service over the store that queues the
//! jobs of trusted projects, hands them to agents under leases, takes their signed
//! results, decides each job by quorum, and shows runs on plain web pages.
//!
//! - [`config`]: the TOML file and the trusted list;
//! - [`enqueue`]: a source tarball and its matrix become a run with queued jobs (shared
//!   by `ponyswarm submit` and the webhook); [`tarball`] packs and safely unpacks trees;
//! - [`queue`]: claims (atomic, long-polled), heartbeats, releases;
//! - [`results`]: signed results, quorum, `error`s retried elsewhere, recording,
//!   finishing runs;
//! - [`cancel`]: cancelling a run (queued jobs at once, running ones at their next
//!   heartbeat);
//! - [`stuck`]: jobs no live agent can take: why, and giving up on them; [`seen`]: which
//!   agents called lately, written in batches;
//! - [`routes`]: the HTTP API v1 (see [`crate::swarm::api`]); [`admission`]: what a
//!   request may cost (body caps, requests at once, time);
//! - [`webhook`]: GitHub's `push` and `pull_request` events; [`gate`]: which pull
//!   requests it queues, and how far their code is trusted (pure);
//! - [`pages`]: the run list, a run's jobs, and its HTML report;
//! - [`github`]: the commit statuses a run owes (pure); [`outbox`]: posting them, through
//!   the store's outbox, so they survive restarts.
//!
//! Everything lives in the store, so a restart loses nothing and several coordinators
//! can share one PostgreSQL.

mod admission;
pub mod cancel;
pub mod config;
pub(crate) mod enqueue;
mod error;
pub mod gate;
pub mod github;
mod labeler;
pub mod outbox;
mod pages;
pub(crate) mod queue;
pub(crate) mod results;
mod routes;
pub mod seen;
pub mod stuck;
pub mod tarball;
pub(crate) mod webhook;

pub use config::{Config, ConfigError, Project};
pub use error::ApiError;

use crate::store::swarm::AgentRow;
use crate::store::{RunOwner, Store};
use crate::swarm::sign::Keypair;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long an agent looked up by its token is taken from memory rather than the store,
/// at most: each entry lasts between half of it and all of it, at random, so agents that
/// started together are not all looked up again at the same moment (at 500 agents, a
/// burst of 500 reads that the calls behind them waited for). Every call of an agent is
/// authenticated, so this spares the store a read per call; the price is that a token
/// replaced by re-registering on another coordinator sharing the database keeps
/// working here for up to this long.
const AGENT_CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Past this many cached agents, the expired ones are dropped on the next insert.
const AGENT_CACHE_PRUNE_AT: usize = 10_000;

/// The coordinator's state, shared by every request.
#[derive(Debug)]
pub struct Coordinator {
    /// The configuration file, as read at start.
    pub config: Config,
    /// The store (the coordinator's runs are recorded under a host name no machine
    /// has, so `ponyswarm run` on the same database never marks them interrupted).
    pub store: Store,
    /// Signs every job spec.
    pub key: Keypair,
    /// Links on pages and in answers.
    pub public_url: String,
    /// Woken when jobs become claimable, so long-polls answer at once.
    pub queued: Notify,
    /// Woken when a run may owe GitHub a commit status, so the poster looks at once.
    pub outbox: Notify,
    /// Cancelled when the coordinator shuts down: waiting claims answer at once (empty)
    /// and the background tasks stop.
    pub stopping: CancellationToken,
    /// The agents that called, for [`seen::run`] to write down.
    seen: seen::Seen,
    /// Agents by token hash, as last read from the store, and until when to trust that.
    agents: Mutex<HashMap<String, (AgentRow, std::time::Instant)>>,
    pages: pages::Pages,
}

impl Coordinator {
    /// A coordinator over `store` with `config`; `public_url` is used when the file has
    /// none. Reads (or makes) the key in `data_dir/coordinator.key`, and writes its
    /// public half to `data_dir/coordinator.pub` for agents to pin.
    pub fn new(config: Config, store: Store, public_url: String) -> Result<Coordinator, String> {
        let key_path = config.data_dir.join("coordinator.key");
        let key = Keypair::load_or_create(&key_path).map_err(|e| e.to_string())?;
        // For agents that pin the key from a file (`coordinator_key_file`).
        let pub_path = config.data_dir.join("coordinator.pub");
        std::fs::write(&pub_path, format!("{}\n", key.public_hex()))
            .map_err(|e| format!("{}: {e}", pub_path.display()))?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or(public_url)
            .trim_end_matches('/')
            .to_string();
        let store = store.with_owner(RunOwner {
            host: "ponyswarm-coordinator".into(),
            pid: 0,
        });
        Ok(Coordinator {
            config,
            store,
            key,
            public_url,
            queued: Notify::new(),
            outbox: Notify::new(),
            stopping: CancellationToken::new(),
            seen: Default::default(),
            agents: Mutex::new(HashMap::new()),
            pages: pages::Pages::new().map_err(|e| e.to_string())?,
        })
    }

    /// Where run `id`'s HTML report is written.
    pub fn report_dir(&self, run_id: &str) -> PathBuf {
        self.config.data_dir.join("reports").join(run_id)
    }

    /// Starts shutting down: claims waiting in a long poll answer at once (no job),
    /// new ones answer at once, and the background tasks stop.
    pub fn shut_down(&self) {
        self.stopping.cancel();
    }

    /// The agent whose token hashes to `token_hash`: from memory when read in the last
    /// [`AGENT_CACHE_FOR`] (or less, see there), else from the store.
    pub async fn agent_by_token(&self, token_hash: &str) -> Result<Option<AgentRow>, ApiError> {
        {
            let agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((row, until)) = agents.get(token_hash) {
                if std::time::Instant::now() < *until {
                    return Ok(Some(row.clone()));
                }
            }
        }
        let Some(row) = self.store.swarm_agent_by_token(token_hash).await? else {
            return Ok(None);
        };
        let now = std::time::Instant::now();
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        if agents.len() >= AGENT_CACHE_PRUNE_AT {
            agents.retain(|_, (_, until)| now < *until);
        }
        let until = now + cache_lifetime(getrandom::u32().unwrap_or(u32::MAX));
        agents.insert(token_hash.to_string(), (row.clone(), until));
        Ok(Some(row))
    }

    /// Forgets what [`Coordinator::agent_by_token`] keeps of agent `id`: it has just
    /// registered again, with a new token and perhaps new capabilities.
    pub fn forget_agent(&self, id: &str) {
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        agents.retain(|_, (row, _)| row.id != id);
    }

    /// Notes that `agent_id` called now, for [`stuck`]'s live agents: written with
    /// [`seen::run`]'s next batch, at most every few seconds per agent by this
    /// coordinator; the call does not wait for it.
    pub fn seen(&self, agent_id: &str) {
        self.seen.note(agent_id, now_ms());
    }

    /// The router: API, webhook, pages. Starts the commit status poster
    /// ([`outbox::run`]), the watch on jobs no agent can take ([`stuck::run`]), the
    /// writer of the agents seen ([`seen::run`]) and the queue's wakeups from
    /// PostgreSQL ([`queue::listen`]) in the background too, so they run wherever the
    /// coordinator serves; call it once, inside a Tokio runtime.
    pub fn router(self: Arc<Self>) -> axum::Router {
        tokio::spawn(outbox::run(self.clone()));
        tokio::spawn(stuck::run(self.clone()));
        tokio::spawn(seen::run(self.clone()));
        tokio::spawn(queue::listen(self.clone()));
        routes::router()
            .merge(webhook::router().layer(admission::body_limit(admission::WEBHOOK_BODY)))
            .merge(pages::router())
            .layer(admission::body_limit(admission::API_BODY))
            .layer(admission::in_flight())
            .layer(admission::timeout())
            .with_state(self)
    }
}

/// How long a cached agent lasts for a random `draw`: from half of [`AGENT_CACHE_FOR`]
/// (`draw` 0) to all of it (`u32::MAX`).
fn cache_lifetime(draw: u32) -> std::time::Duration {
    let half = AGENT_CACHE_FOR / 2;
    half + half.mul_f64(f64::from(draw) / f64::from(u32::MAX))
}

/// Milliseconds since 1970, the unit of lease times.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh random id: 16 bytes, hex.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system has no randomness");
    hex::encode(bytes)
}

/// SHA-256 of `data`, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_agent_lasts_between_half_the_cache_time_and_all_of_it() {
        assert_eq!(cache_lifetime(0), AGENT_CACHE_FOR / 2);
        assert_eq!(cache_lifetime(u32::MAX), AGENT_CACHE_FOR);
        let middle = cache_lifetime(u32::MAX / 2);
        assert!(AGENT_CACHE_FOR / 2 < middle && middle < AGENT_CACHE_FOR);
    }
}
