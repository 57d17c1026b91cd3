//! The project's source as a tar stream for a container: the tree under `spec.source`
//! plus the job's rendered `files:`, every entry owned by the sandbox user (uid 1000)
//! and placed under one top directory (`src/`), so it can be extracted into `/work`.
//!
//! The tar is written on a blocking thread into a bounded channel, so a large tree is
//! never held in memory whole. Symlinks are kept as symlinks, never followed: a link
//! to a host file must not copy that file in.

use crate::run::layout::WORK;
use crate::sandbox::container::OWN_PATH;
use crate::skipped_dirs::{is_skipped, Walk};
use bytes::Bytes;
use futures_util::Stream;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// uid and gid of the sandbox user.
const OWNER: u64 = 1000;

/// Pid 1 of a container the source is fed to as it starts
/// (`Container::start_fed`, a job's or an environment build's): unpacks the source
/// archive it reads on stdin into the work area, says so ([`READY`]), and idles while
/// the commands run in it. Its commands come from the system's directories, not from
/// the job's PATH (see [`OWN_PATH`]). The image needs `sh` and `tar`, as every Debian
/// or Alpine image has.
pub fn unpack_then_idle() -> String {
    format!("PATH={OWN_PATH}; tar -x -f - -C {WORK} && echo {READY} && exec sleep infinity")
}

/// What [`unpack_then_idle`] prints once the source is in.
pub const READY: &str = "ponyswarm-ready";

/// A `files:` destination that would land outside the source tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("files: {0:?} must be a relative path inside the source tree")]
pub struct BadPath(pub String);

/// Checks that `rel` (a `files:` key) stays inside the tree: relative, no `..`.
pub fn check_relative(rel: &str) -> Result<PathBuf, BadPath> {
    let path = Path::new(rel);
    let ok = !rel.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    ok.then(|| path.to_path_buf())
        .ok_or_else(|| BadPath(rel.to_string()))
}

/// Sends what it is written to a channel in 64 KiB pieces.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

const PIECE: usize = 64 * 1024;

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        let piece = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped reading"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

/// A tar stream of `source` under `top/`, with `files` (relative path → content)
/// written over it. An error reading the tree ends the stream with that error.
pub fn tar_stream(
    source: PathBuf,
    top: &'static str,
    files: Vec<(String, String)>,
    links: Vec<(String, String)>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(PIECE),
        };
        if let Err(e) = write_tar_with(writer, &source, top, &files, &links) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Writes the archive (see [`tar_stream`]) to `out`.
pub fn write_tar<W: Write>(
    out: W,
    source: &Path,
    top: &str,
    files: &[(String, String)],
) -> io::Result<()> {
    write_tar_with(out, source, top, files, &[])
}

/// [`write_tar`], then a symbolic link beside `top` for each `(name, target)` of
/// `links` (a job's `/work/venv` to its environment's venv, which spares an exec).
fn write_tar_with<W: Write>(
    out: W,
    source: &Path,
    top: &str,
    files: &[(String, String)],
    links: &[(String, String)],
) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    set_owner(&mut dir, 0o755);
    tar.append_data(&mut dir, format!("{top}/"), io::empty())?;
    add_tree(&mut tar, source, source, top)?;
    for (rel, content) in files {
        let rel =
            check_relative(rel).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let path = Path::new(top).join(rel);
        // Parents the tree may lack; an existing directory is left as it is.
        for parent in path
            .ancestors()
            .skip(1)
            .filter(|p| p.components().count() > 1)
        {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            set_owner(&mut h, 0o755);
            tar.append_data(&mut h, parent, io::empty())?;
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        set_owner(&mut h, 0o644);
        tar.append_data(&mut h, &path, content.as_bytes())?;
    }
    for (name, target) in links {
        let name =
            check_relative(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        set_owner(&mut h, 0o777);
        tar.append_link(&mut h, name, target)?;
    }
    tar.into_inner()?.flush()
}

fn set_owner(h: &mut tar::Header, mode: u32) {
    if !h.entry_type().is_file() {
        h.set_size(0);
    }
    h.set_uid(OWNER);
    h.set_gid(OWNER);
    h.set_mode(mode);
    h.set_mtime(MTIME);
}

/// Every entry's modification time: one fixed instant, so that the upload (and the
/// digests made from it) depends on content alone, and a late one, 2000-01-01: at 0
/// (1970), a test that zips a source file fails ("ZIP does not support timestamps
/// before 1980"), as requests 2.31.0's `test_zipped_paths_extracted` did.
const MTIME: u64 = 946_684_800;

/// One entry of the source tree, as the archive holds it.
enum Node<'a> {
    Dir,
    Symlink(PathBuf),
    File(&'a std::fs::Metadata),
}

/// Walks the tree under `dir` in name order, as the archive holds it: skipped
/// directories (see `skipped_dirs`), `*.pyc`, sockets, fifos and devices left out,
/// symlinks not followed. `visit` gets each entry's path relative to `root`.
fn walk_tree(
    root: &Path,
    dir: &Path,
    visit: &mut dyn FnMut(&Path, &Path, Node) -> io::Result<()>,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)?;
        let name = entry.file_name();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        if meta.is_dir() {
            if name.to_str().is_some_and(|n| is_skipped(n, Walk::Sandbox)) {
                continue;
            }
            visit(&path, rel, Node::Dir)?;
            walk_tree(root, &path, visit)?;
        } else if meta.file_type().is_symlink() {
            visit(&path, rel, Node::Symlink(std::fs::read_link(&path)?))?;
        } else if meta.is_file() {
            if name.to_string_lossy().ends_with(".pyc") {
                continue;
            }
            visit(&path, rel, Node::File(&meta))?;
        }
        // Sockets, fifos and devices are not source.
    }
    Ok(())
}

fn add_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    dir: &Path,
    top: &str,
) -> io::Result<()> {
    walk_tree(root, dir, &mut |path, rel, node| {
        let dest = Path::new(top).join(rel);
        let mut h = tar::Header::new_gnu();
        match node {
            Node::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                set_owner(&mut h, 0o755);
                tar.append_data(&mut h, &dest, io::empty())
            }
            Node::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                set_owner(&mut h, 0o777);
                tar.append_link(&mut h, &dest, &target)
            }
            Node::File(meta) => {
                h.set_size(meta.len());
                set_owner(&mut h, mode_of(meta));
                let file = std::fs::File::open(path)?;
                tar.append_data(&mut h, &dest, AsLong::new(file, meta.len()))
            }
        }
    })
}

/// A file's content cut or padded with zeros to the length its header gives: a file
/// that grows or shrinks while the archive is written (a log, a database in the tree)
/// must not put more or fewer bytes in the archive than its header says, which would
/// corrupt every entry after it. GNU tar does the same ("file shrank by N bytes;
/// padding with zeros").
struct AsLong<R> {
    inner: R,
    left: u64,
}

impl<R: Read> AsLong<R> {
    fn new(inner: R, len: u64) -> Self {
        AsLong { inner, left: len }
    }
}

impl<R: Read> Read for AsLong<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = match self.inner.read(&mut buf[..want])? {
            // Shrank: zeros for what is missing.
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// Each file and symlink of the source as a job receives it (the tree with `files`
/// over it, as in [`write_tar`]): its path relative to the tree, `/`-separated, to a
/// digest of its content and mode (a symlink: of its target). Directories are left
/// out: an empty one changes nothing a build reads.
pub fn manifest(
    source: &Path,
    files: &[(String, String)],
) -> io::Result<std::collections::BTreeMap<String, String>> {
    use sha2::{Digest, Sha256};
    let short = |h: Sha256| hex::encode(h.finalize())[..16].to_string();
    let rel_key = |rel: &Path| {
        rel.components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut out = std::collections::BTreeMap::new();
    walk_tree(source, source, &mut |path, rel, node| {
        let mut h = Sha256::new();
        match node {
            Node::Dir => return Ok(()),
            Node::Symlink(target) => {
                h.update(b"link\0");
                h.update(target.to_string_lossy().as_bytes());
            }
            Node::File(meta) => {
                h.update(format!("file {:o}\0", mode_of(meta)).as_bytes());
                io::copy(&mut std::fs::File::open(path)?, &mut HashWriter(&mut h))?;
            }
        }
        out.insert(rel_key(rel), short(h));
        Ok(())
    })?;
    for (rel, content) in files {
        let rel =
            check_relative(rel).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut h = Sha256::new();
        h.update(format!("file {:o}\0", 0o644).as_bytes());
        h.update(content.as_bytes());
        out.insert(rel_key(&rel), short(h));
    }
    Ok(out)
}

/// Feeds what it is written to a hash.
pub(crate) struct HashWriter<'a>(pub(crate) &'a mut sha2::Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sha2::Digest::update(self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    // Keep the executable bits; the owner gets read and write.
    (meta.permissions().mode() & 0o755) | 0o644
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_archived_at_its_header_length_whatever_it_holds_by_then() {
        let read = |content: &[u8], len: u64| {
            let mut out = Vec::new();
            AsLong::new(content, len)
                .read_to_end(&mut out)
                .expect("read");
            out
        };
        assert_eq!(read(b"abcdef", 6), b"abcdef");
        assert_eq!(read(b"abcdefgh", 6), b"abcdef", "grew: cut");
        assert_eq!(read(b"abc", 6), b"abc\0\0\0", "shrank: padded");
        assert_eq!(read(b"", 0), b"");
    }

    fn entries(bytes: &[u8]) -> Vec<(String, u64, String)> {
        let mut a = tar::Archive::new(bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let uid = e.header().uid().unwrap();
                let mut s = String::new();
                if e.header().entry_type().is_file() {
                    io::Read::read_to_string(&mut e, &mut s).unwrap();
                }
                (path, uid, s)
            })
            .collect()
    }

    #[test]
    fn a_file_rewritten_while_the_tree_is_archived_leaves_the_archive_whole() {
        let dir = tempfile::tempdir().unwrap();
        let busy = dir.path().join("a.log");
        std::fs::write(&busy, "").unwrap();
        std::fs::write(dir.path().join("z.py"), "print('last')\n").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (busy, stop) = (busy.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Lengths that move across 512-byte blocks, growing and shrinking
                    // (each write empties the file first).
                    n = (n + 39_997) % 500_000;
                    std::fs::write(&busy, vec![b'x'; n]).unwrap();
                }
            })
        };
        for _ in 0..200 {
            let mut out = Vec::new();
            write_tar(&mut out, dir.path(), "src", &[]).unwrap();
            let mut archive = tar::Archive::new(out.as_slice());
            let names: Vec<String> = archive
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().display().to_string())
                .collect();
            assert_eq!(names, ["src/", "src/a.log", "src/z.py"]);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
    }

    #[test]
    fn tree_and_files_are_owned_by_the_sandbox_user() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/__pycache__")).unwrap();
        std::fs::write(dir.path().join("pkg/a.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("pkg/__pycache__/a.pyc"), "junk").unwrap();
        std::fs::create_dir_all(dir.path().join(".ponyswarm/runs")).unwrap();
        let mut out = Vec::new();
        let files = vec![("conf/settings.py".to_string(), "DEBUG = 1\n".to_string())];
        write_tar(&mut out, dir.path(), "src", &files).unwrap();
        let e = entries(&out);
        let paths: Vec<&str> = e.iter().map(|(p, _, _)| p.as_str()).collect();
        assert!(paths.contains(&"src/pkg/a.py"));
        assert!(paths.contains(&"src/conf/settings.py"));
        assert!(!paths
            .iter()
            .any(|p| p.contains("__pycache__") || p.contains(".ponyswarm")));
        assert!(e.iter().all(|(_, uid, _)| *uid == 1000));
        let settings = e
            .iter()
            .find(|(p, _, _)| p == "src/conf/settings.py")
            .unwrap();
        assert_eq!(settings.2, "DEBUG = 1\n");
    }

    #[test]
    fn links_travel_beside_the_tree_and_must_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
        let mut out = Vec::new();
        let links = vec![("venv".to_string(), "/opt/ponyswarm/venv".to_string())];
        write_tar_with(&mut out, dir.path(), "src", &[], &links).unwrap();
        let mut archive = tar::Archive::new(&out[..]);
        let link = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().to_str() == Some("venv"))
            .expect("the link is in the archive");
        assert_eq!(link.header().entry_type(), tar::EntryType::Symlink);
        assert_eq!(
            link.link_name().unwrap().unwrap().to_str(),
            Some("/opt/ponyswarm/venv")
        );
        assert_eq!(link.header().uid().unwrap(), 1000);
        let outside = vec![("../venv".to_string(), "/x".to_string())];
        assert!(write_tar_with(&mut Vec::new(), dir.path(), "src", &[], &outside).is_err());
    }

    #[test]
    fn every_entry_has_one_fixed_time_that_zip_accepts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/test_a.py"), "x = 1\n").unwrap();
        let files = vec![("extra.cfg".to_string(), "[x]\n".to_string())];
        let mut out = Vec::new();
        write_tar(&mut out, dir.path(), "src", &files).unwrap();
        let mut a = tar::Archive::new(out.as_slice());
        let times: Vec<u64> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().header().mtime().unwrap())
            .collect();
        assert!(times.len() >= 4, "{times:?}");
        // 1980-01-02, a day past the ZIP epoch, whatever the container's time zone.
        assert!(
            times.iter().all(|t| *t == MTIME && *t > 315_619_200),
            "{times:?}"
        );
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        let mut out = Vec::new();
        write_tar(&mut out, dir.path(), "src", &[]).unwrap();
        let mut a = tar::Archive::new(out.as_slice());
        let link = a
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path().unwrap().ends_with("link"))
            .unwrap();
        assert!(link.header().entry_type().is_symlink());
        assert_eq!(link.header().size().unwrap(), 0);
    }

    #[test]
    fn files_may_not_escape_the_tree() {
        assert!(check_relative("a/b.py").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
    }
}
