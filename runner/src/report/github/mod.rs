//! Commit statuses on GitHub: one per job and one for the run, so a pull request shows
//! how each combination of the matrix fared.
//!
//! - [`statuses`]: which statuses a run posts, within GitHub's limits (pure);
//! - [`retry`]: when a post is tried again, and after how long (pure);
//! - [`auth`]: a token or a GitHub App installation;
//! - [`poster`]: posting them through octocrab;
//! - [`forward`]: a run's events posted as they happen (`ponyswarm run --github`).
//!
//! Posting is best effort: a status that does not land is reported, never fails the run.

pub mod auth;
pub mod forward;
pub mod poster;
pub mod retry;
pub mod statuses;

pub use auth::{credentials_from_env, Credentials};
pub use poster::{token_from_env, GithubError, GithubStatuses, PostFailure, Reason};
pub use retry::RetryPolicy;
pub use statuses::{statuses_for, CommitStatus, State};
