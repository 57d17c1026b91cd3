//! The swarm: a coordinator (`ponyswarm serve`) that holds runs and jobs in the store,
//! and volunteer agents (`ponyswarm agent`) that claim the jobs their machine can run,
//! run them with the same executor as `ponyswarm run`, and post signed results.
//!
//! - [`api`]: the HTTP API's paths and bodies (version 1), shared by both sides;
//! - [`sign`]: ed25519 keys and signed payloads (job specs by the coordinator, results
//!   by agents);
//! - [`quorum`]: when N results from distinct agents agree (pure);
//! - [`coordinator`]: the axum service, the queue and leases over the store, the GitHub
//!   webhook;
//! - [`agent`]: the volunteer's loop.

pub mod agent;
pub mod api;
pub mod coordinator;
pub(crate) mod quorum;
pub mod sign;
pub mod submit;
