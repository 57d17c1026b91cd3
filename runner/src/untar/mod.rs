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
//! Below the tar reader, two guards: the decompressed stream is capped ([`Capped`], at
//! [`Limits::stream_bytes`]), so a bomb stops however the reader spends the bytes; and
//! [`HeaderGuard`] walks the headers as they pass and refuses a GNU long name or PAX
//! header claiming more than [`MAX_META_BYTES`], which the tar crate would otherwise
//! read whole into memory before any check of ours. Every tar reader of hostile input
//! in ponyswarm is made by [`hostile_tar`], which puts both under it.
//!
//! I/O: writes under the destination directory only.

mod headers;

pub use headers::{HeaderGuard, HeaderTooLarge, MAX_META_BYTES};

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

impl Limits {
    /// Most bytes of the decompressed tar stream: the contents, plus a header and
    /// padding (1 KiB) per entry, plus 1 MiB for long names and PAX headers.
    pub const fn stream_bytes(&self) -> u64 {
        self.max_bytes
            .saturating_add((self.max_entries as u64).saturating_mul(1024))
            .saturating_add(1 << 20)
    }
}

/// A tar reader of the decompressed stream `decompressed` of an archive ponyswarm did
/// not make: the stream capped at `stream_cap` bytes ([`Capped`]) and its metadata
/// entries at [`MAX_META_BYTES`] ([`HeaderGuard`]). Its read errors carry
/// [`ExpandsPast`] or [`HeaderTooLarge`] when a guard stopped it.
pub fn hostile_tar<R: Read>(
    decompressed: R,
    stream_cap: u64,
) -> tar::Archive<HeaderGuard<Capped<R>>> {
    tar::Archive::new(HeaderGuard::new(
        Capped::new(decompressed, stream_cap),
        MAX_META_BYTES,
    ))
}

/// A reader that fails once more than its cap came through it: put over a
/// decompressor, it stops a bomb however the tar reader above it spends the bytes.
#[derive(Debug)]
pub struct Capped<R> {
    inner: R,
    cap: u64,
    left: u64,
}

impl<R> Capped<R> {
    /// `inner`, of which at most `cap` bytes may be read.
    pub fn new(inner: R, cap: u64) -> Capped<R> {
        Capped {
            inner,
            cap,
            left: cap,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the cap is asked for, so that exactly `cap` bytes still pass.
        let want = buf
            .len()
            .min(usize::try_from(self.left + 1).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(io::Error::other(ExpandsPast(self.cap))),
        }
    }
}

/// The error a [`Capped`] reader fails with: the stream went past this many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expands past {} when decompressed", human_bytes(*.0))]
pub struct ExpandsPast(pub u64);

impl ExpandsPast {
    /// The cap `e` says a [`Capped`] reader went past, wherever in the error chain
    /// (the tar crate wraps some of its read errors).
    pub fn of(e: &io::Error) -> Option<ExpandsPast> {
        find_in_chain(e)
    }
}

/// The first `T` in `e`'s chain of errors, looking inside wrapped `io::Error`s too.
fn find_in_chain<T: std::error::Error + Copy + 'static>(e: &io::Error) -> Option<T> {
    let mut at: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|e| e as _);
    while let Some(err) = at {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(*found);
        }
        if let Some(found) = err.downcast_ref::<io::Error>().and_then(find_in_chain) {
            return Some(found);
        }
        at = err.source();
    }
    None
}

/// `bytes` in the largest binary unit that keeps it whole-ish: `2 GiB`, `50 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
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
    #[error("the archive unpacks to more than {} or {} entries", human_bytes(.0.max_bytes), .0.max_entries)]
    TooLarge(Limits),
    /// The decompressed stream went past [`Limits::stream_bytes`] (a bomb, or a
    /// header claiming gigabytes).
    #[error("the archive {0}")]
    Expands(ExpandsPast),
    /// A GNU long name or PAX header claims more than [`MAX_META_BYTES`] (a header bomb).
    #[error("the archive {0}")]
    Header(HeaderTooLarge),
    /// Not a tar.gz, or a read or write failed.
    #[error("cannot unpack the archive: {0}")]
    Io(#[from] io::Error),
}

/// Unpacks the tar.gz `gz` into the existing, empty directory `dest`, within `limits`.
pub fn unpack(gz: &[u8], dest: &Path, limits: Limits) -> Result<(), UntarError> {
    unpack_entries(gz, dest, limits).map_err(|e| match e {
        UntarError::Io(io) => match (ExpandsPast::of(&io), HeaderTooLarge::of(&io)) {
            (Some(past), _) => UntarError::Expands(past),
            (_, Some(header)) => UntarError::Header(header),
            _ => UntarError::Io(io),
        },
        other => other,
    })
}

fn unpack_entries(gz: &[u8], dest: &Path, limits: Limits) -> Result<(), UntarError> {
    let mut archive = hostile_tar(GzDecoder::new(gz), limits.stream_bytes());
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
            // The entry's size, a PAX `size` record's when there is one.
            total += entry.size();
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
        // Other kinds (PAX headers, GNU long names) are metadata the tar crate applies.
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

/// Decompression bombs for the tests of every unpack site, cheap to make: the
/// compressed form of a MiB of zeros is made once and repeated.
#[cfg(test)]
pub(crate) mod bombs {
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// A tar.gz whose first entry is a header of `kind` claiming `claimed` bytes of
    /// data, followed by at least that many zeros; no end (the reader must stop first).
    pub fn header_bomb(kind: tar::EntryType, claimed: u64) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_path("pony-1.0/bomb").expect("a short path");
        h.set_size(claimed);
        h.set_mode(0o644);
        h.set_cksum();
        zeros_after(h.as_bytes(), claimed)
    }

    /// A PAX extended header claiming `claimed` bytes: the tar crate reads it whole.
    pub fn pax_header(claimed: u64) -> Vec<u8> {
        header_bomb(tar::EntryType::XHeader, claimed)
    }

    /// A GNU long name claiming `claimed` bytes: the tar crate reads it whole.
    pub fn long_name(claimed: u64) -> Vec<u8> {
        header_bomb(tar::EntryType::GNULongName, claimed)
    }

    /// gzip of `prefix`, then at least `zeros` zero bytes.
    fn zeros_after(prefix: &[u8], zeros: u64) -> Vec<u8> {
        const MIB: usize = 1 << 20;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(prefix).expect("writes");
        gz.write_all(&vec![0; MIB]).expect("writes");
        // A sync flush ends a block on a byte boundary, so the compressed form of
        // the next MiB of zeros (all references to zeros) can be repeated as is.
        gz.flush().expect("flushes");
        let start = gz.get_ref().len();
        gz.write_all(&vec![0; MIB]).expect("writes");
        gz.flush().expect("flushes");
        let mut out = gz.get_ref().clone();
        let chunk = out[start..].to_vec();
        for _ in 0..zeros.div_ceil(MIB as u64) {
            out.extend_from_slice(&chunk);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::headers::MetaKind;
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

    #[test]
    fn header_bombs_are_refused_naming_the_header_and_the_cap() {
        let cases = [
            (
                "pax header",
                bombs::pax_header(512 << 20),
                "PAX extended header",
            ),
            (
                "gnu long name",
                bombs::long_name(512 << 20),
                "GNU long name",
            ),
        ];
        for (name, gz, kind) in cases {
            let dir = tempfile::tempdir().expect("a temp dir");
            let got = unpack(&gz, dir.path(), ROOMY);
            match got {
                Err(e @ UntarError::Header(_)) => assert_eq!(
                    e.to_string(),
                    format!("the archive has a {kind} claiming 512 MiB (at most 64 KiB is read)"),
                    "{name}"
                ),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    /// A reader that counts the bytes it gave, and fails past `budget` (so that a
    /// reader without the guard stops there instead of holding a bomb in memory).
    struct Counted<R> {
        inner: R,
        given: std::rc::Rc<std::cell::Cell<u64>>,
        budget: u64,
    }

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.given.set(self.given.get() + n as u64);
            if self.given.get() > self.budget {
                return Err(io::Error::other("read past the test's budget"));
            }
            Ok(n)
        }
    }

    #[test]
    fn header_bombs_stop_after_a_few_blocks_are_read() {
        let claimed = 512 << 20;
        let cases = [
            (bombs::pax_header(claimed), MetaKind::PaxExtended),
            (bombs::long_name(claimed), MetaKind::GnuLongName),
            (
                bombs::header_bomb(tar::EntryType::GNULongLink, claimed),
                MetaKind::GnuLongLink,
            ),
            (
                bombs::header_bomb(tar::EntryType::XGlobalHeader, claimed),
                MetaKind::PaxGlobal,
            ),
        ];
        for (gz, kind) in cases {
            let given = std::rc::Rc::default();
            let stream = Counted {
                inner: GzDecoder::new(&gz[..]),
                given: std::rc::Rc::clone(&given),
                budget: 16 << 20,
            };
            let mut archive = hostile_tar(stream, 1 << 40);
            let mut entries = archive.entries().expect("entries");
            let err = match entries.next() {
                Some(Err(e)) => e,
                other => panic!("{kind}: {:?}", other.map(|e| e.map(|_| ()))),
            };
            let want = HeaderTooLarge {
                kind,
                claimed,
                cap: MAX_META_BYTES,
            };
            assert_eq!(HeaderTooLarge::of(&err), Some(want), "{kind}: {err}");
            // The tar reader asks for a header block at a time, and the guard stops
            // it once that block has passed: 512 bytes of the 512 MiB claimed.
            assert!(
                given.get() <= 64 << 10,
                "{kind}: {} bytes read",
                given.get()
            );
        }
    }

    /// A tar.gz of `entries` (path, kind, data), long names and PAX headers as a
    /// writer makes them: GNU `L` entries from the tar crate's builder, PAX `x`
    /// entries by hand (path and, for `size`, the data's real size).
    fn archive_with_meta(entries: &[(&str, Meta, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, meta, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            match meta {
                Meta::GnuLongName => {
                    b.append_data(&mut h, path, *data).expect("appends");
                    continue;
                }
                Meta::PaxPath | Meta::PaxPathAndSize => {
                    let mut records = pax_record("path", path);
                    if matches!(meta, Meta::PaxPathAndSize) {
                        records.push_str(&pax_record("size", &data.len().to_string()));
                        // The header's own size says nothing: the record rules.
                        h.set_size(0);
                    }
                    let mut x = tar::Header::new_ustar();
                    x.set_entry_type(tar::EntryType::XHeader);
                    x.set_path("PaxHeaders/x").expect("a short path");
                    x.set_size(records.len() as u64);
                    x.set_cksum();
                    b.append(&x, records.as_bytes()).expect("appends");
                    h.set_path("short").expect("a short path");
                    h.set_cksum();
                    b.append(&h, *data).expect("appends");
                }
            }
        }
        b.into_inner()
            .and_then(GzEncoder::finish)
            .expect("finishes")
    }

    #[derive(Clone, Copy)]
    enum Meta {
        GnuLongName,
        PaxPath,
        PaxPathAndSize,
    }

    /// One PAX record, `LEN key=value\n`, its length counting itself.
    fn pax_record(key: &str, value: &str) -> String {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}")
    }

    #[test]
    fn long_names_and_pax_headers_still_unpack() {
        let deep = format!("pkg/{}/mod.py", "d".repeat(150));
        let deeper = format!("pkg/{}/x.py", vec!["p".repeat(100); 3].join("/"));
        let sized = format!("pkg/{}/data.bin", "s".repeat(120));
        let big = vec![7u8; 3000];
        let gz = archive_with_meta(&[
            (&deep, Meta::GnuLongName, b"a = 1\n"),
            (&deeper, Meta::PaxPath, b"b = 2\n"),
            (&sized, Meta::PaxPathAndSize, &big),
            ("pkg/after.py", Meta::PaxPath, b"c = 3\n"),
        ]);
        let dir = tempfile::tempdir().expect("a temp dir");
        unpack(&gz, dir.path(), ROOMY).expect("unpacks");
        let read = |p: &str| std::fs::read(dir.path().join(p)).expect("reads");
        assert_eq!(read(&deep), b"a = 1\n");
        assert_eq!(read(&deeper), b"b = 2\n");
        assert_eq!(read(&sized), big);
        assert_eq!(read("pkg/after.py"), b"c = 3\n");
    }

    #[test]
    fn sizes_from_pax_records_count_toward_the_total() {
        // Each header says 0 bytes; the PAX records say 600 KiB each, 1.2 MiB in all.
        let big = vec![1u8; 600 << 10];
        let gz = archive_with_meta(&[
            ("a.bin", Meta::PaxPathAndSize, &big),
            ("b.bin", Meta::PaxPathAndSize, &big),
        ]);
        let dir = tempfile::tempdir().expect("a temp dir");
        let got = unpack(&gz, dir.path(), ROOMY);
        assert!(matches!(got, Err(UntarError::TooLarge(_))), "{got:?}");
    }

    #[test]
    fn a_long_name_at_the_cap_passes_and_one_past_it_is_refused() {
        for (len, fits) in [
            (MAX_META_BYTES as usize - 1, true),
            (MAX_META_BYTES as usize, false),
        ] {
            // The GNU long name holds the path and a NUL.
            let path = format!("{}/f", "n".repeat(len - 2));
            let gz = archive_with_meta(&[(&path, Meta::GnuLongName, b"x")]);
            let got = hostile_tar(GzDecoder::new(&gz[..]), 1 << 40)
                .entries()
                .expect("entries")
                .map(|e| e.map(|e| e.path_bytes().len()))
                .collect::<Result<Vec<_>, _>>();
            match got {
                Ok(lens) => assert!(fits && lens == [path.len()], "{len}: {lens:?}"),
                Err(e) => assert!(!fits && HeaderTooLarge::of(&e).is_some(), "{len}: {e}"),
            }
        }
    }

    #[test]
    fn a_file_claiming_more_than_the_limit_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let gz = bombs::header_bomb(Regular, 4 * ROOMY.max_bytes);
        let got = unpack(&gz, dir.path(), ROOMY);
        assert!(matches!(got, Err(UntarError::TooLarge(_))), "{got:?}");
    }

    #[test]
    fn the_cap_lets_exactly_its_bytes_through() {
        let mut ok = Capped::new(&[1u8; 10][..], 10);
        assert_eq!(ok.read_to_end(&mut Vec::new()).expect("fits"), 10);
        let err = Capped::new(&[1u8; 11][..], 10)
            .read_to_end(&mut Vec::new())
            .expect_err("one too many");
        assert_eq!(ExpandsPast::of(&err), Some(ExpandsPast(10)));
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_bytes(2 << 30), "2 GiB");
        assert_eq!(human_bytes((1 << 30) + (1 << 20)), "1025 MiB");
        assert_eq!(human_bytes(50 << 20), "50 MiB");
        assert_eq!(human_bytes(512), "512 bytes");
    }
}
