//! Who ponyswarm posts as: a token (`GITHUB_TOKEN`), or a GitHub App installation (an
//! app id, its RSA private key, and the installation on the repository's account).
//!
//! With an App, octocrab signs a short-lived JWT with the key, trades it for an
//! installation token at `POST /app/installations/{id}/access_tokens`, and renews it
//! before it expires.

use super::poster::GithubError;
use octocrab::models::{AppId, InstallationId};
use octocrab::{Octocrab, OctocrabBuilder};
use std::path::PathBuf;

/// How to authenticate to the GitHub API.
#[derive(Clone)]
pub enum Credentials {
    /// A personal access token, fine-grained token or the Actions `GITHUB_TOKEN`.
    Token(String),
    /// A GitHub App installation.
    App {
        /// The App's id (its settings page shows it).
        app_id: u64,
        /// The App's private key, PEM (`-----BEGIN RSA PRIVATE KEY-----`).
        key_pem: Vec<u8>,
        /// The installation on the repository's owner.
        installation_id: u64,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        match self {
            Credentials::Token(_) => write!(f, "Token(…)"),
            Credentials::App {
                app_id,
                installation_id,
                ..
            } => write!(
                f,
                "App {{ app_id: {app_id}, installation_id: {installation_id} }}"
            ),
        }
    }
}

impl From<String> for Credentials {
    fn from(token: String) -> Self {
        Credentials::Token(token)
    }
}

/// The variables [`credentials_from_env`] reads for an App.
pub const APP_ENV: [&str; 3] = [
    "PONYSWARM_GITHUB_APP_ID",
    "PONYSWARM_GITHUB_APP_KEY",
    "PONYSWARM_GITHUB_INSTALLATION_ID",
];

/// `GITHUB_TOKEN` when set; else an App from `PONYSWARM_GITHUB_APP_ID`,
/// `PONYSWARM_GITHUB_APP_KEY` (a path to the PEM key) and
/// `PONYSWARM_GITHUB_INSTALLATION_ID`.
pub fn credentials_from_env() -> Result<Credentials, GithubError> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = var("GITHUB_TOKEN") {
        return Ok(Credentials::Token(token));
    }
    let [id, key, installation] = APP_ENV.map(var);
    match (id, key, installation) {
        (None, None, None) => Err(GithubError::NoToken),
        (Some(id), Some(key), Some(installation)) => {
            let number = |name: &str, value: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| GithubError::BadApp(format!("{name}={value:?} is not a number")))
            };
            let path = PathBuf::from(&key);
            let key_pem = std::fs::read(&path).map_err(|e| {
                GithubError::BadApp(format!("cannot read the App key {}: {e}", path.display()))
            })?;
            Ok(Credentials::App {
                app_id: number(APP_ENV[0], &id)?,
                key_pem,
                installation_id: number(APP_ENV[2], &installation)?,
            })
        }
        _ => Err(GithubError::BadApp(format!(
            "a GitHub App needs all of {}",
            APP_ENV.join(", ")
        ))),
    }
}

/// An octocrab client for `api_base` authenticated with `credentials`.
pub(crate) fn client(api_base: &str, credentials: Credentials) -> Result<Octocrab, GithubError> {
    let builder = || {
        OctocrabBuilder::new()
            .base_uri(api_base)
            .map_err(|source| GithubError::BadBaseUrl {
                url: api_base.to_string(),
                source,
            })
    };
    match credentials {
        Credentials::Token(token) => builder()?
            .personal_token(token)
            .build()
            .map_err(GithubError::Client),
        Credentials::App {
            app_id,
            key_pem,
            installation_id,
        } => {
            let app = builder()?
                .app_from_rsa_pem(AppId(app_id), key_pem)
                .map_err(|e| {
                    GithubError::BadApp(format!("the App key is not an RSA PEM key: {e}"))
                })?
                .build()
                .map_err(GithubError::Client)?;
            app.installation(InstallationId(installation_id))
                .map_err(GithubError::Client)
        }
    }
}
