//! Source trees as tar.gz: packed by `ponyswarm submit` and the webhook, unpacked by
//! the coordinator to read the matrix.
//!
//! Unpacking trusts nothing in the archive (see [`crate::untar`], shared with the agent);
//! the coordinator's limits are [`MAX_BYTES`] and [`MAX_ENTRIES`].

use crate::skipped_dirs::{is_skipped, Walk};
use crate::untar::{self, ExpandsPast, HeaderTooLarge, Limits, UntarError};
use flate2::write::GzEncoder;
use std::io;
use std::path::Path;

/// Most bytes a source may hold, packed or unpacked.
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Most entries a source may hold.
pub const MAX_ENTRIES: usize = 200_000;

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
    /// The decompressed stream is too long: a bomb.
    #[error("the source tarball {0}")]
    Expands(ExpandsPast),
    /// A GNU long name or PAX header claims more than a header may: a header bomb.
    #[error("the source tarball {0}")]
    Header(HeaderTooLarge),
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
            if name.to_str().is_some_and(|n| is_skipped(n, Walk::Archive)) {
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

/// What the coordinator unpacks a source to at most: [`MAX_BYTES`], [`MAX_ENTRIES`].
pub const LIMITS: Limits = Limits {
    max_bytes: MAX_BYTES,
    max_entries: MAX_ENTRIES,
};

/// Unpacks the tar.gz `gz` into the existing, empty directory `dest`, within [`LIMITS`]
/// (see [`crate::untar`] for what is refused).
pub fn unpack(gz: &[u8], dest: &Path) -> Result<(), TarballError> {
    untar::unpack(gz, dest, LIMITS).map_err(|e| match e {
        UntarError::UnsafePath(p) => TarballError::UnsafePath(p),
        UntarError::LinkOutside(p) => TarballError::LinkOutside(p),
        UntarError::Kind(p) => TarballError::Kind(p),
        UntarError::TooLarge(_) => TarballError::TooLarge,
        UntarError::Expands(past) => TarballError::Expands(past),
        UntarError::Header(header) => TarballError::Header(header),
        UntarError::Io(e) => TarballError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_pax_bomb_is_refused_naming_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = untar::bombs::pax_header(LIMITS.stream_bytes() + 1);
        let err = unpack(&bomb, dir.path()).expect_err("a bomb");
        assert!(matches!(err, TarballError::Header(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "the source tarball has a PAX extended header claiming 246 MiB (at most 64 KiB is read)"
        );
    }
}
