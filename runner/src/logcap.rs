//! A job's captured output, kept to a fixed size: the head (how it started: versions,
//! collection) and the tail (how it ended: the failures and the summary), with a marker
//! where the middle was cut.
//!
//! Whatever a job prints, memory stays bounded by the cap: a test suite that loops
//! printing must not take ponyswarm down with it. The buffer also remembers when output
//! last arrived, for the no-output timeout.
//!
//! Pure: the caller hands in the bytes and the current [`Instant`].

use std::time::{Duration, Instant};

/// Near a cut, the kept text is trimmed to a line boundary when one is this close, so the
/// marker sits between whole lines.
const LINE_SNAP: usize = 256;

/// At most `cap` bytes of output: the first half as it came, the last half as a ring.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    cap: usize,
    head: Vec<u8>,
    tail: Ring,
    total: u64,
    last_output: Instant,
}

impl LogBuffer {
    /// A buffer keeping at most `cap` bytes; `now` is when the job started, which counts as
    /// the last output until something is printed.
    pub fn new(cap: usize, now: Instant) -> LogBuffer {
        let head_cap = cap / 2;
        LogBuffer {
            cap,
            head: Vec::new(),
            tail: Ring::new(cap - head_cap),
            total: 0,
            last_output: now,
        }
    }

    /// Appends a chunk of output that arrived at `now`. Chunks may split UTF-8 characters;
    /// they are joined before decoding.
    pub fn push(&mut self, chunk: &[u8], now: Instant) {
        if chunk.is_empty() {
            return;
        }
        self.total = self.total.saturating_add(chunk.len() as u64);
        self.last_output = now;
        let head_room = (self.cap / 2).saturating_sub(self.head.len());
        let (to_head, rest) = chunk.split_at(head_room.min(chunk.len()));
        reserve_within(&mut self.head, to_head.len(), self.cap / 2);
        self.head.extend_from_slice(to_head);
        self.tail.push(rest);
    }

    /// Appends a line of ponyswarm's own (e.g. a phase banner), counted as output.
    pub fn push_line(&mut self, line: &str, now: Instant) {
        self.push(line.as_bytes(), now);
        if !line.ends_with('\n') {
            self.push(b"\n", now);
        }
    }

    /// Bytes pushed so far, kept or not.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Bytes held now; never more than the cap.
    pub fn kept_bytes(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Bytes dropped from the middle so far.
    pub fn cut_bytes(&self) -> u64 {
        self.total - self.kept_bytes() as u64
    }

    /// When output last arrived (the start, if none has).
    pub fn last_output(&self) -> Instant {
        self.last_output
    }

    /// How long the job has been silent at `now`.
    pub fn silent_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_output)
    }

    /// The kept output as text, invalid UTF-8 replaced, with a `[… N bytes cut …]` line
    /// where the middle was dropped.
    pub fn text(&self) -> String {
        let tail = self.tail.to_vec();
        if self.cut_bytes() == 0 {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return String::from_utf8_lossy(&all).into_owned();
        }
        let head = snap_end(&self.head);
        let tail = snap_start(&tail, self.tail.dropped_last);
        let cut = self.total - head.len() as u64 - tail.len() as u64;
        let mut out = String::from_utf8_lossy(head).into_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("[… ");
        out.push_str(&cut.to_string());
        out.push_str(" bytes cut …]\n");
        out.push_str(&String::from_utf8_lossy(tail));
        out
    }
}

/// `head` ending at a line end if one is near, else at a character boundary.
fn snap_end(head: &[u8]) -> &[u8] {
    let near = &head[head.len().saturating_sub(LINE_SNAP)..];
    match near.iter().rposition(|&b| b == b'\n') {
        Some(nl) => &head[..head.len() - near.len() + nl + 1],
        None => &head[..complete_utf8_end(head)],
    }
}

/// `tail` starting at a line start if one is near, else at a character boundary.
/// `before` is the byte just before the tail, the last one cut.
fn snap_start(tail: &[u8], before: Option<u8>) -> &[u8] {
    if before == Some(b'\n') {
        return tail;
    }
    let near = &tail[..tail.len().min(LINE_SNAP)];
    if let Some(nl) = near.iter().position(|&b| b == b'\n') {
        return &tail[nl + 1..];
    }
    let skip = tail
        .iter()
        .take(3)
        .take_while(|&&b| b & 0xC0 == 0x80)
        .count();
    &tail[skip..]
}

/// The length of `bytes` without a UTF-8 sequence cut short at its end, so a cut prints
/// no replacement mark.
fn complete_utf8_end(bytes: &[u8]) -> usize {
    for i in (bytes.len().saturating_sub(4)..bytes.len()).rev() {
        let b = bytes[i];
        if b < 0x80 {
            break;
        }
        if b >= 0xC0 {
            let len = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                _ => 2,
            };
            return if i + len > bytes.len() {
                i
            } else {
                bytes.len()
            };
        }
    }
    bytes.len()
}

/// Makes room for `extra` more bytes in `vec`, growing as a `Vec` does but never past
/// `limit`, so the allocation itself stays within the cap.
fn reserve_within(vec: &mut Vec<u8>, extra: usize, limit: usize) {
    let needed = vec.len() + extra;
    if vec.capacity() < needed {
        let target = (vec.capacity() * 2).max(needed).min(limit.max(needed));
        vec.reserve_exact(target - vec.len());
    }
}

/// The last `cap` bytes pushed, in an allocation of at most `cap` bytes.
#[derive(Debug, Clone)]
struct Ring {
    cap: usize,
    /// Grows to `cap` and stays there.
    buf: Vec<u8>,
    /// Where the oldest byte is, once `buf` is full.
    start: usize,
    /// The most recently dropped byte: tells whether the kept part starts a line.
    dropped_last: Option<u8>,
}

impl Ring {
    fn new(cap: usize) -> Ring {
        Ring {
            cap,
            buf: Vec::new(),
            start: 0,
            dropped_last: None,
        }
    }

    fn len(&self) -> usize {
        self.buf.len()
    }

    /// The newest byte held.
    fn newest(&self) -> Option<u8> {
        let len = self.buf.len();
        (len > 0).then(|| self.buf[(self.start + len - 1) % len])
    }

    fn push(&mut self, mut bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if bytes.len() >= self.cap {
            // Only the end of a big chunk can survive.
            let keep_from = bytes.len() - self.cap;
            self.dropped_last = match keep_from {
                0 => self.newest().or(self.dropped_last),
                _ => Some(bytes[keep_from - 1]),
            };
            self.buf.clear();
            reserve_within(&mut self.buf, self.cap, self.cap);
            self.buf.extend_from_slice(&bytes[keep_from..]);
            self.start = 0;
            return;
        }
        let room = self.cap - self.buf.len();
        if room > 0 {
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            reserve_within(&mut self.buf, now.len(), self.cap);
            self.buf.extend_from_slice(now);
            bytes = later;
        }
        if bytes.is_empty() {
            return;
        }
        // Full: overwrite the oldest bytes, wrapping once at most (bytes.len() < cap).
        self.dropped_last = Some(self.buf[(self.start + bytes.len() - 1) % self.cap]);
        let first = bytes.len().min(self.cap - self.start);
        self.buf[self.start..self.start + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.start = (self.start + bytes.len()) % self.cap;
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buf.len());
        out.extend_from_slice(&self.buf[self.start..]);
        out.extend_from_slice(&self.buf[..self.start]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(cap: usize, chunks: &[&[u8]]) -> LogBuffer {
        let now = Instant::now();
        let mut log = LogBuffer::new(cap, now);
        for chunk in chunks {
            log.push(chunk, now);
        }
        log
    }

    #[test]
    fn head_and_tail_around_a_marker() {
        let cases: &[(&str, usize, &[&[u8]], &str)] = &[
            ("fits", 100, &[b"hello ", b"world\n"], "hello world\n"),
            ("nothing", 10, &[], ""),
            ("exactly full", 6, &[b"abc", b"def"], "abcdef"),
            (
                "cut, no newlines",
                6,
                &[b"abcdefghij"],
                "abc\n[… 4 bytes cut …]\nhij",
            ),
            (
                "cut in small chunks",
                6,
                &[b"ab", b"cd", b"ef", b"gh", b"ij"],
                "abc\n[… 4 bytes cut …]\nhij",
            ),
            (
                "cut between lines keeps them whole",
                20,
                &[b"one\ntwo\nthree\n", b"four\nfive\nsix\nseven\n"],
                "one\ntwo\n[… 16 bytes cut …]\nsix\nseven\n",
            ),
            (
                "cut inside lines drops the partial ones",
                20,
                &[b"one\ntwo\nthree\n", b"four\nfive\nsix\nseven!\n"],
                "one\ntwo\n[… 20 bytes cut …]\nseven!\n",
            ),
            ("cap zero", 0, &[b"abc"], "[… 3 bytes cut …]\n"),
        ];
        for (what, cap, chunks, want) in cases {
            assert_eq!(filled(*cap, chunks).text(), *want, "{what}");
        }
    }

    #[test]
    fn split_utf8_is_joined_and_cuts_fall_between_characters() {
        let snow = "☃".as_bytes(); // 3 bytes
        let log = filled(100, &[&snow[..1], &snow[1..], b"!"]);
        assert_eq!(log.text(), "☃!");

        // Head keeps 4 bytes: "☃" and the first byte of the next "☃".
        let many = "☃☃☃☃☃☃".as_bytes();
        let log = filled(8, &[many]);
        let text = log.text();
        assert!(!text.contains('\u{fffd}'), "{text:?}");
        assert_eq!(text, "☃\n[… 12 bytes cut …]\n☃");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(filled(100, &[b"a\xffb"]).text(), "a\u{fffd}b");
    }

    #[test]
    fn memory_stays_within_the_cap() {
        const CAP: usize = 64 * 1024;
        let now = Instant::now();
        let mut log = LogBuffer::new(CAP, now);
        let chunk: Vec<u8> = (b' '..=b'~').cycle().take(7919).collect(); // odd size: wraps everywhere
        let mut pushed = 0u64;
        while pushed < 100 << 20 {
            log.push(&chunk, now);
            pushed += chunk.len() as u64;
            assert!(log.kept_bytes() <= CAP);
        }
        log.push(&vec![b'x'; 3 * CAP], now);
        pushed += 3 * CAP as u64;
        assert!(log.head.capacity() + log.tail.buf.capacity() <= CAP);
        assert_eq!(log.total_bytes(), pushed);
        assert_eq!(log.cut_bytes(), pushed - CAP as u64);
        assert!(log.text().len() < CAP + 100);
        assert!(log.text().ends_with(&"x".repeat(1000)));
    }

    #[test]
    fn ring_matches_a_naive_model_for_any_chunking() {
        let now = Instant::now();
        for cap in [1, 2, 7, 64, 1000] {
            let mut log = LogBuffer::new(cap, now);
            let mut all = Vec::new();
            let mut seed = 12345u32;
            for i in 0..500u32 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let len = (seed >> 16) as usize % (2 * cap + 3);
                let chunk: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
                log.push(&chunk, now);
                all.extend_from_slice(&chunk);
                let head = &all[..all.len().min(cap / 2)];
                let tail_cap = cap - cap / 2;
                let rest = &all[head.len()..];
                assert_eq!(log.head, head, "cap {cap}, push {i}");
                assert_eq!(
                    log.tail.to_vec(),
                    &rest[rest.len().saturating_sub(tail_cap)..],
                    "cap {cap}, push {i}"
                );
                let dropped = rest.len().checked_sub(tail_cap + 1).map(|at| rest[at]);
                assert_eq!(log.tail.dropped_last, dropped, "cap {cap}, push {i}");
            }
        }
    }

    #[test]
    fn tail_keeps_the_latest_bytes_in_order() {
        let mut log = filled(10, &[b"01234"]);
        for c in b"abcdefghijklmnop" {
            log.push(&[*c], Instant::now());
        }
        assert_eq!(log.tail.to_vec(), b"lmnop");
        assert_eq!(log.text(), "01234\n[… 11 bytes cut …]\nlmnop");
    }

    #[test]
    fn silence_is_measured_from_the_last_output() {
        let start = Instant::now();
        let mut log = LogBuffer::new(100, start);
        assert_eq!(
            log.silent_for(start + Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        log.push(b"x", start + Duration::from_secs(7));
        assert_eq!(
            log.silent_for(start + Duration::from_secs(10)),
            Duration::from_secs(3)
        );
        log.push(b"", start + Duration::from_secs(9));
        assert_eq!(
            log.last_output(),
            start + Duration::from_secs(7),
            "empty chunks are not output"
        );
        log.push_line("== test ==", start + Duration::from_secs(9));
        assert_eq!(log.text(), "x== test ==\n");
    }
}
