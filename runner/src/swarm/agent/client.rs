//! The agent's side of the API v1 (see [`crate::swarm::api`]): one method per call,
//! each answer turned into data or a [`ClientError`] the loop can act on (retry,
//! register again, drop the job).
//!
//! Only HTTP: what to do with the answers is the loop's business.

use crate::swarm::api::{
    Claim, ClaimRequest, Heartbeat, Info, LeaseState, RegisterRequest, RegisterResponse, ResultAck,
    Signed, PREFIX,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// A source tarball larger than this is refused (a job's source, not a data set).
pub const MAX_SOURCE_BYTES: usize = 256 << 20;

/// Slack added to a long-poll's wait before the request itself times out.
const POLL_SLACK: Duration = Duration::from_secs(15);
/// Timeout of every other request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A call to the coordinator did not give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The coordinator could not be reached, or the connection broke (worth a retry).
    #[error("coordinator {url} unreachable: {source}")]
    Unreachable {
        /// The request.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The token was refused (401/403): register again, or fix the token.
    #[error("coordinator {url} refused the token ({status})")]
    Unauthorized {
        /// The request.
        url: String,
        /// The status.
        status: u16,
    },
    /// The lease is gone (409): the job was given to another agent or cancelled.
    #[error("lease {lease} is lost (the coordinator answered 409)")]
    LeaseLost {
        /// The lease.
        lease: String,
    },
    /// Another status.
    #[error("coordinator {url} answered {status}: {body}")]
    Status {
        /// The request.
        url: String,
        /// The status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer is not what the API says.
    #[error("coordinator {url} answered something unexpected: {message}")]
    BadAnswer {
        /// The request.
        url: String,
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// Whether trying again later may help (the coordinator restarting, a network blip).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// The coordinator at one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
}

impl Client {
    /// A client for the coordinator at `base` (`http://host:8642`), through `http`
    /// (made by [`crate::http::client`], which trusts the configured CA bundle).
    pub fn new(http: reqwest::Client, base: &str) -> Result<Client, url::ParseError> {
        let mut base = Url::parse(base)?;
        // Paths are joined below the base, also when it has a path of its own.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Client { http, base })
    }

    /// The coordinator's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        let rel = path.trim_start_matches('/');
        self.base
            .join(rel)
            .map(String::from)
            .unwrap_or_else(|_| format!("{}{rel}", self.base))
    }

    /// `GET /api/v1/info`.
    pub async fn info(&self) -> Result<Info, ClientError> {
        let url = self.url(&format!("{PREFIX}/info"));
        let req = self.http.get(&url).timeout(REQUEST_TIMEOUT);
        json(&url, send(&url, req).await?).await
    }

    /// `POST /api/v1/agents` with the registration `token`.
    pub async fn register(
        &self,
        token: &str,
        body: &RegisterRequest,
    ) -> Result<RegisterResponse, ClientError> {
        let url = self.url(&format!("{PREFIX}/agents"));
        let req = self.http.post(&url).bearer_auth(token).json(body);
        json(&url, send(&url, req.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `POST /api/v1/claims`: a job, or `None` when nothing fitting came within `wait`.
    pub async fn claim(&self, token: &str, wait: Duration) -> Result<Option<Claim>, ClientError> {
        let url = self.url(&format!("{PREFIX}/claims"));
        let body = ClaimRequest {
            wait_seconds: wait.as_secs(),
        };
        let req = self.http.post(&url).bearer_auth(token).json(&body);
        let answer = send(&url, req.timeout(wait + POLL_SLACK)).await?;
        if answer.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        json(&url, answer).await.map(Some)
    }

    /// `POST /api/v1/leases/{lease}/heartbeat`.
    pub async fn heartbeat(
        &self,
        token: &str,
        lease: &str,
        phase: Option<String>,
    ) -> Result<LeaseState, ClientError> {
        let url = self.url(&format!("{PREFIX}/leases/{lease}/heartbeat"));
        let req = self
            .http
            .post(&url)
            .bearer_auth(token)
            .json(&Heartbeat { phase });
        json(&url, lease_call(&url, lease, req).await?).await
    }

    /// `POST /api/v1/leases/{lease}/result` with the signed result.
    pub async fn result(
        &self,
        token: &str,
        lease: &str,
        signed: &Signed,
    ) -> Result<ResultAck, ClientError> {
        let url = self.url(&format!("{PREFIX}/leases/{lease}/result"));
        let req = self.http.post(&url).bearer_auth(token).json(signed);
        json(&url, lease_call(&url, lease, req).await?).await
    }

    /// `POST /api/v1/leases/{lease}/release`: the job goes back to the queue. A lease
    /// already gone counts as released.
    pub async fn release(&self, token: &str, lease: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("{PREFIX}/leases/{lease}/release"));
        let req = self.http.post(&url).bearer_auth(token);
        match lease_call(&url, lease, req).await {
            Ok(_) | Err(ClientError::LeaseLost { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Downloads the run's source from `path` (the spec's `source_path`, which must
    /// be under the API: a signed spec still cannot send the agent elsewhere).
    pub async fn source(&self, token: &str, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path);
        if !path.starts_with(&format!("{PREFIX}/")) || path.contains("..") {
            return Err(ClientError::BadAnswer {
                url,
                message: format!("the source path {path:?} is not under {PREFIX}/"),
            });
        }
        let req = self.http.get(&url).bearer_auth(token);
        let mut answer = send(&url, req.timeout(Duration::from_secs(600))).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.clone(),
                source,
            })?
        {
            if bytes.len() + chunk.len() > MAX_SOURCE_BYTES {
                return Err(ClientError::BadAnswer {
                    url,
                    message: format!("the source is larger than {} MiB", MAX_SOURCE_BYTES >> 20),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// Sends a lease call: 409 is [`ClientError::LeaseLost`].
async fn lease_call(
    url: &str,
    lease: &str,
    req: reqwest::RequestBuilder,
) -> Result<reqwest::Response, ClientError> {
    match send(url, req.timeout(REQUEST_TIMEOUT)).await {
        Err(ClientError::Status { status: 409, .. }) => Err(ClientError::LeaseLost {
            lease: lease.to_string(),
        }),
        other => other,
    }
}

/// Sends `req`; a non-success status is an error.
async fn send(url: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
    let answer = req
        .send()
        .await
        .map_err(|source| ClientError::Unreachable {
            url: url.to_string(),
            source,
        })?;
    let status = answer.status();
    if status.is_success() {
        return Ok(answer);
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ClientError::Unauthorized {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    let body = answer.text().await.unwrap_or_default();
    Err(ClientError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        body: body.chars().take(300).collect(),
    })
}

async fn json<T: DeserializeOwned>(url: &str, answer: reqwest::Response) -> Result<T, ClientError> {
    let bytes = answer
        .bytes()
        .await
        .map_err(|source| ClientError::Unreachable {
            url: url.to_string(),
            source,
        })?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::BadAnswer {
        url: url.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_below_the_base_with_or_without_a_slash() {
        let http = crate::http::client(&Default::default()).unwrap();
        for (base, want) in [
            ("http://h:1", "http://h:1/api/v1/info"),
            ("http://h:1/", "http://h:1/api/v1/info"),
            ("http://h:1/swarm", "http://h:1/swarm/api/v1/info"),
        ] {
            let c = Client::new(http.clone(), base).unwrap();
            assert_eq!(c.url("/api/v1/info"), want, "{base}");
        }
        assert!(Client::new(http, "not a url").is_err());
    }

    #[test]
    fn only_unreachable_and_server_errors_are_transient() {
        let status = |s| ClientError::Status {
            url: "u".into(),
            status: s,
            body: String::new(),
        };
        assert!(status(503).is_transient());
        assert!(!status(400).is_transient());
        assert!(!ClientError::LeaseLost { lease: "l".into() }.is_transient());
    }
}
