//! Scratch directories for root file systems: removed when done, also when
//! debootstrap fails or the build is cancelled; but never while something is mounted
//! inside (a killed debootstrap can leave `proc` mounted there), since deleting
//! through a mount would delete the host's files.

use std::path::{Path, PathBuf};

/// A scratch directory for a root file system, removed when done (or dropped),
/// unless something is still mounted inside it.
pub(super) struct Scratch {
    path: PathBuf,
    removed: bool,
}

impl Scratch {
    /// A fresh directory under `/var/tmp` (on disk: a root file system is too big
    /// for a RAM-backed `/tmp`), or the temp directory when there is none.
    pub(super) fn create(suite: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let parent = Some(PathBuf::from("/var/tmp"))
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!(
            "ponyswarm-debootstrap-{suite}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self {
            path,
            removed: false,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory without blocking the async runtime.
    pub(super) async fn remove(mut self) {
        self.removed = true;
        let path = self.path.clone();
        let _ = tokio::task::spawn_blocking(move || clean_up(&path)).await;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.removed {
            clean_up(&self.path);
        }
    }
}

/// Unmounts what is mounted under `path`, then deletes it; leaves it (with a
/// warning) if a mount will not go, rather than delete through it.
fn clean_up(path: &Path) {
    let mut mounts = mounts_under(path);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    for mount in &mounts {
        let _ = std::process::Command::new("umount")
            .arg("--lazy")
            .arg(mount)
            .status();
    }
    if !mounts_under(path).is_empty() {
        tracing::warn!(
            "leaving {}: something is still mounted inside it; unmount and delete it by hand",
            path.display()
        );
        return;
    }
    if let Err(e) = std::fs::remove_dir_all(path) {
        tracing::warn!("cannot remove {}: {e}", path.display());
    }
}

/// Mount points at or below `path`, from `/proc/self/mountinfo`.
fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|mount| mount.starts_with(path))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
fn unescape_mountinfo(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo(r"/var/tmp/a\040b"), "/var/tmp/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/odd\x"), r"/odd\x");
    }

    #[test]
    fn the_root_mount_is_not_under_a_scratch_directory() {
        assert!(mounts_under(Path::new("/var/tmp/ponyswarm-debootstrap-none")).is_empty());
        assert!(!mounts_under(Path::new("/")).is_empty());
    }

    #[test]
    fn scratch_directories_are_removed_on_drop() {
        let scratch = Scratch::create("test").unwrap();
        let path = scratch.path().to_owned();
        std::fs::write(path.join("f"), "x").unwrap();
        drop(scratch);
        assert!(!path.exists());
    }
}
