//! A run's source, as downloaded from the coordinator: checked against the spec's
//! SHA-256, then unpacked into a fresh directory, safely.
//!
//! Safely means: only regular files and directories are written, at relative paths
//! with no `..`; symlinks, devices and links are skipped, so nothing in the tarball
//! can make a later read or write land outside the directory (the matrix file, its
//! templates and the test detection all read from it on the agent's host). Sizes are
//! capped so a small tarball cannot fill the disk.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Most bytes a source may unpack to.
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// Most entries a source may hold.
pub const MAX_ENTRIES: usize = 200_000;

/// The source cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The download is not what the signed spec describes.
    #[error("the source's SHA-256 is {got}, but the job spec says {want}")]
    Checksum {
        /// What the spec says.
        want: String,
        /// What was downloaded.
        got: String,
    },
    /// Not a readable tar.gz, or writing it out failed.
    #[error("cannot unpack the source: {0}")]
    Io(#[from] std::io::Error),
    /// An entry that would land outside the directory.
    #[error("the source holds an unsafe path {0:?}")]
    UnsafePath(String),
    /// Over [`MAX_UNPACKED_BYTES`] or [`MAX_ENTRIES`].
    #[error("the source is too large to unpack: {0}")]
    TooLarge(String),
}

/// What [`unpack`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unpacked {
    /// Regular files written.
    pub files: usize,
    /// Entries skipped: symlinks, hard links, devices.
    pub skipped: Vec<String>,
}

/// Checks `bytes` against the hex SHA-256 `want` (case-insensitive).
pub fn check_sha256(bytes: &[u8], want: &str) -> Result<(), UnpackError> {
    let got = hex::encode(Sha256::digest(bytes));
    if got.eq_ignore_ascii_case(want.trim()) {
        Ok(())
    } else {
        Err(UnpackError::Checksum {
            want: want.to_string(),
            got,
        })
    }
}

/// Unpacks the tar.gz `bytes` into `dest` (an existing, empty directory).
pub fn unpack(bytes: &[u8], dest: &Path) -> Result<Unpacked, UnpackError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Unpacked::default();
    let (mut total, mut entries) = (0u64, 0usize);
    for entry in archive.entries()? {
        let mut entry = entry?;
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(UnpackError::TooLarge(format!(
                "more than {MAX_ENTRIES} entries"
            )));
        }
        let raw = entry.path()?.to_string_lossy().into_owned();
        let Some(rel) = safe_relative(&raw) else {
            return Err(UnpackError::UnsafePath(raw));
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => std::fs::create_dir_all(&target)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total += entry.size();
                if total > MAX_UNPACKED_BYTES {
                    return Err(UnpackError::TooLarge(format!(
                        "more than {} MiB",
                        MAX_UNPACKED_BYTES >> 20
                    )));
                }
                write_file(&mut entry, &target)?;
                out.files += 1;
            }
            _ => out.skipped.push(raw),
        }
    }
    Ok(out)
}

/// Writes one regular file, keeping only its executable bit from the archive.
fn write_file(entry: &mut impl Read, target: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::File::create(target)?;
    // Bounded by the header's size: tar's reader stops at the entry's end.
    std::io::copy(entry, &mut file)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    Ok(())
}

/// `raw` as a path of only normal components (`./` dropped), or `None` when it is
/// absolute or climbs with `..`.
pub fn safe_relative(raw: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar.gz of `(path, kind, contents)`, written without tar's own path checks so
    /// hostile entries can be made.
    fn tarball(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, kind, body) in entries {
            let mut h = tar::Header::new_gnu();
            let name = path.as_bytes();
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
            h.set_entry_type(*kind);
            h.set_mode(0o755);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").unwrap();
                h.set_size(0);
            } else {
                h.set_size(body.len() as u64);
            }
            h.set_cksum();
            b.append(&h, body.as_bytes()).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn files_and_directories_are_written_links_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = tarball(&[
            ("./", tar::EntryType::Directory, ""),
            ("pkg/", tar::EntryType::Directory, ""),
            ("pkg/a.py", tar::EntryType::Regular, "print(1)\n"),
            ("./ponyswarm.yaml", tar::EntryType::Regular, "matrix: {}\n"),
            ("evil", tar::EntryType::Symlink, ""),
        ]);
        let got = unpack(&bytes, dir.path()).unwrap();
        assert_eq!(got.files, 2);
        assert_eq!(got.skipped, ["evil"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pkg/a.py")).unwrap(),
            "print(1)\n"
        );
        assert!(dir.path().join("ponyswarm.yaml").is_file());
        assert!(std::fs::symlink_metadata(dir.path().join("evil")).is_err());
    }

    #[test]
    fn climbing_or_absolute_paths_are_refused() {
        for path in ["../escape.py", "a/../../b", "/etc/cron.d/x"] {
            let dir = tempfile::tempdir().unwrap();
            let bytes = tarball(&[(path, tar::EntryType::Regular, "x")]);
            let err = unpack(&bytes, dir.path()).unwrap_err();
            assert!(matches!(err, UnpackError::UnsafePath(_)), "{path}: {err}");
        }
    }

    #[test]
    fn the_checksum_must_match() {
        let sum = hex::encode(Sha256::digest(b"abc"));
        assert!(check_sha256(b"abc", &sum).is_ok());
        assert!(check_sha256(b"abc", &sum.to_uppercase()).is_ok());
        let err = check_sha256(b"abd", &sum).unwrap_err().to_string();
        assert!(err.contains(&sum), "{err}");
    }

    #[test]
    fn not_a_tarball_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack(b"plain text", dir.path()).is_err());
    }
}
