//! `--mail-to` and friends: the run's report by mail when it finishes.
//!
//! Only the options and the call after a run live here; deciding, rendering and sending
//! are `ponyswarm::report::mail`'s. A mail never changes the run's exit code.

use ponyswarm::outcome::RunResult;
use ponyswarm::report::mail::{notify, Addresses, MailConfig, MailWhen, SmtpServer};
use ponyswarm::store::{previous_run_of, Store};

/// The environment variable with the SMTP user, when the URL has none.
const USER_ENV: &str = "PONYSWARM_SMTP_USER";
/// The environment variable with the SMTP password, when the URL has none.
const PASSWORD_ENV: &str = "PONYSWARM_SMTP_PASSWORD";

/// Mail options of `ponyswarm run`.
// Read by `after_run`, which `run.rs` calls once wired; until then they look unused.
#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// Mail the run's summary to ADDR (repeatable); no mail without it.
    #[arg(long = "mail-to", value_name = "ADDR")]
    pub to: Vec<String>,
    /// The sender (default ponyswarm@<this host's name>).
    #[arg(long = "mail-from", value_name = "ADDR")]
    pub from: Option<String>,
    /// The SMTP server: smtp://HOST:PORT (plain, for a local relay),
    /// smtp://HOST:587?tls=required (STARTTLS) or smtps://HOST:465; a user and password
    /// in the URL or in PONYSWARM_SMTP_USER and PONYSWARM_SMTP_PASSWORD.
    #[arg(
        long,
        env = "PONYSWARM_SMTP",
        value_name = "URL",
        default_value = "smtp://localhost:25"
    )]
    pub smtp: String,
    /// Which runs are mailed: every one, those whose result changed since the previous
    /// run of the same matrix, or those that did not pass.
    #[arg(long = "mail-when", value_enum, value_name = "WHEN", default_value_t = MailWhen::Changed)]
    pub when: MailWhen,
}

/// Mails `result`'s report when `--mail-to` is given and `--mail-when` says so, compared
/// with the previous run of the same matrix found in `store`, with links under
/// `reports_url` when given. Returns the line to print, `None` when no mail was asked.
pub async fn after_run(
    args: &MailArgs,
    store: Option<&Store>,
    result: &RunResult,
    reports_url: Option<&url::Url>,
) -> Option<String> {
    if args.to.is_empty() {
        return None;
    }
    let config = match config(args) {
        Ok(config) => config,
        Err(e) => return Some(format!("mail: not sent: {e}")),
    };
    let previous = match previous_run_of(store, result).await {
        Ok(previous) => previous,
        Err(e) => {
            return Some(format!(
                "mail: not sent: cannot read the previous run to compare with: {e}"
            ))
        }
    };
    Some(
        notify(&config, result, previous.as_ref(), reports_url)
            .await
            .to_string(),
    )
}

/// The mail configuration from the options and the environment.
fn config(args: &MailArgs) -> Result<MailConfig, ponyswarm::report::mail::MailError> {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let server = SmtpServer::parse(&args.smtp, env(USER_ENV), env(PASSWORD_ENV))?;
    let from = args.from.clone().unwrap_or_else(default_sender);
    Ok(MailConfig {
        server,
        addresses: Addresses::parse(&from, &args.to)?,
        when: args.when,
    })
}

/// `ponyswarm@<host name>`, or `ponyswarm@localhost` when the name is unknown.
fn default_sender() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "localhost".to_string());
    format!("ponyswarm@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::UNIX_EPOCH;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        mail: MailArgs,
    }

    fn parse(args: &[&str]) -> MailArgs {
        Cli::try_parse_from(std::iter::once("ponyswarm").chain(args.iter().copied()))
            .expect("valid options")
            .mail
    }

    #[test]
    fn options_parse_with_their_defaults() {
        let a = parse(&["--mail-to", "a@example.org", "--mail-to", "b@example.org"]);
        assert_eq!(a.to, ["a@example.org", "b@example.org"]);
        assert_eq!(a.when, MailWhen::Changed);
        assert_eq!(a.from, None);
        let a = parse(&[
            "--mail-when",
            "failed",
            "--smtp",
            "smtps://mail.example.org",
            "--mail-from",
            "ci@example.org",
        ]);
        assert_eq!(a.when, MailWhen::Failed);
        assert_eq!(a.smtp, "smtps://mail.example.org");
        assert_eq!(a.from.as_deref(), Some("ci@example.org"));
        assert!(Cli::try_parse_from(["ponyswarm", "--mail-when", "sometimes"]).is_err());
    }

    #[tokio::test]
    async fn no_recipient_means_no_mail_and_bad_options_are_a_note() {
        let result = RunResult::new("r1".into(), "demo".into(), "m.yaml".into(), UNIX_EPOCH);
        assert_eq!(after_run(&parse(&[]), None, &result, None).await, None);
        let bad = parse(&[
            "--mail-to",
            "a@example.org",
            "--smtp",
            "http://mail.example.org",
        ]);
        assert_eq!(
            after_run(&bad, None, &result, None).await.as_deref(),
            Some("mail: not sent: bad SMTP URL http://mail.example.org/: the scheme http: is not smtp: or smtps:")
        );
    }
}
