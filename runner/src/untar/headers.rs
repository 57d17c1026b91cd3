//! A guard under the tar reader against header bombs: the tar crate reads a GNU long
//! name or long link (`L`, `K`) or a PAX extended header (`x`) whole into memory, whatever
//! size its header claims, before any check of ours runs. [`HeaderGuard`] walks the
//! archive's 512-byte headers as the stream passes through it, skips entry data block
//! by block without keeping it, and fails as soon as one of those metadata entries (or
//! a PAX global header, `g`) claims more than its cap: the tar crate above it never
//! gets to ask for the bytes.
//!
//! To find the headers it follows the tar crate's own walk (0.4, read in order, not
//! seeking): an entry's data is its size rounded up to 512 bytes; a PAX `size` record
//! overrides the size of the next entry that is not itself metadata; a GNU sparse entry
//! is followed by its extension headers; the all-zero block ends the archive, where the
//! tar crate stops reading and so does the guard. It reads headers with the tar crate's
//! own parsing, so the two cannot disagree about a size. A size field that is not a
//! number is an error here as it is there.
//!
//! Pure over the bytes that pass: no I/O of its own.

use super::human_bytes;
use std::io::{self, Read};

/// Most bytes a metadata entry (long name, long link, PAX header) may claim: real
/// ones hold a path or a few records, never more than a few KiB.
pub const MAX_META_BYTES: u64 = 64 * 1024;

const BLOCK: usize = 512;
/// Where a GNU sparse extension header says that another follows.
const EXT_IS_EXTENDED: usize = 504;

/// The kinds of metadata entry whose data the guard caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKind {
    /// `L`: the next entry's path.
    GnuLongName,
    /// `K`: the next entry's link target.
    GnuLongLink,
    /// `x`: records for the next entry.
    PaxExtended,
    /// `g`: records for every entry after it.
    PaxGlobal,
}

impl MetaKind {
    fn of(kind: tar::EntryType) -> Option<MetaKind> {
        match kind {
            tar::EntryType::GNULongName => Some(MetaKind::GnuLongName),
            tar::EntryType::GNULongLink => Some(MetaKind::GnuLongLink),
            tar::EntryType::XHeader => Some(MetaKind::PaxExtended),
            tar::EntryType::XGlobalHeader => Some(MetaKind::PaxGlobal),
            _ => None,
        }
    }
}

impl std::fmt::Display for MetaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MetaKind::GnuLongName => "GNU long name",
            MetaKind::GnuLongLink => "GNU long link",
            MetaKind::PaxExtended => "PAX extended header",
            MetaKind::PaxGlobal => "PAX global header",
        })
    }
}

/// The error a [`HeaderGuard`] fails with: a metadata entry claims more than the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("has a {kind} claiming {} (at most {} is read)", human_bytes(*.claimed), human_bytes(*.cap))]
pub struct HeaderTooLarge {
    /// Which metadata entry.
    pub kind: MetaKind,
    /// The size its header claims.
    pub claimed: u64,
    /// The guard's cap.
    pub cap: u64,
}

impl HeaderTooLarge {
    /// The refusal `e` carries, wherever in the error chain (the tar crate wraps some
    /// of its read errors).
    pub fn of(e: &io::Error) -> Option<HeaderTooLarge> {
        super::find_in_chain(e)
    }
}

/// Why the guard stopped; kept so that every later read fails the same way.
#[derive(Debug, Clone, Copy)]
enum Stop {
    TooLarge(HeaderTooLarge),
    Unreadable(&'static str),
}

impl Stop {
    fn error(self) -> io::Error {
        match self {
            Stop::TooLarge(e) => io::Error::other(e),
            Stop::Unreadable(what) => io::Error::new(io::ErrorKind::InvalidData, what),
        }
    }
}

/// What the next bytes of the stream are.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// An entry's header.
    Header,
    /// A GNU sparse extension header, then `data` bytes of the entry (padded).
    SparseExt { data: u64 },
    /// `left` bytes of data and padding, the first `keep` of which are PAX records.
    Data { left: u64, keep: u64 },
    /// Past the end-of-archive block: the tar crate reads no further.
    End,
}

/// A reader that passes its inner stream through to a tar reader and fails once a
/// metadata entry in it claims more than its cap (see the module doc).
#[derive(Debug)]
pub struct HeaderGuard<R> {
    inner: R,
    cap: u64,
    block: Box<[u8; BLOCK]>,
    filled: usize,
    next: Next,
    /// The records of a PAX extended header being read.
    records: Vec<u8>,
    /// The records of the last PAX extended header, for the entry they describe.
    pax: Option<Vec<u8>>,
    stopped: Option<Stop>,
}

impl<R> HeaderGuard<R> {
    /// Guards the tar stream `inner`, refusing metadata entries over `cap` bytes.
    pub fn new(inner: R, cap: u64) -> HeaderGuard<R> {
        HeaderGuard {
            inner,
            cap,
            block: Box::new([0; BLOCK]),
            filled: 0,
            next: Next::Header,
            records: Vec::new(),
            pax: None,
            stopped: None,
        }
    }

    /// Follows the walk over `bytes`, the next bytes of the stream.
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        while !bytes.is_empty() {
            match self.next {
                Next::End => return Ok(()),
                Next::Header | Next::SparseExt { .. } => {
                    let n = (BLOCK - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
                    self.filled += n;
                    bytes = &bytes[n..];
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.on_block()?;
                    }
                }
                Next::Data { left, keep } => {
                    let n = left.min(bytes.len() as u64);
                    let k = keep.min(n) as usize;
                    self.records.extend_from_slice(&bytes[..k]);
                    bytes = &bytes[n as usize..];
                    self.enter_data(left - n, keep - k as u64);
                }
            }
        }
        Ok(())
    }

    fn on_block(&mut self) -> Result<(), Stop> {
        match self.next {
            Next::SparseExt { data } => {
                if self.block[EXT_IS_EXTENDED] != 1 {
                    self.enter_data(data, 0);
                }
                Ok(())
            }
            _ => self.on_header(),
        }
    }

    fn on_header(&mut self) -> Result<(), Stop> {
        if self.block.iter().all(|b| *b == 0) {
            self.next = Next::End;
            return Ok(());
        }
        let header = tar::Header::from_byte_slice(&self.block[..]);
        let kind = header.entry_type();
        let meta = MetaKind::of(kind);
        let mut size = header
            .entry_size()
            .map_err(|_| Stop::Unreadable("an archive header's size is not a number"))?;
        if meta.is_none() {
            if let Some(pax_size) = self.pax.as_deref().and_then(pax_size) {
                size = pax_size;
            }
        }
        let recognized = header.as_gnu().is_some() || header.as_ustar().is_some();
        // The tar crate applies L, K and x to the entry after them only when the header
        // has a ustar or GNU magic; any other header is the entry they describe.
        let describes_next = recognized && meta.is_some_and(|m| m != MetaKind::PaxGlobal);
        if !describes_next {
            self.pax = None;
        }
        if let Some(kind) = meta {
            if size > self.cap {
                return Err(Stop::TooLarge(HeaderTooLarge {
                    kind,
                    claimed: size,
                    cap: self.cap,
                }));
            }
        }
        let padded = size
            .checked_add(BLOCK as u64 - 1)
            .ok_or(Stop::Unreadable("an archive entry's size overflows"))?
            & !(BLOCK as u64 - 1);
        let sparse_ext = !describes_next
            && kind.is_gnu_sparse()
            && header.as_gnu().is_some_and(|gnu| gnu.is_extended());
        if sparse_ext {
            self.next = Next::SparseExt { data: padded };
        } else if describes_next && meta == Some(MetaKind::PaxExtended) {
            self.records.clear();
            self.enter_data(padded, size);
        } else {
            self.enter_data(padded, 0);
        }
        Ok(())
    }

    /// Moves on to `left` bytes of data, the first `keep` of them PAX records; with
    /// nothing left, to the next header (taking the records read, if any).
    fn enter_data(&mut self, left: u64, keep: u64) {
        if left > 0 {
            self.next = Next::Data { left, keep };
            return;
        }
        // Only an `x` entry's data is kept: other entries leave `records` empty.
        if !self.records.is_empty() {
            self.pax = Some(std::mem::take(&mut self.records));
        }
        self.next = Next::Header;
    }
}

/// The `size` record of PAX records, as the tar crate reads it (the first `size`;
/// nothing when a record before it is malformed).
fn pax_size(records: &[u8]) -> Option<u64> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() != Ok("size") {
            continue;
        }
        return record.value().ok()?.parse().ok();
    }
    None
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(stop) = self.stopped {
            return Err(stop.error());
        }
        let n = self.inner.read(buf)?;
        if let Err(stop) = self.feed(&buf[..n]) {
            self.stopped = Some(stop);
            return Err(stop.error());
        }
        Ok(n)
    }
}
