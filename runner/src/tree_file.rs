//! A file a matrix names on the host (a `files:` template, a `-r`/`-c` requirement
//! file), read only from inside its tree: the matrix file's directory for templates,
//! the source tree for requirement files.
//!
//! The matrix may come from a stranger (a submitted run, a pushed commit), so the path
//! is hostile: an absolute path or a `..` is refused, a symlink must resolve inside the
//! tree, only a regular file is read (not `/dev/zero`, not a FIFO), and at most
//! [`MAX_BYTES`] of it.
//!
//! I/O: reads the one file.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Most bytes of a template or requirement file.
pub const MAX_BYTES: u64 = 1 << 20;

/// Why a named file is not read.
#[derive(Debug, thiserror::Error)]
pub enum TreeFileError {
    /// Absolute, or climbing with `..`.
    #[error("{0:?} must be a relative path inside the tree, without `..`")]
    Outside(String),
    /// A symlink on the way leads out of the tree.
    #[error("{0:?} leads outside the tree through a symlink")]
    LinkOutside(String),
    /// A directory, a device, a FIFO.
    #[error("{0:?} is not a regular file")]
    NotRegular(String),
    /// Over [`MAX_BYTES`].
    #[error("{0:?} is larger than {cap} (the cap on files a matrix names)", cap = crate::untar::human_bytes(MAX_BYTES))]
    TooLarge(String),
    /// Missing or unreadable.
    #[error("cannot read {0:?}: {1}")]
    Io(String, #[source] io::Error),
}

impl TreeFileError {
    /// Whether the file is simply not there (its use may still make it, e.g. a
    /// `files:` entry writing it).
    pub fn is_missing(&self) -> bool {
        matches!(self, TreeFileError::Io(_, e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Where `rel` is under `root`, once every symlink is resolved; refused when that is
/// outside `root` or `rel` is absolute or climbs.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, TreeFileError> {
    let io_err = |e| TreeFileError::Io(rel.to_string(), e);
    let inside =
        crate::untar::safe_relative(rel).ok_or_else(|| TreeFileError::Outside(rel.to_string()))?;
    let root = root.canonicalize().map_err(io_err)?;
    let real = root.join(&inside).canonicalize().map_err(io_err)?;
    if !real.starts_with(&root) {
        return Err(TreeFileError::LinkOutside(rel.to_string()));
    }
    Ok(real)
}

/// The bytes of the regular file `rel` under `root` (see the module doc for what is
/// refused).
pub fn read(root: &Path, rel: &str) -> Result<Vec<u8>, TreeFileError> {
    let path = resolve(root, rel)?;
    let io_err = |e| TreeFileError::Io(rel.to_string(), e);
    let file = std::fs::File::open(&path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(TreeFileError::NotRegular(rel.to_string()));
    }
    let mut bytes = Vec::new();
    // The file may grow after the size was looked at: read within the cap anyway.
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(TreeFileError::TooLarge(rel.to_string()));
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_text(root: &Path, rel: &str) -> Result<String, TreeFileError> {
    let bytes = read(root, rel)?;
    String::from_utf8(bytes).map_err(|e| {
        TreeFileError::Io(
            rel.to_string(),
            io::Error::new(io::ErrorKind::InvalidData, e),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_tree_under_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/req.txt"), "pony\n").unwrap();
        std::fs::write(dir.path().join("secret"), "s\n").unwrap();
        std::fs::write(root.join("big"), vec![b'x'; MAX_BYTES as usize + 1]).unwrap();
        std::os::unix::fs::symlink("../secret", root.join("out")).unwrap();
        std::os::unix::fs::symlink("sub/req.txt", root.join("in")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero")).unwrap();
        std::os::unix::fs::symlink("/", root.join("slash")).unwrap();
        let cases: [(&str, Result<&str, &str>); 10] = [
            ("sub/req.txt", Ok("pony\n")),
            ("./sub/req.txt", Ok("pony\n")),
            ("in", Ok("pony\n")),
            ("/etc/passwd", Err("relative path")),
            ("../secret", Err("relative path")),
            ("sub/../../secret", Err("relative path")),
            ("out", Err("through a symlink")),
            ("slash/etc/passwd", Err("through a symlink")),
            ("zero", Err("through a symlink")),
            ("big", Err("larger than 1 MiB")),
        ];
        for (rel, want) in cases {
            match (read_text(&root, rel), want) {
                (Ok(text), Ok(want)) => assert_eq!(text, want, "{rel}"),
                (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{rel}: {e}"),
                (got, want) => panic!("{rel}: {got:?}, want {want:?}"),
            }
        }
        assert!(matches!(
            read(&root, "sub"),
            Err(TreeFileError::NotRegular(_))
        ));
        assert!(read(&root, "nothing.txt").unwrap_err().is_missing());
    }

    #[test]
    fn a_device_inside_the_tree_is_not_read() {
        // A tree whose root is /dev: the device is inside, yet not a regular file.
        let got = read(Path::new("/dev"), "zero");
        assert!(matches!(got, Err(TreeFileError::NotRegular(_))), "{got:?}");
    }
}
