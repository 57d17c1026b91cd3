//! A release's metadata, read from what was uploaded: the files ponyswarm has just
//! downloaded and verified, so the score means the same on PyPI and on an index
//! that serves only the Simple API (a mirror, a devpi, a company proxy).
//!
//! Where each release's metadata comes from, first found wins:
//!
//! 1. a wheel's `*.dist-info/METADATA` ([`archive`]): what pip installs from;
//! 2. the core-metadata file the index serves beside a file (PEP 658 / PEP 714),
//!    checked against the hash the index gives for it;
//! 3. the sdist's `PKG-INFO`, whose PEP 643 `Dynamic` fields are left to the build
//!    and kept as such ([`CoreMetadata::dynamic`]).
//!
//! The files are parsed by [`parse`] (the email-header format, with `mailparse`).
//! PyPI's JSON API, when the index has one, is only a cross-check
//! ([`cross_check`]): how it differs from the file is a finding in the report, and it
//! does not change the score.
//!
//! I/O: reads the downloaded files (off the async runtime) and fetches PEP 658 files
//! through the [`Index`]; deciding is in the pure submodules.

pub mod archive;
pub mod cross_check;
pub mod parse;

use super::index::Index;
use super::{normalize, DistFile, DistKind, Metadata, Release};
pub use parse::CoreMetadata;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which kind of file a release's metadata was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A wheel's `*.dist-info/METADATA`.
    Wheel,
    /// The PEP 658 core-metadata file the index serves beside a distribution.
    CoreMetadataFile,
    /// An sdist's `PKG-INFO`.
    Sdist,
    /// The index's JSON API (only when no file could be read).
    JsonApi,
    /// Nothing: no file could be read, and the index has no JSON API.
    Unread,
}

/// Where a release's metadata came from, and what reading it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The kind of file.
    pub source: Source,
    /// The distribution file (`pony-1.0-py3-none-any.whl`), when one was read.
    pub file: Option<String>,
    /// The member or URL read (`pony-1.0.dist-info/METADATA`).
    pub member: Option<String>,
    /// Its `Metadata-Version`.
    pub metadata_version: Option<String>,
    /// The fields an sdist's `PKG-INFO` marks `Dynamic` (PEP 643), lower-cased.
    #[serde(default)]
    pub dynamic: Vec<String>,
    /// What the reader should know: files that could not be read, a name or version
    /// that is not the release's, how the JSON API differs from the file.
    #[serde(default)]
    pub findings: Vec<String>,
}

impl Origin {
    /// Metadata read from `source`, nothing else known yet.
    pub fn new(source: Source) -> Origin {
        Origin {
            source,
            file: None,
            member: None,
            metadata_version: None,
            dynamic: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// Where the facts came from, in words (`pony-1.0.dist-info/METADATA of
    /// pony-1.0-py3-none-any.whl`), for the score's checks.
    pub fn describe(&self) -> String {
        let file = self.file.as_deref().unwrap_or("?");
        let member = self.member.as_deref().unwrap_or("?");
        match self.source {
            Source::Wheel | Source::Sdist => format!("{member} of {file}"),
            Source::CoreMetadataFile => format!("the core-metadata file of {file} (PEP 658)"),
            Source::JsonApi => "the index's JSON API (no file could be read)".into(),
            Source::Unread => "nothing: no file's metadata could be read".into(),
        }
    }

    /// Whether `field` (lower-case core-metadata name, `license`) is left to the build.
    pub fn is_dynamic(&self, field: &str) -> bool {
        self.dynamic.iter().any(|d| d == field)
    }
}

/// `release` with its metadata read from its downloaded `files` (as
/// [`Index::download`] saved them), the JSON API's metadata, if any, kept as a
/// cross-check. Never fails: what could not be read is a finding in
/// [`Origin::findings`], and with no readable file the JSON API's metadata stays.
pub async fn read_release(
    index: &Index,
    mut release: Release,
    files: &[(DistFile, PathBuf)],
) -> Release {
    let mut findings = Vec::new();
    let read = read_files(index, &release, files, &mut findings).await;
    let from_json_api = release
        .metadata
        .origin
        .as_ref()
        .is_some_and(|o| o.source == Source::JsonApi);
    release.metadata = match read {
        Some((mut origin, core)) => {
            check_identity(&release, &core, &mut findings);
            if from_json_api {
                findings.extend(cross_check::differences(&release.metadata, &core.metadata));
            }
            origin.metadata_version = core.metadata_version;
            origin.dynamic = core.dynamic;
            origin.findings = findings;
            Metadata {
                origin: Some(origin),
                ..core.metadata
            }
        }
        None => {
            let mut origin = Origin::new(if from_json_api {
                Source::JsonApi
            } else {
                Source::Unread
            });
            origin.findings = findings;
            Metadata {
                origin: Some(origin),
                ..release.metadata
            }
        }
    };
    release
}

/// The first readable metadata, in the module's order; what failed on the way goes
/// to `findings`.
async fn read_files(
    index: &Index,
    release: &Release,
    files: &[(DistFile, PathBuf)],
    findings: &mut Vec<String>,
) -> Option<(Origin, CoreMetadata)> {
    let of_kind = |kind| files.iter().filter(move |(f, _)| f.kind == kind);
    for (file, path) in of_kind(DistKind::Wheel) {
        if let Some(found) = from_archive(release, file, path, findings).await {
            return Some(found);
        }
    }
    for file in release.files.iter().filter(|f| f.core_metadata.is_some()) {
        match index.core_metadata(file).await {
            Ok(bytes) => match parse::parse(&bytes) {
                Ok(core) => {
                    let origin = origin(
                        Source::CoreMetadataFile,
                        file,
                        format!("{}.metadata", file.url),
                    );
                    return Some((origin, core));
                }
                Err(e) => findings.push(format!("{}.metadata: {e}", file.filename)),
            },
            Err(e) => findings.push(e.to_string()),
        }
    }
    for (file, path) in of_kind(DistKind::Sdist) {
        if let Some(found) = from_archive(release, file, path, findings).await {
            return Some(found);
        }
    }
    None
}

async fn from_archive(
    release: &Release,
    file: &DistFile,
    path: &std::path::Path,
    findings: &mut Vec<String>,
) -> Option<(Origin, CoreMetadata)> {
    let (path, filename, kind, project) = (
        path.to_path_buf(),
        file.filename.clone(),
        file.kind,
        release.name.clone(),
    );
    let member =
        tokio::task::spawn_blocking(move || archive::read_member(&path, &filename, kind, &project))
            .await;
    let member = match member {
        Ok(Ok(member)) => member,
        Ok(Err(e)) => {
            findings.push(format!("{}: {e}", file.filename));
            return None;
        }
        Err(e) => {
            findings.push(format!("{}: reading it stopped: {e}", file.filename));
            return None;
        }
    };
    match parse::parse(&member.bytes) {
        Ok(core) => {
            let source = match file.kind {
                DistKind::Wheel => Source::Wheel,
                DistKind::Sdist => Source::Sdist,
            };
            Some((origin(source, file, member.path), core))
        }
        Err(e) => {
            findings.push(format!("{} of {}: {e}", member.path, file.filename));
            None
        }
    }
}

fn origin(source: Source, file: &DistFile, member: String) -> Origin {
    Origin {
        file: Some(file.filename.clone()),
        member: Some(member),
        ..Origin::new(source)
    }
}

/// A file whose metadata names another project or version is worth saying.
fn check_identity(release: &Release, core: &CoreMetadata, findings: &mut Vec<String>) {
    let name = core.name.as_deref().map(normalize);
    if name.as_deref() != Some(release.name.as_str()) {
        findings.push(format!(
            "the metadata names the project {:?}, not {:?}",
            core.name.as_deref().unwrap_or_default(),
            release.name
        ));
    }
    let version = core.version.as_deref().unwrap_or_default();
    let same = match (
        super::index::version::Version::parse(version),
        super::index::version::Version::parse(&release.version),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => version == release.version,
    };
    if !same {
        findings.push(format!(
            "the metadata says version {version:?}, the index {:?}",
            release.version
        ));
    }
}
