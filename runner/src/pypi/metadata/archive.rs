//! Finding the core-metadata file inside a downloaded distribution: a wheel's
//! `NAME-VERSION.dist-info/METADATA` (a zip) or an sdist's `NAME-VERSION/PKG-INFO`
//! (a `.tar.gz`, or a `.zip` for old releases).
//!
//! The files are hostile input: only the one member is read, at most
//! [`MAX_MEMBER_BYTES`] of it whatever its header claims, and a `.tar.gz` is walked
//! within the sdist unpack limits ([`LIMITS`]) by [`hostile_tar`]'s reader: a
//! decompression bomb, or a PAX or long-name header claiming gigabytes, stops the walk
//! instead of filling memory.
//!
//! I/O: reads files; call it off the async runtime.

use crate::pypi::trial::stage::{LIMITS, MAX_ENTRIES};
use crate::pypi::DistKind;
use crate::untar::{hostile_tar, ExpandsPast, HeaderTooLarge};
use std::io::{Read, Seek};
use std::path::Path;

/// A core-metadata file larger than this is refused (PyPI caps whole uploads, and a
/// description of megabytes is already absurd).
pub const MAX_MEMBER_BYTES: u64 = 16 * 1024 * 1024;

/// The core-metadata file of a distribution, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its path inside the archive (`pony-1.0.dist-info/METADATA`).
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Why a distribution's metadata file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be opened or read.
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    /// The zip is damaged.
    #[error("not a readable zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// No metadata file where the format puts it.
    #[error("no {0} in it")]
    NotFound(&'static str),
    /// More than one candidate, none named for the project.
    #[error("several {0} files in it, none for this project")]
    Ambiguous(&'static str),
    /// The archive breaks a limit.
    #[error("{0}")]
    TooLarge(String),
    /// A format ponyswarm does not open (`.tar.bz2`, `.tar.xz`, `.tar`).
    #[error("an sdist format ponyswarm does not read metadata from")]
    Unsupported,
}

/// Reads the core-metadata file of the distribution `filename` (of `kind`, project
/// `project`) saved at `path`.
pub fn read_member(
    path: &Path,
    filename: &str,
    kind: DistKind,
    project: &str,
) -> Result<Member, ArchiveError> {
    let lower = filename.to_ascii_lowercase();
    match kind {
        DistKind::Wheel => from_zip(std::fs::File::open(path)?, project, WHEEL_METADATA),
        DistKind::Sdist if lower.ends_with(".zip") => {
            from_zip(std::fs::File::open(path)?, project, PKG_INFO)
        }
        DistKind::Sdist if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") => {
            from_tar_gz(std::fs::File::open(path)?, project)
        }
        DistKind::Sdist => Err(ArchiveError::Unsupported),
    }
}

/// Which member is the metadata file: its name in errors, and the test of a path
/// that gives the directory it is in.
#[derive(Clone, Copy)]
struct Wanted {
    what: &'static str,
    dir_of: fn(&str) -> Option<&str>,
}

/// A wheel's `X.dist-info/METADATA`, at the top.
const WHEEL_METADATA: Wanted = Wanted {
    what: "METADATA",
    dir_of: |path| {
        let dir = path.strip_suffix(".dist-info/METADATA")?;
        (!dir.contains('/')).then_some(dir)
    },
};

/// An sdist's `X/PKG-INFO`, one level down.
const PKG_INFO: Wanted = Wanted {
    what: "PKG-INFO",
    dir_of: |path| {
        let dir = path.strip_suffix("/PKG-INFO")?;
        (!dir.is_empty() && !dir.contains('/')).then_some(dir)
    },
};

/// Whether the directory `dir` (`pony_tools-1.0`, `pony_tools-1.0.dist-info` without
/// its suffix) is named for `project`.
fn named_for(dir: &str, project: &str) -> bool {
    let name = dir.rsplit_once('-').map_or(dir, |(name, _)| name);
    crate::pypi::normalize(name) == crate::pypi::normalize(project)
}

/// Among the candidates, the one named for the project, else the only one.
fn choose<T>(
    mut found: Vec<(String, T)>,
    project: &str,
    what: &'static str,
) -> Result<(String, T), ArchiveError> {
    if found.is_empty() {
        return Err(ArchiveError::NotFound(what));
    }
    if found.len() > 1 {
        found.retain(|(dir, _)| named_for(dir, project));
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        _ => Err(ArchiveError::Ambiguous(what)),
    }
}

fn from_zip<R: Read + Seek>(
    reader: R,
    project: &str,
    wanted: Wanted,
) -> Result<Member, ArchiveError> {
    let mut zip = zip::ZipArchive::new(reader)?;
    if zip.len() > MAX_ENTRIES {
        return Err(ArchiveError::TooLarge(format!(
            "{} entries, more than the {MAX_ENTRIES} ponyswarm reads",
            zip.len()
        )));
    }
    let found = zip
        .file_names()
        .filter_map(|name| Some(((wanted.dir_of)(name)?.to_string(), name.to_string())))
        .collect();
    let (_, path) = choose(found, project, wanted.what)?;
    let entry = zip.by_name(&path)?;
    let bytes = read_capped(entry, &path)?;
    Ok(Member { path, bytes })
}

fn from_tar_gz<R: Read>(reader: R, project: &str) -> Result<Member, ArchiveError> {
    walk_tar_gz(reader, project).map_err(|e| match e {
        ArchiveError::Io(io) => match (ExpandsPast::of(&io), HeaderTooLarge::of(&io)) {
            (Some(past), _) => ArchiveError::TooLarge(format!("it {past}")),
            (_, Some(header)) => ArchiveError::TooLarge(format!("it {header}")),
            _ => ArchiveError::Io(io),
        },
        other => other,
    })
}

fn walk_tar_gz<R: Read>(reader: R, project: &str) -> Result<Member, ArchiveError> {
    let gz = flate2::read::GzDecoder::new(reader);
    let mut tar = hostile_tar(gz, LIMITS.stream_bytes());
    let mut found = Vec::new();
    for (count, entry) in tar.entries()?.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(ArchiveError::TooLarge(format!(
                "more than {MAX_ENTRIES} entries"
            )));
        }
        let entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = path.strip_prefix("./").unwrap_or(&path).to_string();
        if let Some(dir) = (PKG_INFO.dir_of)(&path) {
            let dir = dir.to_string();
            let bytes = read_capped(entry, &path)?;
            found.push((dir, Member { path, bytes }));
        }
    }
    choose(found, project, PKG_INFO.what).map(|(_, member)| member)
}

/// At most [`MAX_MEMBER_BYTES`] of `reader`; more is an error.
fn read_capped(reader: impl Read, path: &str) -> Result<Vec<u8>, ArchiveError> {
    let mut bytes = Vec::new();
    reader.take(MAX_MEMBER_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_MEMBER_BYTES {
        return Err(ArchiveError::TooLarge(format!(
            "{path} is larger than {MAX_MEMBER_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            out.start_file(*name, opts).expect("a zip entry");
            out.write_all(data).expect("written");
        }
        out.finish().expect("a zip").into_inner()
    }

    fn tar_gz_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, *data).expect("a tar entry");
        }
        tar.into_inner()
            .expect("a tar")
            .finish()
            .expect("a gzip stream")
    }

    #[test]
    fn wheels_give_their_dist_info_metadata() {
        let wheel = zip_of(&[
            ("pony/__init__.py", b""),
            ("pony/sub.dist-info/METADATA", b"nested: not it"),
            ("pony-1.0.dist-info/METADATA", b"Metadata-Version: 2.1"),
            ("pony-1.0.dist-info/RECORD", b""),
        ]);
        let got = from_zip(Cursor::new(wheel), "pony", WHEEL_METADATA).expect("found");
        assert_eq!(got.path, "pony-1.0.dist-info/METADATA");
        assert_eq!(got.bytes, b"Metadata-Version: 2.1");
    }

    #[test]
    fn a_vendored_dist_info_loses_to_the_projects_own() {
        let wheel = zip_of(&[
            ("six-1.0.dist-info/METADATA", b"vendored"),
            ("Pony_Tools-1.0.dist-info/METADATA", b"own"),
        ]);
        let got = from_zip(Cursor::new(wheel), "pony-tools", WHEEL_METADATA).expect("found");
        assert_eq!(got.bytes, b"own");
        let two = zip_of(&[
            ("a-1.dist-info/METADATA", b"a"),
            ("b-1.dist-info/METADATA", b"b"),
        ]);
        let err = from_zip(Cursor::new(two), "pony", WHEEL_METADATA).expect_err("ambiguous");
        assert!(matches!(err, ArchiveError::Ambiguous("METADATA")), "{err}");
    }

    #[test]
    fn sdists_give_their_top_pkg_info() {
        let sdist = tar_gz_of(&[
            ("pony-1.0/setup.py", b"print()"),
            ("pony-1.0/src/pony.egg-info/PKG-INFO", b"egg-info: not it"),
            ("pony-1.0/PKG-INFO", b"Metadata-Version: 2.2"),
        ]);
        let got = from_tar_gz(Cursor::new(sdist), "pony").expect("found");
        assert_eq!(got.path, "pony-1.0/PKG-INFO");
        assert_eq!(got.bytes, b"Metadata-Version: 2.2");
        let zipped = zip_of(&[("pony-0.1/PKG-INFO", b"old")]);
        let got = from_zip(Cursor::new(zipped), "pony", PKG_INFO).expect("found");
        assert_eq!(got.bytes, b"old");
    }

    #[test]
    fn archives_without_metadata_or_too_large_are_refused() {
        let none = zip_of(&[("pony/__init__.py", b"")]);
        let err = from_zip(Cursor::new(none), "pony", WHEEL_METADATA).expect_err("none");
        assert!(matches!(err, ArchiveError::NotFound("METADATA")), "{err}");

        let none = tar_gz_of(&[("pony-1.0/setup.py", b"")]);
        let err = from_tar_gz(Cursor::new(none), "pony").expect_err("none");
        assert!(matches!(err, ArchiveError::NotFound("PKG-INFO")), "{err}");

        let huge = vec![b'a'; (MAX_MEMBER_BYTES + 1) as usize];
        let bomb = tar_gz_of(&[("pony-1.0/PKG-INFO", &huge)]);
        let err = from_tar_gz(Cursor::new(bomb), "pony").expect_err("too large");
        assert!(matches!(err, ArchiveError::TooLarge(_)), "{err}");

        let err = from_zip(Cursor::new(b"not a zip".to_vec()), "pony", WHEEL_METADATA)
            .expect_err("not a zip");
        assert!(matches!(err, ArchiveError::Zip(_)), "{err}");
    }

    #[test]
    fn a_pax_header_claiming_gigabytes_is_refused() {
        let bomb = crate::untar::bombs::pax_header(LIMITS.stream_bytes() + 1);
        let err = from_tar_gz(Cursor::new(bomb), "pony").expect_err("a bomb");
        let text = err.to_string();
        assert!(
            matches!(err, ArchiveError::TooLarge(_))
                && text.starts_with("it has a PAX extended header claiming"),
            "{text}"
        );
    }
}
