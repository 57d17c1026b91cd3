//! Reports people want to read, from a run's outcomes: the HTML report (a static site),
//! merged JUnit XML for other CI systems, and the pure parts they share.
//!
//! - [`attribution`]: the smallest sets of axis values that explain the failures (pure);
//! - [`grid`]: the matrix laid out as grids (pure);
//! - [`compare`]: what changed since the previous run (pure);
//! - [`ansi`]: logs with ANSI colors as HTML (pure);
//! - [`pages`]: what each HTML page shows (pure);
//! - [`html`]: templates and files: the static site;
//! - [`junit`]: the merged JUnit XML (pure);
//! - [`mail`]: the run's report by mail (lettre over SMTP);
//! - [`results`]: reading results.json back;
//! - [`text`]: the report for a terminal (pure).
//!
//! Reports only read outcomes; they never talk to Docker.

pub(crate) mod ansi;
pub mod attribution;
pub mod compare;
pub mod github;
pub(crate) mod grid;
pub mod html;
pub mod junit;
pub mod mail;
pub mod pages;
pub mod results;
#[cfg(test)]
pub(crate) mod synthetic;
pub mod text;

pub use html::{write_html, HtmlError, Site};
