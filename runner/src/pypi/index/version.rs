//! Enough of PEP 440 to pick a project's latest release from the Simple API's file
//! names, and to tell a release's version from a file name.
//!
//! Pure: no I/O.

use std::cmp::Ordering;

/// A parsed version, ordered as PEP 440 orders them (epoch, release, pre, post, dev;
/// local versions compare by their public part).
#[derive(Debug, Clone)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, number).
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

impl Version {
    /// Parses the common spellings (`1.2`, `1!2.0`, `1.0a1`, `1.0rc2`, `1.0.post1`,
    /// `1.0.dev3`, `1.0+local`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text
            .trim()
            .trim_start_matches(['v', 'V'])
            .to_ascii_lowercase();
        let public = text.split('+').next()?;
        let (epoch, rest) = match public.split_once('!') {
            Some((e, r)) => (e.parse().ok()?, r),
            None => (0, public),
        };
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let release: Vec<u64> = rest[..end]
            .trim_end_matches('.')
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let mut v = Version {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
        };
        let mut tail = &rest[end..];
        while !tail.is_empty() {
            tail = tail.trim_start_matches(['.', '-', '_']);
            let word_end = tail
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(tail.len());
            let (word, after) = tail.split_at(word_end);
            let after = after.trim_start_matches(['.', '-', '_']);
            let num_end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            let number: u64 = after[..num_end].parse().unwrap_or(0);
            match word {
                "a" | "alpha" => v.pre = Some((0, number)),
                "b" | "beta" => v.pre = Some((1, number)),
                "rc" | "c" | "pre" | "preview" => v.pre = Some((2, number)),
                "post" | "rev" | "r" => v.post = Some(number),
                "dev" => v.dev = Some(number),
                _ => return None,
            }
            tail = &after[num_end..];
        }
        Some(v)
    }

    /// A pre-release or development release: skipped when choosing the latest, unless
    /// there is nothing else.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The sort key PEP 440 implies: a dev release sorts before its pre-releases, which
    /// sort before the release, which sorts before its post-releases.
    fn key(&self) -> Key {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = match (self.pre, self.post, self.dev) {
            (Some((kind, n)), _, _) => (1 + kind, n),
            (None, None, Some(_)) => (0, 0),
            _ => (9, 0),
        };
        let post = self.post.map_or((0, 0), |n| (1, n));
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        (self.epoch, release, pre, post, dev)
    }
}

/// epoch, release (trailing zeros dropped), pre, post, dev: compared in that order.
type Key = (u64, Vec<u64>, (u8, u64), (u8, u64), (u8, u64));

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The latest of `versions`: the highest final release, else the highest pre-release.
/// Unparseable versions are only chosen when nothing parses (the last one given).
pub fn latest<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let all: Vec<&str> = versions.into_iter().collect();
    let parsed: Vec<(Version, &str)> = all
        .iter()
        .filter_map(|v| Version::parse(v).map(|p| (p, *v)))
        .collect();
    let best = |finals_only: bool| {
        parsed
            .iter()
            .filter(|(p, _)| !finals_only || !p.is_prerelease())
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, v)| *v)
    };
    best(true).or_else(|| best(false)).or(all.last().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_pep_440_says() {
        let ascending = [
            "0.9",
            "1.0.dev1",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0.post1",
            "1.0.1",
            "1.10",
            "2!0.1",
        ];
        for pair in ascending.windows(2) {
            let (a, b) = (Version::parse(pair[0]), Version::parse(pair[1]));
            assert!(a.is_some() && b.is_some(), "{pair:?} should parse");
            assert!(a < b, "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn trailing_zeros_and_local_parts_do_not_matter() {
        for (a, b) in [
            ("1.0", "1"),
            ("1.0.0", "1.0"),
            ("1.0+ubuntu1", "1.0"),
            ("V1.0", "1.0"),
        ] {
            assert!(Version::parse(a).is_some(), "{a} should parse");
            assert_eq!(Version::parse(a), Version::parse(b), "{a} = {b}");
        }
    }

    #[test]
    fn latest_prefers_final_releases() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["1.0", "2.0b1", "1.5"], Some("1.5")),
            (&["1.0a1", "1.0b2"], Some("1.0b2")),
            (&["0.10", "0.9"], Some("0.10")),
            (&["weird", "1.0"], Some("1.0")),
            (&["weird"], Some("weird")),
            (&[], None),
        ];
        for (versions, want) in cases {
            assert_eq!(latest(versions.iter().copied()), *want, "{versions:?}");
        }
    }

    #[test]
    fn nonsense_is_not_a_version() {
        for text in ["", "abc", "1.0xyz", "1..2x"] {
            assert_eq!(Version::parse(text), None, "{text:?}");
        }
    }
}
