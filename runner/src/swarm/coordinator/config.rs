//! The coordinator's configuration file (TOML): where it listens, its database, its
//! tokens, and the trusted list of projects. Unknown keys are errors naming file:line,
//! so a misspelt `quorom` never silently means "no quorum".
//!
//! Pure apart from reading the file, and the environment variables (webhook secrets,
//! GitHub tokens) and App keys it names, when asked for them.

use crate::report::github::Credentials;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid (TOML syntax, unknown key, wrong type).
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is wrong in a way TOML cannot see.
    #[error("{path}: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `coordinator.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen (`--listen` overrides).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The store (`--database` / `PONYSWARM_DATABASE` override).
    pub database: Option<String>,
    /// The coordinator's address as users and GitHub see it, for links.
    pub public_url: Option<String>,
    /// Reports and the coordinator's key (`data_dir/coordinator.key`).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// A lease without a heartbeat for this long expires.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// A job no live agent can take (no agent offers its Python or services, or every
    /// one that does has answered it already) waits this long, then ends
    /// `unschedulable` so its run can finish: `"1h"`, `"90s"`, `"2m"`. Default 1 hour.
    #[serde(
        default = "default_unschedulable_after",
        deserialize_with = "duration_text"
    )]
    pub unschedulable_after: std::time::Duration,
    /// An `error` result (ponyswarm's or Docker's fault, not the project's) sends the
    /// job back to the queue, for another agent, this many times; the next `error`
    /// counts. Default 2; 0 makes the first `error` count.
    #[serde(default = "default_error_retries")]
    pub error_retries: u32,
    /// Tokens agents present to register. Each token is one operator: agents registered
    /// with the same token count once towards a quorum, so give each volunteer their own.
    #[serde(default)]
    pub agent_tokens: Vec<String>,
    /// Tokens `ponyswarm submit` presents.
    #[serde(default)]
    pub submit_tokens: Vec<String>,
    /// The GitHub API that commit statuses go to; else `PONYSWARM_GITHUB_API`, else
    /// `https://api.github.com`. GitHub Enterprise: `https://HOST/api/v3`.
    pub github_api: Option<String>,
    /// The trusted list: only these projects' jobs are queued.
    #[serde(default, rename = "project")]
    pub projects: Vec<Project>,
}

/// How a project's runs post commit statuses (`[project.github]`): a token from an
/// environment variable, or a GitHub App installation.
///
/// ## Security
/// Whoever can write the file decides which account posts; the token itself never
/// appears in it, and statuses go only to the project's configured `repository`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubAccess {
    /// The environment variable holding a token allowed to write commit statuses.
    pub token_env: Option<String>,
    /// A GitHub App's id (with `app_key` and `installation_id`).
    pub app_id: Option<u64>,
    /// The App's private key, PEM.
    pub app_key: Option<PathBuf>,
    /// The App's installation on the repository's owner.
    pub installation_id: Option<u64>,
}

/// One trusted project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Its name (`--project`, pages).
    pub name: String,
    /// GitHub `owner/repo`, for the webhook.
    pub repository: Option<String>,
    /// Where the webhook clones from. Default `https://github.com/{repository}.git`.
    /// The payload's URLs are never used: a forged payload cannot point us elsewhere.
    pub clone_url: Option<String>,
    /// The environment variable holding the webhook secret.
    pub webhook_secret_env: Option<String>,
    /// The webhook secret itself (prefer `webhook_secret_env`).
    pub webhook_secret: Option<String>,
    /// The matrix file in the repository.
    #[serde(default = "default_matrix")]
    pub matrix: String,
    /// Agreeing results from distinct agents before a job counts.
    #[serde(default = "default_quorum")]
    pub quorum: u32,
    /// Commit statuses for its webhook runs (and submits naming a commit); none without.
    pub github: Option<GithubAccess>,
    /// Whose pull requests the webhook queues (`[project.pull_requests]`); defaults
    /// when absent.
    #[serde(default)]
    pub pull_requests: PullRequests,
}

/// Which pull requests the webhook queues (`[project.pull_requests]`); see
/// [`super::gate`] for the rules.
///
/// ## Security
/// A queued pull request runs its author's code (its build code and tests) on the
/// agents. Adding an association such as `CONTRIBUTOR` or `FIRST_TIME_CONTRIBUTOR`
/// lets anyone who had one pull request merged (or opened one) run code on every
/// volunteer's machine without a maintainer looking first. Pull requests from forks
/// always run as untrusted (wheelhouses of their own), however they were let in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequests {
    /// GitHub `author_association`s whose pull requests are queued at once. Default
    /// `OWNER`, `MEMBER`, `COLLABORATOR`.
    #[serde(default = "default_trusted_associations")]
    pub trusted_associations: Vec<String>,
    /// The label a maintainer adds to let one other pull request in (its head commit
    /// at that moment; a later push waits again). Default `ponyswarm:run`.
    #[serde(default = "default_run_label")]
    pub label: String,
}

impl Default for PullRequests {
    fn default() -> Self {
        PullRequests {
            trusted_associations: default_trusted_associations(),
            label: default_run_label(),
        }
    }
}

/// Every `author_association` GitHub sends.
pub const ASSOCIATIONS: [&str; 8] = [
    "COLLABORATOR",
    "CONTRIBUTOR",
    "FIRST_TIMER",
    "FIRST_TIME_CONTRIBUTOR",
    "MANNEQUIN",
    "MEMBER",
    "NONE",
    "OWNER",
];

fn default_trusted_associations() -> Vec<String> {
    ["OWNER", "MEMBER", "COLLABORATOR"]
        .map(String::from)
        .to_vec()
}
fn default_run_label() -> String {
    "ponyswarm:run".into()
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn default_listen() -> String {
    "127.0.0.1:8642".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from(".ponyswarm/coordinator")
}
fn default_lease_seconds() -> u64 {
    60
}
fn default_unschedulable_after() -> std::time::Duration {
    std::time::Duration::from_secs(3600)
}
fn default_error_retries() -> u32 {
    2
}

/// A duration written as text (`"1h"`, `"90s"`), as [`crate::time::parse_duration`] reads.
fn duration_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(d)?;
    crate::time::parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration like 90s, 30m, 1h or 1d"
        ))
    })
}

fn default_matrix() -> String {
    "ponyswarm.yaml".into()
}
fn default_quorum() -> u32 {
    1
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text)
    }

    /// Parses and checks `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
        config.check().map_err(|message| ConfigError::Value {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.lease_seconds == 0 {
            return Err("lease_seconds must be at least 1".into());
        }
        for (key, tokens) in [
            ("agent_tokens", &self.agent_tokens),
            ("submit_tokens", &self.submit_tokens),
        ] {
            if let Some(i) = tokens.iter().position(|t| t.trim().is_empty()) {
                return Err(format!(
                    "{key}: token #{} is empty (anyone could present it): give it a value \
                     or remove it",
                    i + 1
                ));
            }
        }
        for (i, p) in self.projects.iter().enumerate() {
            if p.name.is_empty() {
                return Err(format!("project #{} has an empty name", i + 1));
            }
            if self.projects[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("project {:?} is listed twice", p.name));
            }
            if p.quorum > 16 {
                return Err(format!(
                    "project {:?}: quorum {} is more than 16",
                    p.name, p.quorum
                ));
            }
            p.check_webhook()
                .map_err(|e| format!("project {:?}: {e}", p.name))?;
            if let Some(github) = &p.github {
                if p.repository.is_none() {
                    return Err(format!(
                        "project {:?}: [project.github] needs the project's repository",
                        p.name
                    ));
                }
                github
                    .check()
                    .map_err(|e| format!("project {:?}: {e}", p.name))?;
            }
        }
        if let Some(api) = &self.github_api {
            url::Url::parse(api).map_err(|e| format!("github_api {api:?}: {e}"))?;
        }
        Ok(())
    }

    /// The GitHub API base: `github_api`, else `PONYSWARM_GITHUB_API`, else
    /// `https://api.github.com`.
    pub fn github_api(&self) -> Result<url::Url, String> {
        let api = self
            .github_api
            .clone()
            .or_else(|| std::env::var("PONYSWARM_GITHUB_API").ok())
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "https://api.github.com".into());
        url::Url::parse(&api).map_err(|e| format!("the GitHub API {api:?}: {e}"))
    }

    /// The trusted project `name`.
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name == name)
    }

    /// The trusted project whose GitHub repository is `full_name` (case-insensitive, as
    /// GitHub's names are).
    pub fn project_for_repository(&self, full_name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| {
            p.repository
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(full_name))
        })
    }
}

impl Project {
    /// Where the webhook clones from.
    pub fn clone_url(&self) -> Option<String> {
        self.clone_url.clone().or_else(|| {
            self.repository
                .as_ref()
                .map(|r| format!("https://github.com/{r}.git"))
        })
    }

    /// The webhook secret: `webhook_secret`, else the variable `webhook_secret_env`
    /// names. `None`: the project takes no webhooks.
    pub fn webhook_secret(&self) -> Option<String> {
        self.webhook_secret
            .clone()
            .or_else(|| {
                self.webhook_secret_env
                    .as_ref()
                    .and_then(|v| std::env::var(v).ok())
            })
            // An empty secret (a variable set to "") takes no webhooks rather than all.
            .filter(|s| !s.trim().is_empty())
    }
}

impl Project {
    /// An empty secret would let anyone sign webhooks; an unknown association is a typo.
    fn check_webhook(&self) -> Result<(), String> {
        if self
            .webhook_secret
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(
                "webhook_secret is empty (anyone could sign a webhook): give it a \
                 value, or remove it to take no webhooks"
                    .into(),
            );
        }
        if self
            .webhook_secret_env
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            return Err("webhook_secret_env is empty: name an environment variable".into());
        }
        let prs = &self.pull_requests;
        if let Some(bad) = prs
            .trusted_associations
            .iter()
            .find(|a| !ASSOCIATIONS.contains(&a.as_str()))
        {
            return Err(format!(
                "[project.pull_requests] trusted_associations: {bad:?} is not one of {}",
                ASSOCIATIONS.join(", ")
            ));
        }
        if prs.label.trim().is_empty() {
            return Err("[project.pull_requests] label is empty".into());
        }
        Ok(())
    }
}

impl GithubAccess {
    /// Either a token or a whole App, not both, not half.
    fn check(&self) -> Result<(), String> {
        let app = [
            self.app_id.is_some(),
            self.app_key.is_some(),
            self.installation_id.is_some(),
        ];
        match (self.token_env.is_some(), app) {
            (true, [false, false, false]) | (false, [true, true, true]) => Ok(()),
            (true, _) => Err("[project.github]: token_env, or an App, not both".into()),
            _ => Err("[project.github]: needs token_env, or app_id, app_key and \
                 installation_id"
                .into()),
        }
    }

    /// The credentials now: the token's variable read, or the App's key file.
    pub fn credentials(&self) -> Result<Credentials, String> {
        if let Some(var) = &self.token_env {
            return std::env::var(var)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map(Credentials::Token)
                .ok_or_else(|| format!("the token variable {var} is not set"));
        }
        match (self.app_id, &self.app_key, self.installation_id) {
            (Some(app_id), Some(key), Some(installation_id)) => {
                let key_pem = std::fs::read(key).map_err(|e| {
                    format!("cannot read the GitHub App key {}: {e}", key.display())
                })?;
                Ok(Credentials::App {
                    app_id,
                    key_pem,
                    installation_id,
                })
            }
            _ => Err("no GitHub credentials".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let text = r#"
listen = "127.0.0.1:0"
lease_seconds = 2
unschedulable_after = "1m30s"
error_retries = 0
agent_tokens = ["a"]
[[project]]
name = "p"
repository = "o/r"
quorum = 2
"#;
        let c = Config::parse(Path::new("c.toml"), text).unwrap();
        assert_eq!(c.lease_seconds, 2);
        assert_eq!(c.unschedulable_after, std::time::Duration::from_secs(90));
        assert_eq!(c.error_retries, 0);
        let defaults = Config::parse(Path::new("c.toml"), "").unwrap();
        assert_eq!(
            (
                defaults.unschedulable_after.as_secs(),
                defaults.error_retries
            ),
            (3600, 2)
        );
        let p = c.project_for_repository("O/R").unwrap();
        assert_eq!(p.quorum, 2);
        assert_eq!(p.matrix, "ponyswarm.yaml");
        assert_eq!(p.clone_url().unwrap(), "https://github.com/o/r.git");
        assert!(p.github.is_none());
        assert_eq!(
            p.pull_requests.trusted_associations,
            ["OWNER", "MEMBER", "COLLABORATOR"]
        );
        assert_eq!(p.pull_requests.label, "ponyswarm:run");
    }

    #[test]
    fn github_access_is_a_token_variable_or_an_app() {
        let text = r#"
github_api = "https://ghe.example.org/api/v3"
[[project]]
name = "t"
repository = "o/t"
[project.github]
token_env = "PONYSWARM_CONFIG_TEST_TOKEN_UNSET"
[[project]]
name = "a"
repository = "o/a"
[project.github]
app_id = 12
app_key = "/nonexistent/app.pem"
installation_id = 34
"#;
        let c = Config::parse(Path::new("c.toml"), text).unwrap();
        assert_eq!(
            c.github_api().unwrap().as_str(),
            "https://ghe.example.org/api/v3"
        );
        let token = c.project("t").unwrap().github.as_ref().unwrap();
        assert_eq!(
            token.credentials().unwrap_err(),
            "the token variable PONYSWARM_CONFIG_TEST_TOKEN_UNSET is not set"
        );
        let app = c.project("a").unwrap().github.as_ref().unwrap();
        assert!(app
            .credentials()
            .unwrap_err()
            .starts_with("cannot read the GitHub App key /nonexistent/app.pem"));
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let cases = [
            (
                "listen = \"x\"\nquorom = 2\n",
                "c.toml:2: unknown field `quorom`",
            ),
            ("[[project]]\nname = \"p\"\nquorum = \"two\"\n", "c.toml:3:"),
            ("lease_seconds = 0\n", "lease_seconds must be at least 1"),
            (
                "[[project]]\nname = \"p\"\n[[project]]\nname = \"p\"\n",
                "listed twice",
            ),
            (
                "[[project]]\nname = \"p\"\n[project.github]\ntoken_env = \"T\"\n",
                "needs the project's repository",
            ),
            (
                "[[project]]\nname = \"p\"\nrepository = \"o/r\"\n[project.github]\napp_id = 1\n",
                "needs token_env, or app_id, app_key and installation_id",
            ),
            (
                "[[project]]\nname = \"p\"\nrepository = \"o/r\"\n[project.github]\n\
                 token_env = \"T\"\napp_id = 1\n",
                "not both",
            ),
            (
                "[[project]]\nname = \"p\"\nrepository = \"o/r\"\n[project.github]\ntoken = \"x\"\n",
                "c.toml:5: unknown field `token`",
            ),
            ("github_api = \"not a url\"\n", "github_api \"not a url\""),
            (
                "unschedulable_after = \"soon\"\n",
                "c.toml:1: \"soon\" is not a duration",
            ),
            (
                "[[project]]\nname = \"p\"\nwebhook_secret = \"\"\n",
                "c.toml: project \"p\": webhook_secret is empty",
            ),
            (
                "[[project]]\nname = \"p\"\nwebhook_secret = \"  \"\n",
                "c.toml: project \"p\": webhook_secret is empty",
            ),
            (
                "[[project]]\nname = \"p\"\nwebhook_secret_env = \"\"\n",
                "c.toml: project \"p\": webhook_secret_env is empty",
            ),
            (
                "agent_tokens = [\"a\", \"\"]\n",
                "c.toml: agent_tokens: token #2 is empty",
            ),
            (
                "submit_tokens = [\"\"]\n",
                "c.toml: submit_tokens: token #1 is empty",
            ),
            (
                "[[project]]\nname = \"p\"\n[project.pull_requests]\n\
                 trusted_associations = [\"OWNERS\"]\n",
                "trusted_associations: \"OWNERS\" is not one of",
            ),
            (
                "[[project]]\nname = \"p\"\n[project.pull_requests]\nlabel = \"\"\n",
                "label is empty",
            ),
            (
                "[[project]]\nname = \"p\"\n[project.pull_requests]\nlables = \"x\"\n",
                "c.toml:4: unknown field `lables`",
            ),
        ];
        for (text, want) in cases {
            let e = Config::parse(Path::new("c.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
