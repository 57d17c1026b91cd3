//! Source trees as tar.gz: packed by `ponyswarm submit` and the webhook, unpacked by
//! the coordinator to read the matrix.
//!
//! Unpacking trusts nothing in the archive: absolute paths and `..` are refused, no
//! entry is written through a symlink, hard links and device files are refused, every
//! symlink must resolve inside the tree once unpacked, and the whole may not unpack to
//! more than [`MAX_BYTES`].

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Most bytes a source may hold, packed or unpacked.
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Most entries a source may hold.
pub const MAX_ENTRIES: usize = 200_000;

/// Directories never packed: version control, caches, virtualenvs, ponyswarm's output.
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".ponyswarm",
    "__pycache__",
    ".tox",
    ".nox",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
];

/// Why an archive was refused or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    /// An entry would land outside the tree.
    #[error("the source archive has an unsafe entry {0:?}: paths must be relative, without `..`")]
    UnsafePath(String),
    /// A symlink points outside the tree.
    #[error("the source archive's symlink {0:?} points outside the source tree")]
    LinkOutside(String),
    /// An entry kind that a source has no use for.
    #[error("the source archive's entry {0:?} is a hard link or device: not allowed")]
    Kind(String),
    /// Too big.
    #[error("the source is larger than {} MB (or has more than {MAX_ENTRIES} entries)", MAX_BYTES >> 20)]
    TooLarge,
    /// Not a tar.gz, or a read or write failed.
    #[error("cannot read the source archive: {0}")]
    Io(#[from] io::Error),
}

/// Packs the tree under `root` (skipping version control and caches) as tar.gz.
/// Symlinks are kept as symlinks.
pub fn pack(root: &Path) -> Result<Vec<u8>, TarballError> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::default()));
    builder.follow_symlinks(false);
    let mut size = 0u64;
    let mut count = 0usize;
    pack_dir(&mut builder, root, Path::new(""), &mut size, &mut count)?;
    let gz = builder.into_inner()?;
    Ok(gz.finish()?)
}

fn pack_dir(
    builder: &mut tar::Builder<GzEncoder<Vec<u8>>>,
    root: &Path,
    rel: &Path,
    size: &mut u64,
    count: &mut usize,
) -> Result<(), TarballError> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let rel = rel.join(&name);
        let kind = entry.file_type()?;
        *count += 1;
        if *count > MAX_ENTRIES {
            return Err(TarballError::TooLarge);
        }
        if kind.is_dir() {
            if SKIPPED_DIRS.iter().any(|s| name == *s) {
                continue;
            }
            builder.append_dir(&rel, entry.path())?;
            pack_dir(builder, root, &rel, size, count)?;
        } else if kind.is_file() || kind.is_symlink() {
            *size += entry.metadata()?.len();
            if *size > MAX_BYTES {
                return Err(TarballError::TooLarge);
            }
            builder.append_path_with_name(entry.path(), &rel)?;
        }
    }
    Ok(())
}

/// Unpacks the tar.gz `gz` into the existing, empty directory `dest`.
pub fn unpack(gz: &[u8], dest: &Path) -> Result<(), TarballError> {
    let mut archive = tar::Archive::new(GzDecoder::new(gz));
    let mut total = 0u64;
    let mut links = Vec::new();
    for (count, entry) in archive.entries()?.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(TarballError::TooLarge);
        }
        let mut entry = entry?;
        let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let rel =
            safe_relative(&entry.path()?).ok_or_else(|| TarballError::UnsafePath(shown.clone()))?;
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
            if total > MAX_BYTES {
                return Err(TarballError::TooLarge);
            }
            write_file(&mut entry, &path)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name()?
                .ok_or_else(|| TarballError::UnsafePath(shown.clone()))?
                .into_owned();
            if target.is_absolute() {
                return Err(TarballError::LinkOutside(shown));
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
            return Err(TarballError::Kind(shown));
        }
        // Other kinds (pax headers, GNU long names) are metadata the tar crate applies.
    }
    check_links(dest, &links)
}

/// `path` without `.`, or `None` when it is absolute or climbs with `..`.
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Refuses an entry whose parent directories pass through a symlink: written through
/// it, the entry could land anywhere the link points.
fn refuse_links_on_the_way(dest: &Path, rel: &Path, shown: &str) -> Result<(), TarballError> {
    let mut at = dest.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(TarballError::UnsafePath(shown.to_string()));
        }
    }
    Ok(())
}

fn write_file(entry: &mut impl Read, path: &Path) -> Result<(), TarballError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        // A repeated name: replace, never write through what is there.
        std::fs::remove_file(path)?;
    }
    let mut file = std::fs::File::create(path)?;
    let copied = io::copy(&mut entry.take(MAX_BYTES + 1), &mut file)?;
    if copied > MAX_BYTES {
        return Err(TarballError::TooLarge);
    }
    Ok(())
}

/// Every symlink must resolve inside `dest` (a dangling one is harmless).
fn check_links(dest: &Path, links: &[(PathBuf, String)]) -> Result<(), TarballError> {
    let root = dest.canonicalize()?;
    for (path, shown) in links {
        if let Ok(target) = path.canonicalize() {
            if !target.starts_with(&root) {
                return Err(TarballError::LinkOutside(shown.clone()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar.gz with raw entries: (path, kind, data or link target).
    fn archive(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            // set_path refuses `..`: write the name bytes directly, as an attacker would.
            let name = &mut h.as_gnu_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if kind.is_symlink() || kind.is_hard_link() {
                h.set_link_name(data).unwrap();
                h.set_size(0);
                h.set_cksum();
                b.append(&h, io::empty()).unwrap();
            } else {
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data.as_bytes()).unwrap();
            }
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn unsafe_archives_are_refused() {
        use tar::EntryType::{Link, Regular, Symlink};
        type Entries<'a> = Vec<(&'a str, tar::EntryType, &'a str)>;
        let cases: Vec<(&str, Entries)> = vec![
            ("absolute path", vec![("/etc/x", Regular, "x")]),
            ("parent dir", vec![("a/../../x", Regular, "x")]),
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
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("src");
            std::fs::create_dir(&dest).unwrap();
            assert!(unpack(&archive(&entries), &dest).is_err(), "{name}");
            assert!(!dir.path().join("x").exists(), "{name} wrote outside");
        }
    }

    #[test]
    fn a_packed_tree_unpacks_the_same_without_git() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("pkg/.git")).unwrap();
        std::fs::write(src.join("pkg/mod.py"), "x = 1\n").unwrap();
        std::fs::write(src.join("pkg/.git/HEAD"), "ref\n").unwrap();
        std::os::unix::fs::symlink("pkg/mod.py", src.join("link.py")).unwrap();
        let gz = pack(&src).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        unpack(&gz, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("link.py")).unwrap(),
            "x = 1\n"
        );
        assert!(std::fs::symlink_metadata(out.join("link.py"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(!out.join("pkg/.git").exists());
        assert!(unpack(b"not gzip", &out).is_err());
    }
}
