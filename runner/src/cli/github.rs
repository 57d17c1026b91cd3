//! `--github OWNER/REPO@SHA` and `--reports-url`: the options of `ponyswarm run` that
//! post commit statuses, checked into a [`Forwarder`] (see
//! [`ponyswarm::report::github::forward`]).

use super::CliError;
use ponyswarm::report::github::forward::Forwarder;
use url::Url;

/// GitHub options of `ponyswarm run`.
#[derive(Debug, Clone, clap::Args)]
pub struct GithubArgs {
    /// Post commit statuses to this commit (GITHUB_TOKEN, or a GitHub App: see README).
    #[arg(long, value_name = "OWNER/REPO@SHA")]
    pub github: Option<String>,
    /// The GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(
        long,
        env = "PONYSWARM_GITHUB_API",
        default_value = "https://api.github.com",
        value_name = "URL"
    )]
    pub github_api: String,
    /// Where reports are published: statuses and mail link to URL/<run id>/….
    #[arg(long, env = "PONYSWARM_REPORTS_URL", value_name = "URL")]
    pub reports_url: Option<String>,
}

/// The base URL reports are published under, checked.
pub fn reports_url(args: &GithubArgs) -> Result<Option<Url>, CliError> {
    args.reports_url
        .as_deref()
        .map(|u| {
            let mut url = Url::parse(u)
                .map_err(|e| CliError::BadInput(format!("--reports-url {u:?}: {e}")))?;
            // `join` replaces the last segment unless the path ends in a slash.
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Ok(url)
        })
        .transpose()
}

/// A checked `--github` (target, API URL, credentials), ready to start before the
/// run; `None` without `--github`.
pub fn forwarder(args: &GithubArgs) -> Result<Option<Forwarder>, CliError> {
    args.github
        .as_deref()
        .map(|target| {
            Forwarder::new(target, &args.github_api).map_err(|e| CliError::BadInput(e.to_string()))
        })
        .transpose()
}
