//! Registration: who the agent is to the coordinator (its id and bearer token), and
//! the coordinator's key it checks every job spec against.
//!
//! The coordinator is allowed to go away and come back (a restart, a network blip):
//! registering retries until it answers, and a token the coordinator no longer knows
//! is replaced by registering again. A pinned coordinator key that does not match is
//! never retried: that is an impostor, or a misconfiguration, either way not ours to
//! guess.

use super::client::{Client, ClientError};
use crate::swarm::api::{RegisterRequest, RegisterResponse};
use std::time::Duration;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

/// The agent as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The agent's id.
    pub agent_id: String,
    /// The bearer token for every call.
    pub token: String,
    /// The coordinator's public key (hex).
    pub coordinator_key: String,
}

/// Registration cannot succeed by waiting.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The coordinator refused the registration token.
    #[error("the coordinator refused the registration token: {0}")]
    Refused(#[source] ClientError),
    /// The coordinator's key is not the pinned one.
    #[error("the coordinator at {url} presents key {got}, but the agent's config pins {pinned}: refusing to work for it")]
    WrongKey {
        /// The coordinator.
        url: String,
        /// Its key.
        got: String,
        /// The pinned key.
        pinned: String,
    },
    /// The coordinator answered something other than the API's answer.
    #[error("registration failed: {0}")]
    Failed(#[source] ClientError),
    /// Shut down before the coordinator answered.
    #[error("stopped before the coordinator answered")]
    Stopped,
}

/// Holds the current session and makes a new one when needed.
#[derive(Debug)]
pub struct Sessions {
    client: Client,
    registration_token: String,
    request: RegisterRequest,
    pinned: Option<String>,
    current: RwLock<Option<Session>>,
}

impl Sessions {
    /// Not registered yet: [`Sessions::register`] does it.
    pub fn new(
        client: Client,
        registration_token: String,
        request: RegisterRequest,
        pinned: Option<String>,
    ) -> Sessions {
        Sessions {
            client,
            registration_token,
            request,
            pinned,
            current: RwLock::new(None),
        }
    }

    /// The session now (registering first if there is none).
    pub async fn current(&self, stop: &CancellationToken) -> Result<Session, SessionError> {
        if let Some(s) = self.current.read().await.clone() {
            return Ok(s);
        }
        self.register(stop, None).await
    }

    /// Registers, retrying while the coordinator is unreachable. With `stale`, only
    /// when the current session is still that one (another slot may have renewed it).
    pub async fn register(
        &self,
        stop: &CancellationToken,
        stale: Option<&Session>,
    ) -> Result<Session, SessionError> {
        let mut current = self.current.write().await;
        if let Some(s) = current.as_ref() {
            if stale.is_none_or(|stale| stale != s) {
                return Ok(s.clone());
            }
        }
        let mut delay = Duration::from_millis(500);
        let mut said = false;
        let answer = loop {
            match self
                .client
                .register(&self.registration_token, &self.request)
                .await
            {
                Ok(a) => break a,
                Err(e @ ClientError::Unauthorized { .. }) => return Err(SessionError::Refused(e)),
                Err(e) if e.is_transient() => {
                    if !said {
                        eprintln!("agent: {e}; retrying until it answers");
                        said = true;
                    }
                }
                Err(e) => return Err(SessionError::Failed(e)),
            }
            tokio::select! {
                _ = stop.cancelled() => return Err(SessionError::Stopped),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        };
        let session = self.accept(answer)?;
        println!(
            "registered as {} with {} (coordinator key {})",
            session.agent_id,
            self.client.base(),
            session.coordinator_key
        );
        *current = Some(session.clone());
        Ok(session)
    }

    fn accept(&self, answer: RegisterResponse) -> Result<Session, SessionError> {
        if let Some(pinned) = &self.pinned {
            if !pinned
                .trim()
                .eq_ignore_ascii_case(answer.coordinator_key.trim())
            {
                return Err(SessionError::WrongKey {
                    url: self.client.base().to_string(),
                    got: answer.coordinator_key,
                    pinned: pinned.clone(),
                });
            }
        }
        Ok(Session {
            agent_id: answer.agent_id,
            token: answer.agent_token,
            coordinator_key: answer.coordinator_key,
        })
    }
}
