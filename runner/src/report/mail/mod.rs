//! The run's report by mail: a short text + HTML summary (run, status, counts, failing
//! jobs with their first failure, what changed since the previous run, a link to the
//! report), sent over SMTP when a run finishes, or only when its result changed.
//!
//! - [`policy`]: whether this run is worth a mail (pure);
//! - [`view`]: what the mail says (pure);
//! - [`message`]: the templates and the MIME message (pure but for template overrides);
//! - [`smtp`]: the server's URL (pure) and sending (I/O);
//! - [`notify`]: decide, build, send, and say what happened in a line.
//!
//! A mail that cannot be sent never fails the run: the caller prints the error as a note.

pub mod message;
pub mod notify;
pub mod policy;
pub mod smtp;
pub mod view;

pub use message::{build, Addresses, MailTemplates};
pub use notify::{notify, MailConfig, Note};
pub use policy::{decide, Decision, MailWhen};
pub use smtp::{Security, SmtpServer};

use std::path::PathBuf;

/// Why the mail could not be made or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The SMTP URL is not one ponyswarm can use.
    #[error("bad SMTP URL {url}: {reason}")]
    BadUrl {
        /// The URL, its password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A sender or recipient is not a mail address.
    #[error("{address:?} is not a mail address: {source}")]
    Address {
        /// As given.
        address: String,
        /// Why not.
        #[source]
        source: lettre::address::AddressError,
    },
    /// No `--mail-to`.
    #[error("no recipient: give --mail-to")]
    NoRecipients,
    /// A template override could not be read.
    #[error("cannot read the mail template {path}: {source}")]
    TemplateFile {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// A template does not parse (only an override can: the built-in ones are tested).
    #[error("mail template {template}: {source}")]
    Template {
        /// Which.
        template: String,
        /// The parse error, with its line.
        #[source]
        source: Box<handlebars::TemplateError>,
    },
    /// A template refers to something the mail does not have.
    #[error("cannot render the mail template {template}: {source}")]
    Render {
        /// Which.
        template: String,
        /// What went wrong.
        #[source]
        source: Box<handlebars::RenderError>,
    },
    /// lettre refused to assemble the message.
    #[error("cannot assemble the mail: {0}")]
    Build(#[source] lettre::error::Error),
    /// The server could not be reached, refused the mail, or TLS failed.
    #[error("cannot send mail through {server}: {reason}")]
    Send {
        /// The server's URL without credentials.
        server: String,
        /// What happened, in words.
        reason: String,
    },
}
