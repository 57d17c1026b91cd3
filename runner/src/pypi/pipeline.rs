//! The release-test pipeline behind `ponyswarm pypi test` and `ponyswarm pypi watch`:
//! resolve a release on an index, download and verify its files, try it in sandboxes
//! ([`super::trial`]), score it ([`super::quality`]), write its report (JSON and HTML,
//! [`super::report`]) and save it in the store.
//!
//! The CLI only builds a [`ReleaseTester`] from its options and prints what
//! [`ReleaseTester::test`] returns.

use super::index::{Index, IndexError};
use super::report::{self, ReleaseReport, ReportError};
use super::trial::{self, TrialError, TrialOptions};
use super::{metadata, quality, DistFile, Requirement};
use crate::store::{Store, StoreError};
use bollard::Docker;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Everything testing a release needs, made once and shared by every release tested.
pub struct ReleaseTester {
    /// Where releases are resolved and downloaded from.
    pub index: Index,
    /// The engine the trials run on.
    pub docker: Docker,
    /// Where reports are saved.
    pub store: Store,
    /// How each release is tried (Pythons, images, egress, time per job…).
    pub trial: TrialOptions,
    /// Where reports go: one directory per release.
    pub report_root: PathBuf,
}

/// Why a release could not be tested (a failing install or test is a result in the
/// report, not this).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The index does not have the release, or could not be read.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A directory for the release's files could not be made.
    #[error("cannot create {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The release could not be tried.
    #[error(transparent)]
    Trial(#[from] TrialError),
    /// The report could not be written or read back.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The report could not be read back for the store.
    #[error("cannot read back {}: {source}", path.display())]
    ReadBack {
        /// The report's JSON file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store refused the report.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PipelineError {
    /// Whether the user asked for something that is not there (a missing project or
    /// release, a malformed requirement) rather than something failing on the way.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PipelineError::Index(
                IndexError::NotFound { .. }
                    | IndexError::BadRequirement(_)
                    | IndexError::NoFiles { .. }
            )
        )
    }
}

impl ReleaseTester {
    /// Resolves, downloads, tests, scores, writes and saves one release; `cancel`
    /// stops its jobs. Returns the report and the HTML page's path.
    pub async fn test(
        &self,
        req: &Requirement,
        cancel: CancellationToken,
    ) -> Result<(ReleaseReport, PathBuf), PipelineError> {
        let release = self.index.resolve(req).await?;
        let dir = self
            .report_root
            .join(format!("{}-{}", release.name, dir_name(&release.version)));
        let downloads = dir.join("files");
        std::fs::create_dir_all(&downloads).map_err(|source| PipelineError::Io {
            path: downloads.clone(),
            source,
        })?;
        let mut files: Vec<(DistFile, PathBuf)> = Vec::new();
        for file in &release.files {
            let path = self.index.download(file, &downloads).await?;
            files.push((file.clone(), path));
        }
        // The score reads what was uploaded, whichever API the index has.
        let release = metadata::read_release(&self.index, release, &files).await;
        let mut opts = self.trial.clone();
        opts.cancel = cancel;
        let tested = trial::test_release(&self.docker, &release, &files, &opts).await;
        // The files were only needed for the test; the report names them and their hashes.
        let _ = std::fs::remove_dir_all(&downloads);
        let mut report = tested?;
        if report.facts.description_renders.is_none() {
            report.facts.description_renders = quality::renders_without_checking(&report.metadata);
        }
        let score = quality::score(&report.metadata, &report.facts);
        report.score = Some(score.clone());
        let (json, html) = report::write(&report, &dir)?;
        let text = std::fs::read_to_string(&json).map_err(|source| PipelineError::ReadBack {
            path: json.clone(),
            source,
        })?;
        self.store
            .save_release_report(&report.name, &report.version, &text, Some(&score))
            .await?;
        Ok((report, html))
    }
}

/// A version as a directory name: anything but `[A-Za-z0-9._+-]` becomes `_`.
fn dir_name(version: &str) -> String {
    let cleaned: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_become_safe_directory_names() {
        for (version, want) in [
            ("1.0", "1.0"),
            ("1.0+local", "1.0+local"),
            ("../x", "_x"),
            ("a/b", "a_b"),
        ] {
            assert_eq!(dir_name(version), want, "{version}");
        }
    }

    #[test]
    fn only_a_missing_release_is_bad_input() {
        let missing = PipelineError::Index(IndexError::BadRequirement("==".into()));
        assert!(missing.is_bad_input());
        let io = PipelineError::Io {
            path: "/x".into(),
            source: std::io::Error::other("disk full"),
        };
        assert!(!io.is_bad_input());
    }
}
