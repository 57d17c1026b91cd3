//! Posting commit statuses to GitHub (or GitHub Enterprise) through octocrab, retrying
//! server errors and waiting out rate limits as [`RetryPolicy`] decides.
//!
//! A post that fails never fails the run: every method returns the posts that did not
//! land as [`PostFailure`]s, for the caller to log and show.

use super::auth::Credentials;
use super::retry::{RateHeaders, RetryDecision, RetryPolicy};
use super::statuses::{self, CommitStatus, State};
use crate::outcome::{JobOutcome, RunResult};
use octocrab::Octocrab;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// GitHub keeps at most this many statuses per commit and context.
pub const MAX_PER_CONTEXT: u32 = 1000;

/// Why a poster could not be set up: wrong input from the user.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// `GITHUB_TOKEN` is unset or empty.
    #[error(
        "GITHUB_TOKEN is not set (nor PONYSWARM_GITHUB_APP_ID, _APP_KEY and \
         _INSTALLATION_ID): posting commit statuses needs a token or a GitHub App"
    )]
    NoToken,
    /// An owner or repository name with characters GitHub does not allow.
    #[error("{0:?} is not a GitHub owner or repository name")]
    BadName(String),
    /// A commit SHA that is not hexadecimal.
    #[error("{0:?} is not a commit SHA (expected hexadecimal)")]
    BadSha(String),
    /// The API base URL was refused by the HTTP client.
    #[error("cannot use {url} as the GitHub API base URL: {source}")]
    BadBaseUrl {
        /// The URL given.
        url: String,
        /// What octocrab said.
        source: octocrab::Error,
    },
    /// The HTTP client could not be built (for instance, no TLS root certificates found).
    #[error("cannot set up the GitHub client: {0}")]
    Client(#[source] octocrab::Error),
    /// The GitHub App settings are incomplete or unreadable.
    #[error("GitHub App: {0}")]
    BadApp(String),
}

/// A status that did not land, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFailure {
    /// The status's context.
    pub context: String,
    /// The state it would have set.
    pub state: State,
    /// Requests sent for it (0: none, see [`Reason::LimitReached`]).
    pub attempts: u32,
    /// Why it did not land.
    pub reason: Reason,
}

/// Why a status did not land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// GitHub answered with an error (after retries, when worth retrying).
    Http {
        /// The HTTP status code.
        status: u16,
        /// GitHub's message, cut to a line.
        message: String,
    },
    /// No answer: connection refused, reset, or timed out.
    Transport(String),
    /// Rate limited for longer than we wait.
    RateLimited {
        /// How long GitHub asked us to wait.
        wait: Duration,
    },
    /// [`MAX_PER_CONTEXT`] statuses were already posted for this context: not sent.
    LimitReached,
}

impl fmt::Display for PostFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (context, state) = (&self.context, self.state.as_str());
        write!(f, "commit status {context:?} ({state}) not posted: ")?;
        match &self.reason {
            Reason::Http { status, message } => write!(f, "HTTP {status}: {message}"),
            Reason::Transport(error) => write!(f, "{error}"),
            Reason::RateLimited { wait } => {
                write!(f, "rate limited for {}s", wait.as_secs())
            }
            Reason::LimitReached => {
                write!(f, "GitHub's limit of {MAX_PER_CONTEXT} per context reached")
            }
        }
    }
}

/// Whether `name` (an owner, repository or user login) can go into an API path as it
/// is: ASCII letters, digits, `-`, `_` and `.`, not empty, not starting with `.`.
pub fn is_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    !name.is_empty() && !name.starts_with('.') && name.chars().all(allowed)
}

/// Posts the statuses of one commit. Share it between jobs with an `Arc`: posts from
/// concurrent jobs are counted together.
pub struct GithubStatuses {
    crab: Octocrab,
    /// `/repos/{owner}/{repo}/statuses/{sha}`, checked to need no escaping.
    route: String,
    policy: RetryPolicy,
    request_timeout: Duration,
    max_per_context: u32,
    /// Statuses tried per context, to stay under GitHub's limit.
    sent: Mutex<HashMap<String, u32>>,
}

impl GithubStatuses {
    /// A poster for commit `sha` of `owner/repo` through the API at `api_base`
    /// (`https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise), with
    /// the default [`RetryPolicy`], a 30 s timeout per request and GitHub's
    /// [`MAX_PER_CONTEXT`].
    ///
    /// ## Security
    /// The token (or the App's JWT and installation token) is sent as
    /// `Authorization: Bearer …` to `api_base` only. TLS certificates
    /// are checked against the system's roots, so a GitHub Enterprise behind a private CA
    /// works once the CA is installed; an `http://` base sends the token in clear text.
    pub fn new(
        api_base: &Url,
        credentials: impl Into<Credentials>,
        owner: &str,
        repo: &str,
        sha: &str,
    ) -> Result<GithubStatuses, GithubError> {
        for name in [owner, repo] {
            if !is_name(name) {
                return Err(GithubError::BadName(name.to_string()));
            }
        }
        if sha.is_empty() || sha.len() > 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(GithubError::BadSha(sha.to_string()));
        }
        let crab = super::auth::client(api_base.as_str(), credentials.into())?;
        Ok(GithubStatuses {
            crab,
            route: format!("/repos/{owner}/{repo}/statuses/{sha}"),
            policy: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            max_per_context: MAX_PER_CONTEXT,
            sent: Mutex::new(HashMap::new()),
        })
    }

    /// Retries and waits (see [`RetryPolicy`] for the defaults).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> GithubStatuses {
        self.policy = policy;
        self
    }

    /// How long one request may take before it counts as failed (and is retried).
    pub fn request_timeout(mut self, timeout: Duration) -> GithubStatuses {
        self.request_timeout = timeout;
        self
    }

    /// Statuses posted per context before posting stops; at most GitHub's
    /// [`MAX_PER_CONTEXT`], lower for tests. Counts this poster's posts only: statuses an
    /// earlier run left on the same commit are not known.
    pub fn max_per_context(mut self, max: u32) -> GithubStatuses {
        self.max_per_context = max.min(MAX_PER_CONTEXT);
        self
    }

    /// `pending` for the run as a whole, as it starts `jobs` jobs.
    pub async fn post_run_started(&self, matrix_name: &str, jobs: usize) -> Vec<PostFailure> {
        self.post_all(&[statuses::run_started(matrix_name, jobs)])
            .await
    }

    /// `pending` for a job, as it starts.
    pub async fn post_job_started(&self, job_name: &str) -> Vec<PostFailure> {
        self.post_all(&[statuses::job_started(job_name)]).await
    }

    /// A finished job's final status, linking to `target_url` when given.
    pub async fn post_job(&self, job: &JobOutcome, target_url: Option<String>) -> Vec<PostFailure> {
        self.post_all(&[statuses::job_finished(job, target_url)])
            .await
    }

    /// Every job's final status and the run's, linking into `<reports>/<run id>/`. Use it
    /// when the run finishes, if jobs were not posted one by one; else [`Self::post_summary`].
    pub async fn post_finished(
        &self,
        result: &RunResult,
        reports: Option<&Url>,
    ) -> Vec<PostFailure> {
        self.post_all(&statuses::statuses_for(result, reports))
            .await
    }

    /// The run's final status only, linking to its report page when `reports` is given.
    pub async fn post_summary(
        &self,
        result: &RunResult,
        reports: Option<&Url>,
    ) -> Vec<PostFailure> {
        // The run's status comes last.
        let summary = statuses::statuses_for(result, reports).pop();
        self.post_all(summary.as_slice()).await
    }

    /// Posts `statuses` in order, one at a time.
    pub async fn post_all(&self, statuses: &[CommitStatus]) -> Vec<PostFailure> {
        let mut failures = Vec::new();
        for status in statuses {
            if let Err(failure) = self.post(status).await {
                tracing::warn!("{failure}");
                failures.push(failure);
            }
        }
        failures
    }

    /// Posts one status, retrying as the policy says.
    pub async fn post(&self, status: &CommitStatus) -> Result<(), PostFailure> {
        let failure = |attempts, reason| PostFailure {
            context: status.context.clone(),
            state: status.state,
            attempts,
            reason,
        };
        if !self.reserve(&status.context) {
            return Err(failure(0, Reason::LimitReached));
        }
        let mut attempt = 1;
        loop {
            let answer = self.send(status).await;
            let (code, rate) = match &answer {
                Ok(answer) => (Some(answer.status), answer.rate()),
                Err(_) => (None, RateHeaders::default()),
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let reason = || match &answer {
                Ok(a) => Reason::Http {
                    status: a.status,
                    message: a.message.clone(),
                },
                Err(error) => Reason::Transport(error.clone()),
            };
            match self.policy.decide(attempt, code, rate, now) {
                RetryDecision::Done => return Ok(()),
                RetryDecision::RetryAfter(wait) => {
                    tracing::info!(
                        "commit status {:?}: {} after attempt {attempt}; retrying in {}s",
                        status.context,
                        describe(&reason()),
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                RetryDecision::RateLimited(wait) => {
                    return Err(failure(attempt, Reason::RateLimited { wait }))
                }
                RetryDecision::GiveUp => return Err(failure(attempt, reason())),
            }
        }
    }

    /// Counts a status against its context's limit; `false` when the limit is reached.
    /// Every try counts, landed or not: erring towards stopping early keeps us under it.
    fn reserve(&self, context: &str) -> bool {
        // A poisoned lock only means another post panicked mid-count; the count is fine.
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let count = sent.entry(context.to_string()).or_insert(0);
        if *count >= self.max_per_context {
            return false;
        }
        *count += 1;
        true
    }

    /// One request. `Err` when there was no answer at all.
    async fn send(&self, status: &CommitStatus) -> Result<Answer, String> {
        let request = self.crab._post(self.route.as_str(), Some(status));
        let response = match tokio::time::timeout(self.request_timeout, request).await {
            Err(_) => return Err(format!("no answer in {}s", self.request_timeout.as_secs())),
            Ok(Err(error)) => return Err(error.to_string()),
            Ok(Ok(response)) => response,
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut answer = Answer {
            status: response.status().as_u16(),
            retry_after: header("retry-after"),
            remaining: header("x-ratelimit-remaining"),
            reset: header("x-ratelimit-reset"),
            message: String::new(),
        };
        if !response.status().is_success() {
            // The body only matters for saying what went wrong; a body that cannot be read
            // leaves the status code to say it.
            let body = self.crab.body_to_string(response).await.unwrap_or_default();
            answer.message = message_of(&body);
        }
        Ok(answer)
    }
}

/// What came back from one request.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    remaining: Option<String>,
    reset: Option<String>,
    message: String,
}

impl Answer {
    fn rate(&self) -> RateHeaders<'_> {
        RateHeaders {
            retry_after: self.retry_after.as_deref(),
            remaining: self.remaining.as_deref(),
            reset: self.reset.as_deref(),
        }
    }
}

/// GitHub's `message` from an error body, else the body's first line; at most 200 chars.
pub(crate) fn message_of(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| body.lines().next().unwrap_or("").to_string());
    message.chars().take(200).collect()
}

/// A failed attempt, for the log line announcing a retry.
fn describe(reason: &Reason) -> String {
    match reason {
        Reason::Http { status, message } => format!("HTTP {status} {message}"),
        Reason::Transport(error) => error.clone(),
        other => format!("{other:?}"),
    }
}

/// The token for posting statuses, from `GITHUB_TOKEN`.
pub fn token_from_env() -> Result<String, GithubError> {
    match std::env::var("GITHUB_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
        _ => Err(GithubError::NoToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_shas_are_refused() {
        let base = Url::parse("http://127.0.0.1:9/").expect("a valid URL");
        let new = |owner, repo, sha| GithubStatuses::new(&base, "t".to_string(), owner, repo, sha);
        assert!(matches!(
            new("o/x", "r", "abc1"),
            Err(GithubError::BadName(_))
        ));
        assert!(matches!(
            new("o", "..", "abc1"),
            Err(GithubError::BadName(_))
        ));
        assert!(matches!(
            new("o", "r", "abc?x"),
            Err(GithubError::BadSha(_))
        ));
        assert!(matches!(new("o", "r", ""), Err(GithubError::BadSha(_))));
    }

    #[test]
    fn messages_are_read_from_error_bodies() {
        assert_eq!(
            message_of(r#"{"message":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(message_of("upstream down\nmore"), "upstream down");
        assert_eq!(message_of(""), "");
    }
}
