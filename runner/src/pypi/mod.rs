//! PyPI release testing: `ponyswarm pypi test NAME[==VERSION]` and `ponyswarm pypi watch`.
//!
//! - [`index`]: resolving a release through an index's JSON API or Simple API
//!   (PEP 503/691), downloading its files and checking their hashes;
//! - [`metadata`]: the release's metadata, read from its downloaded files;
//! - [`description`]: rendering a long description as PyPI does (pure);
//! - [`quality`]: the packaging quality score (pure);
//! - [`watch`]: following new uploads (the serial-numbered changelog, else the RSS
//!   feed) with a checkpoint in the store;
//! - [`pysource`]: reading a release's Python source as text, never running it;
//! - [`trial`]: trying a release: installing and testing it in sandboxed containers;
//! - [`report`]: one report per release, JSON and HTML, stored like a run;
//! - [`pipeline`]: the whole way from a requirement to a saved report, which
//!   `ponyswarm pypi test` and `pypi watch` call.
//!
//! The types here are what those parts pass each other.

pub mod as_of;
pub mod description;
pub mod django;
pub mod index;
pub mod judgement;
pub mod metadata;
pub mod pipeline;
pub mod pysource;
pub mod quality;
pub mod report;
pub mod testdeps;
pub mod trial;
pub mod watch;
pub mod wheel_tags;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `NAME` or `NAME==VERSION`, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// The project's name as given.
    pub name: String,
    /// The version, when pinned; else the latest release.
    pub version: Option<String>,
}

/// What kind of distribution file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistKind {
    /// A source distribution (`.tar.gz`, `.zip`).
    Sdist,
    /// A wheel.
    Wheel,
}

/// One file of a release, as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistFile {
    /// `pony-1.0.tar.gz`, `pony-1.0-py3-none-any.whl`.
    pub filename: String,
    /// Where to download it (absolute).
    pub url: String,
    /// SHA-256, hex, when the index gives one (a file without one is not trusted).
    pub sha256: Option<String>,
    /// Sdist or wheel.
    pub kind: DistKind,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
    /// `Requires-Python` of this file, when given.
    pub requires_python: Option<String>,
    /// The index marked the file yanked.
    pub yanked: bool,
    /// The SHA-256 of the core-metadata file the index serves at `URL.metadata`
    /// (PEP 658 / PEP 714), when it offers one with a hash.
    #[serde(default)]
    pub core_metadata: Option<String>,
    /// When it was uploaded (RFC 3339, as the index wrote it), when the index says:
    /// the JSON API's `upload_time_iso_8601`, the Simple API's PEP 700 `upload-time`.
    #[serde(default)]
    pub upload_time: Option<String>,
}

/// A release's core metadata: read from its files (see [`metadata`]), or as the
/// index's JSON API gives it (`info`) before they are downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Metadata {
    /// `Summary`.
    pub summary: Option<String>,
    /// `Description` (the long description).
    pub description: Option<String>,
    /// `Description-Content-Type` (`text/markdown`, `text/x-rst`…).
    pub description_content_type: Option<String>,
    /// `License` or `License-Expression`.
    pub license: Option<String>,
    /// `Classifier`s.
    pub classifiers: Vec<String>,
    /// `Project-URL`s, label → URL (the home page included).
    pub project_urls: BTreeMap<String, String>,
    /// `Requires-Python`.
    pub requires_python: Option<String>,
    /// `Requires-Dist`.
    pub requires_dist: Vec<String>,
    /// `Author-email`.
    pub author_email: Option<String>,
    /// `Maintainer-email`.
    pub maintainer_email: Option<String>,
    /// Which file these fields were read from, and what reading it found.
    #[serde(default)]
    pub origin: Option<metadata::Origin>,
}

/// A resolved release: what there is to test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The project's normalized name (PEP 503).
    pub name: String,
    /// The version.
    pub version: String,
    /// Its files.
    pub files: Vec<DistFile>,
    /// Its metadata: the JSON API's, or empty when only the Simple API answered,
    /// until [`metadata::read_release`] reads it from the files.
    pub metadata: Metadata,
}

/// What testing a release found out, for the quality score: filled in by [`trial`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Facts {
    /// A wheel was uploaded.
    pub wheel_available: bool,
    /// An sdist was uploaded.
    pub sdist_available: bool,
    /// The sdist carries a test suite.
    pub sdist_has_tests: bool,
    /// Every install tried (wheel and sdist, on every Python) worked.
    pub installs_cleanly: bool,
    /// The install wrote outside site-packages and the scripts directory.
    pub writes_outside_site_packages: bool,
    /// The tests passed: `None` when there were none or they could not run.
    pub tests_passed: Option<bool>,
    /// The long description renders on PyPI (`None`: not checked).
    pub description_renders: Option<bool>,
}

/// `PEP 503` normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_as_pep_503_says() {
        assert_eq!(normalize("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize("FRIENDLY-BARD"), "friendly-bard");
        assert_eq!(normalize("friendly.bard"), "friendly-bard");
        assert_eq!(normalize("friendly_bard"), "friendly-bard");
        assert_eq!(normalize("friendly--bard"), "friendly-bard");
        assert_eq!(normalize("FrIeNdLy-._.-bArD"), "friendly-bard");
    }
}
