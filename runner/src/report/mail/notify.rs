//! The whole errand after a run: decide whether to mail, build the mail, send it, and
//! say what happened in one line for the terminal. Sending is best effort: every
//! outcome, failures included, is a [`Note`], never an error of the run.

use super::message::{build, Addresses, MailTemplates};
use super::policy::{decide, Decision, MailWhen};
use super::smtp::SmtpServer;
use super::MailError;
use crate::outcome::RunResult;
use std::fmt;
use std::time::SystemTime;
use url::Url;

/// Where and when to mail reports.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The SMTP server.
    pub server: SmtpServer,
    /// Sender and recipients.
    pub addresses: Addresses,
    /// Which runs are mailed.
    pub when: MailWhen,
}

/// What happened to the mail.
#[derive(Debug)]
pub enum Note {
    /// Sent.
    Sent {
        /// How many recipients.
        recipients: usize,
        /// Why it was sent (see [`Decision`]).
        why: String,
        /// The server, without credentials.
        server: String,
    },
    /// Not sent, on purpose.
    NotSent(String),
    /// It should have gone out but could not.
    Failed(MailError),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Sent {
                recipients,
                why,
                server,
            } => {
                let s = if *recipients == 1 { "" } else { "s" };
                write!(
                    f,
                    "mail: sent to {recipients} recipient{s} through {server} ({why})"
                )
            }
            Note::NotSent(why) => write!(f, "mail: not sent: {why}"),
            Note::Failed(error) => write!(f, "mail: failed: {error}"),
        }
    }
}

/// Mails `result`'s report if `config.when` says so, `previous` being the last finished
/// run of the same matrix, with links under `reports` when given.
pub async fn notify(
    config: &MailConfig,
    result: &RunResult,
    previous: Option<&RunResult>,
    reports: Option<&Url>,
) -> Note {
    let why = match decide(config.when, result, previous) {
        Decision::Send(why) => why,
        Decision::Skip(why) => return Note::NotSent(why),
    };
    let message = MailTemplates::load().and_then(|templates| {
        build(
            &templates,
            &config.addresses,
            result,
            previous,
            reports,
            SystemTime::now(),
        )
    });
    let sent = match message {
        Ok(message) => config.server.send(&message).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) => Note::Sent {
            recipients: config.addresses.to.len(),
            why,
            server: config.server.to_string(),
        },
        Err(e) => Note::Failed(e),
    }
}
