//! The one way ponyswarm unpacks a tar.gz it did not make: a project's source sent to the
//! coordinator, and the same source downloaded by an agent. Callers differ only in their
//! [`Limits`]; what is refused is the same everywhere.
//!
//! Unpacking trusts nothing in the archive: absolute paths and `..` are refused, no entry
//! is written through a symlink, hard links and device files are refused, every symlink
//! must resolve inside the tree once unpacked (a dangling one is harmless), and the whole
//! may not unpack to more than [`Limits::max_bytes`] in more than [`Limits::max_entries`]
//! entries, so a small archive cannot fill the disk.
//!
//! I/O: writes under the destination directory only.

use flate2::read::GzDecoder;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// How much an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of file contents, all entries together.
    pub max_bytes: u64,
    /// Most entries (files, directories, links).
    pub max_entries: usize,
}

/// Why an archive was refused or could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UntarError {
    /// An entry would land outside the tree, or be written through a symlink.
    #[error("the archive has an unsafe entry {0:?}: paths must be relative, without `..`")]
    UnsafePath(String),
    /// A symlink points outside the tree.
    #[error("the archive's symlink {0:?} points outside the tree")]
    LinkOutside(String),
    /// An entry kind that a source has no use for.
    #[error("the archive's entry {0:?} is a hard link or device: not allowed")]
    Kind(String),
    /// Over the [`Limits`].
    #[error("the archive unpacks to more than {} MiB or {} entries", .0.max_bytes >> 20, .0.max_entries)]
    TooLarge(Limits),
    /// Not a tar.gz, or a read or write failed.
    #[error("cannot unpack the archive: {0}")]
    Io(#[from] io::Error),
}

/// Unpacks the tar.gz `gz` into the existing, empty directory `dest`, within `limits`.
pub fn unpack(gz: &[u8], dest: &Path, limits: Limits) -> Result<(), UntarError> {
    let mut archive = tar::Archive::new(GzDecoder::new(gz));
    let mut total = 0u64;
    let mut links = Vec::new();
    for (count, entry) in archive.entries()?.enumerate() {
        if count >= limits.max_entries {
            return Err(UntarError::TooLarge(limits));
        }
        let mut entry = entry?;
        let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let rel =
            safe_relative(entry.path()?).ok_or_else(|| UntarError::UnsafePath(shown.clone()))?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let path = dest.join(&rel);
        refuse_links_on_the_way(dest, &rel, &shown)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&path)?;
        } else if kind.is_file() {
            total += entry.header().size()?;
            if total > limits.max_bytes {
                return Err(UntarError::TooLarge(limits));
            }
            write_file(&mut entry, &path, limits)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name()?
                .ok_or_else(|| UntarError::UnsafePath(shown.clone()))?
                .into_owned();
            if target.is_absolute() {
                return Err(UntarError::LinkOutside(shown));
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::os::unix::fs::symlink(&target, &path)?;
            links.push((path, shown));
        } else if kind.is_hard_link()
            || kind.is_character_special()
            || kind.is_block_special()
            || kind.is_fifo()
        {
            return Err(UntarError::Kind(shown));
        }
        // Other kinds (pax headers, GNU long names) are metadata the tar crate applies.
    }
    check_links(dest, &links)
}

/// `path` as only normal components (`./` dropped), or `None` when it is absolute or
/// climbs with `..`.
pub fn safe_relative(path: impl AsRef<Path>) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.as_ref().components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Refuses an entry whose parent directories pass through a symlink: written through
/// it, the entry could land anywhere the link points.
fn refuse_links_on_the_way(dest: &Path, rel: &Path, shown: &str) -> Result<(), UntarError> {
    let mut at = dest.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(UntarError::UnsafePath(shown.to_string()));
        }
    }
    Ok(())
}

fn write_file(entry: &mut impl Read, path: &Path, limits: Limits) -> Result<(), UntarError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        // A repeated name: replace, never write through what is there.
        std::fs::remove_file(path)?;
    }
    let mut file = std::fs::File::create(path)?;
    let copied = io::copy(&mut entry.take(limits.max_bytes + 1), &mut file)?;
    if copied > limits.max_bytes {
        return Err(UntarError::TooLarge(limits));
    }
    Ok(())
}

/// Every symlink must resolve inside `dest` (a dangling one is harmless).
fn check_links(dest: &Path, links: &[(PathBuf, String)]) -> Result<(), UntarError> {
    let root = dest.canonicalize()?;
    for (path, shown) in links {
        if let Ok(target) = path.canonicalize() {
            if !target.starts_with(&root) {
                return Err(UntarError::LinkOutside(shown.clone()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use tar::EntryType::{Directory, Link, Regular, Symlink};

    const ROOMY: Limits = Limits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };

    /// A tar.gz with raw entries: (path, kind, data or link target), written without
    /// tar's own path checks, as an attacker would.
    fn archive(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            let name = &mut h.as_gnu_mut().expect("a GNU header").name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if kind.is_symlink() || kind.is_hard_link() {
                h.set_link_name(data).expect("a short link");
                h.set_size(0);
                h.set_cksum();
                b.append(&h, io::empty()).expect("appends");
            } else {
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data.as_bytes()).expect("appends");
            }
        }
        b.into_inner()
            .and_then(GzEncoder::finish)
            .expect("finishes")
    }

    #[test]
    fn unsafe_archives_are_refused() {
        type Entries<'a> = Vec<(&'a str, tar::EntryType, &'a str)>;
        let cases: Vec<(&str, Entries)> = vec![
            ("absolute path", vec![("/etc/x", Regular, "x")]),
            ("parent dir", vec![("a/../../x", Regular, "x")]),
            ("climbing file", vec![("../x", Regular, "x")]),
            ("absolute link", vec![("l", Symlink, "/etc")]),
            ("link climbing out", vec![("l", Symlink, "../..")]),
            (
                "write through a link",
                vec![("l", Symlink, "."), ("l/x", Regular, "x")],
            ),
            (
                "link that escapes once resolved",
                vec![("a", Symlink, "."), ("b", Symlink, "a/..")],
            ),
            ("hard link", vec![("h", Link, "/etc/passwd")]),
        ];
        for (name, entries) in cases {
            let dir = tempfile::tempdir().expect("a temp dir");
            let dest = dir.path().join("src");
            std::fs::create_dir(&dest).expect("mkdir");
            assert!(unpack(&archive(&entries), &dest, ROOMY).is_err(), "{name}");
            assert!(!dir.path().join("x").exists(), "{name} wrote outside");
        }
    }

    #[test]
    fn files_directories_and_inner_links_are_written() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let gz = archive(&[
            ("./", Directory, ""),
            ("pkg/", Directory, ""),
            ("pkg/a.py", Regular, "print(1)\n"),
            ("./ponyswarm.yaml", Regular, "matrix: {}\n"),
            ("link.py", Symlink, "pkg/a.py"),
        ]);
        unpack(&gz, dir.path(), ROOMY).expect("unpacks");
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).expect("reads");
        assert_eq!(read("pkg/a.py"), "print(1)\n");
        assert_eq!(read("ponyswarm.yaml"), "matrix: {}\n");
        assert_eq!(read("link.py"), "print(1)\n");
    }

    #[test]
    fn the_limits_are_the_callers() {
        let gz = archive(&[("a", Regular, "12345"), ("b", Regular, "67890")]);
        let cases = [
            (10, 2, true),
            (9, 2, false),
            (10, 1, false),
            (4, 100, false),
        ];
        for (max_bytes, max_entries, fits) in cases {
            let dir = tempfile::tempdir().expect("a temp dir");
            let limits = Limits {
                max_bytes,
                max_entries,
            };
            let got = unpack(&gz, dir.path(), limits);
            match got {
                Ok(()) => assert!(fits, "{limits:?} should refuse"),
                Err(UntarError::TooLarge(l)) => assert!(!fits && l == limits, "{limits:?}"),
                Err(e) => panic!("{limits:?}: {e}"),
            }
        }
    }

    #[test]
    fn not_a_tarball_is_an_error() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let got = unpack(b"plain text", dir.path(), ROOMY);
        assert!(matches!(got, Err(UntarError::Io(_))), "{got:?}");
    }
}
