//! The volunteer: `ponyswarm agent --coordinator URL --config agent.ini`.
//!
//! An agent registers with a token and its public key, then runs `slots` loops that
//! each long-poll for a job its offers satisfy, refuse any spec that does not verify
//! with the coordinator's key, run it with the same executor as `ponyswarm run`
//! (heartbeating the lease, with the phase), and post the outcome signed with the
//! agent's key.
//!
//! - [`config`]: the INI file;
//! - [`local_images`]: `detect` offers, from the local images;
//! - [`client`]: the API calls;
//! - [`session`]: registration, and registering again after a coordinator restart;
//! - [`trust`]: whether a claimed spec may run here (pure);
//! - [`unpack`]: the source, checked and unpacked safely;
//! - [`execute`]: planning and running the one job;
//! - `slot`: the claim / heartbeat / result loop.
//!
//! Its output is one line per event on stdout (`registered as …`, `claimed lease …`,
//! `refused lease …`, `finished JOB: STATUS (…)`, `released lease …`), for people and
//! tests alike; problems go to stderr.

pub mod client;
pub mod config;
pub mod execute;
pub mod local_images;
pub mod offers;
pub(crate) mod session;
mod slot;
pub(crate) mod trust;
pub(crate) mod unpack;

use crate::swarm::api::{Capabilities, RegisterRequest};
use crate::swarm::sign::Keypair;
use client::Client;
use execute::Executor;
use session::{SessionError, Sessions};
use tokio_util::sync::CancellationToken;

/// The two steps of stopping an agent: the first Ctrl-C drains, the second aborts.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Stop claiming; finish and report the running jobs.
    pub drain: CancellationToken,
    /// Cancel the running jobs and release their leases (implies `drain`).
    pub abort: CancellationToken,
}

impl Shutdown {
    /// Neither yet.
    pub fn new() -> Shutdown {
        let abort = CancellationToken::new();
        Shutdown {
            drain: abort.child_token(),
            abort,
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

/// Everything an agent needs to run.
#[derive(Debug)]
pub struct AgentSetup {
    /// The coordinator.
    pub client: Client,
    /// The agent's name (shown by the coordinator).
    pub name: String,
    /// The registration token.
    pub token: String,
    /// The pinned coordinator key, if any.
    pub coordinator_key: Option<String>,
    /// The agent's key: results are signed with it.
    pub key: Keypair,
    /// What it offers (detection already done).
    pub offers: Capabilities,
    /// How jobs are run.
    pub executor: Executor,
}

/// A running agent, shared by its slots.
#[derive(Debug)]
pub struct Agent {
    client: Client,
    sessions: Sessions,
    key: Keypair,
    offers: Capabilities,
    executor: Executor,
    shutdown: Shutdown,
}

/// Runs the agent until `shutdown` drains it and its jobs are done (or released).
///
/// Fails only when registration cannot succeed by waiting: the token is refused, or
/// the coordinator's key is not the pinned one.
pub async fn run(setup: AgentSetup, shutdown: Shutdown) -> Result<(), SessionError> {
    let request = RegisterRequest {
        name: setup.name,
        public_key: setup.key.public_hex(),
        capabilities: setup.offers.clone(),
    };
    let sessions = Sessions::new(
        setup.client.clone(),
        setup.token,
        request,
        setup.coordinator_key,
    );
    // Registering once up front makes a refused token or a wrong key fail at start.
    match sessions.current(&shutdown.drain).await {
        Ok(_) | Err(SessionError::Stopped) => {}
        Err(e) => return Err(e),
    }
    let agent = std::sync::Arc::new(Agent {
        client: setup.client,
        sessions,
        key: setup.key,
        offers: setup.offers,
        executor: setup.executor,
        shutdown: shutdown.clone(),
    });
    let slots: Vec<_> = (0..agent.offers.slots.max(1))
        .map(|n| tokio::spawn(slot::run_slot(agent.clone(), n)))
        .collect();
    let mut first_error = None;
    for slot in slots {
        match slot.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                // One slot cannot register: none can; stop the others too.
                shutdown.drain.cancel();
                first_error.get_or_insert(e);
            }
            Err(e) => eprintln!("agent: a slot stopped unexpectedly: {e}"),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
