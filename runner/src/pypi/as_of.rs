//! When a release's test tools and dependencies are resolved as of.
//!
//! A release is tested with the dependencies it would have got when it was
//! uploaded: a 2023 release with 2023's pytest, not with one that has since removed
//! a hook its `conftest.py` uses. The index gives every file's upload time (the JSON
//! API's `upload_time_iso_8601`, the Simple API's PEP 700 `upload-time`); the cutoff
//! is the last of the release's own files, so every file of the release, and what
//! was published with it, is in. A release older than the Python it is tested on was
//! never tested on it by its author, and the tools of its day may not run there at
//! all (a 2021 pytest on Python 3.11): it is resolved as of that Python's release
//! instead, the first day tools could support both. `--as-of now` resolves as of today, `--as-of DATE`
//! (a date, midnight UTC, or an RFC 3339 date-time) as of that instant.
//!
//! The resolver does the excluding (uv's `--exclude-newer`, in the prepare phase:
//! see `crate::run::fetch`); this module only decides the instant and says why.
//!
//! Pure: the clock is never read here.

use super::DistFile;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What `--as-of` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AsOf {
    /// As the release was uploaded (the default).
    #[default]
    Release,
    /// Today's resolution: no cutoff.
    Now,
    /// As of this instant, seconds since 1970 (UTC).
    At(i64),
}

/// `--as-of` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not `release`, `now`, a date (2024-05-01) or an RFC 3339 time (2024-05-01T12:00:00Z)")]
pub struct AsOfError {
    /// The text given.
    pub given: String,
}

impl FromStr for AsOf {
    type Err = AsOfError;

    /// `release`, `now`, `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time (any
    /// offset, any fraction, rounded up to the second).
    fn from_str(text: &str) -> Result<AsOf, AsOfError> {
        let t = text.trim();
        let bad = || AsOfError {
            given: text.to_string(),
        };
        match t {
            "release" => return Ok(AsOf::Release),
            "now" | "today" => return Ok(AsOf::Now),
            _ => {}
        }
        if let Some(millis) = crate::time::parse_rfc3339_millis(t) {
            return Ok(AsOf::At(ceil_secs(millis)));
        }
        let b = t.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        crate::time::parse_rfc3339_millis(&format!("{t}T00:00:00Z"))
            .map(|ms| AsOf::At(ms / 1000))
            .ok_or_else(bad)
    }
}

/// Milliseconds to seconds, rounded up.
fn ceil_secs(millis: i64) -> i64 {
    millis.div_euclid(1000) + i64::from(millis.rem_euclid(1000) != 0)
}

/// When the release's files were uploaded: the last of their upload times, to the
/// second rounded up; `None` when the index gave no file one.
pub fn release_uploaded(files: &[DistFile]) -> Option<i64> {
    files
        .iter()
        .filter_map(|f| f.upload_time.as_deref())
        .filter_map(crate::time::parse_rfc3339_millis)
        .max()
        .map(ceil_secs)
}

/// Why the dependencies were resolved as of an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The release's upload (the default).
    Release,
    /// `--as-of` named the instant.
    Asked,
    /// `--as-of now`: today's resolution.
    Now,
    /// The default, but the release predates the newest Python it is tested on: as
    /// of that Python's release.
    PythonRelease,
    /// The default, but the index gave no upload time: today's resolution.
    NoUploadTime,
}

/// The resolution a release test used, for its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// The cutoff (RFC 3339, UTC): files uploaded after it were not considered.
    /// `None`: resolved as of the test, with everything the index has.
    pub cutoff: Option<String>,
    /// Why this cutoff.
    pub basis: Basis,
    /// What an author reads: "resolved as of 2023-04-02T10:11:12Z, the release's
    /// upload".
    pub said: String,
}

impl Resolution {
    /// The resolution `as_of` gives for a release of `files` tested on `pythons`
    /// (names as a matrix gives them: `3.11`, `pypy3`).
    pub fn of(as_of: AsOf, files: &[DistFile], pythons: &[String]) -> Resolution {
        let newest_python = pythons
            .iter()
            .filter_map(|p| Some((p, python_released(p)?)))
            .max_by_key(|(_, t)| *t);
        let (cutoff, basis) = match as_of {
            AsOf::Now => (None, Basis::Now),
            AsOf::At(t) => (Some(t), Basis::Asked),
            AsOf::Release => match (release_uploaded(files), newest_python) {
                (Some(up), Some((_, py))) if py > up => (Some(py), Basis::PythonRelease),
                (Some(up), _) => (Some(up), Basis::Release),
                (None, _) => (None, Basis::NoUploadTime),
            },
        };
        let stamped = cutoff.map(stamp);
        let said = match (&stamped, basis) {
            (Some(t), Basis::Release) => {
                format!("resolved as of {t}, the release's upload (`--as-of now` for today's)")
            }
            (Some(t), Basis::PythonRelease) => {
                let up = release_uploaded(files).map(stamp).unwrap_or_default();
                format!(
                    "resolved as of {t}, when Python {} came out: the release, uploaded {up}, \
                     is older than it (`--as-of {up}` for the upload's, `--as-of now` for \
                     today's)",
                    newest_python.map_or("", |(p, _)| p.as_str()),
                )
            }
            (Some(t), _) => format!("resolved as of {t}, as `--as-of` asked"),
            (None, Basis::NoUploadTime) => {
                "resolved as of the test: the index gives no upload time for the release's files"
                    .to_string()
            }
            (None, _) => "resolved as of the test (`--as-of now`)".to_string(),
        };
        Resolution {
            cutoff: stamped,
            basis,
            said,
        }
    }
}

/// When Python `name` came out, seconds since 1970 (see [`crate::pythons::released`]).
fn python_released(name: &str) -> Option<i64> {
    let day = crate::pythons::released(name)?;
    crate::time::parse_rfc3339_millis(&format!("{day}T00:00:00Z")).map(|ms| ms / 1000)
}

/// Seconds since 1970 as RFC 3339 UTC (instants before 1970 read as 1970).
fn stamp(secs: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    crate::time::timestamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pypi::DistKind;

    #[test]
    fn as_of_reads_words_dates_and_times() {
        let cases = [
            ("release", Ok(AsOf::Release)),
            ("now", Ok(AsOf::Now)),
            (" now ", Ok(AsOf::Now)),
            ("2024-05-01", Ok(AsOf::At(1_714_521_600))),
            ("2024-05-01T00:00:00Z", Ok(AsOf::At(1_714_521_600))),
            ("2024-05-01T02:00:00+02:00", Ok(AsOf::At(1_714_521_600))),
            ("2024-05-01T00:00:00.2Z", Ok(AsOf::At(1_714_521_601))),
            ("2024-13-01", Err(())),
            ("2024-5-1", Err(())),
            ("yesterday", Err(())),
            ("2024-05-01T00:00", Err(())),
            ("", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<AsOf>().map_err(|_| ()), want, "{text:?}");
        }
        let e = "2024/05/01".parse::<AsOf>().expect_err("refused");
        assert!(e.to_string().contains("\"2024/05/01\""), "{e}");
    }

    fn file(name: &str, uploaded: Option<&str>) -> DistFile {
        DistFile {
            filename: name.into(),
            url: format!("https://example.org/{name}"),
            sha256: None,
            kind: DistKind::Sdist,
            size: None,
            requires_python: None,
            yanked: false,
            core_metadata: None,
            upload_time: uploaded.map(str::to_string),
        }
    }

    #[test]
    fn the_release_was_uploaded_when_its_last_file_was() {
        let files = [
            file("p-1.0.tar.gz", Some("2023-04-02T10:11:12.000001Z")),
            file("p-1.0-cp311.whl", Some("2023-04-02T09:00:00Z")),
            file("p-1.0-cp39.whl", None),
            file("p-1.0-cp310.whl", Some("not a time")),
        ];
        // Rounded up: the file uploaded within that second is in.
        assert_eq!(release_uploaded(&files), Some(1_680_430_273));
        assert_eq!(release_uploaded(&files[2..]), None);
        assert_eq!(release_uploaded(&[]), None);
    }

    #[test]
    fn the_cutoff_and_what_the_report_says() {
        let files = [file("p-1.0.tar.gz", Some("2023-04-02T10:11:12Z"))];
        let r = Resolution::of(AsOf::Release, &files, &["3.11".into()]);
        assert_eq!(r.cutoff.as_deref(), Some("2023-04-02T10:11:12Z"));
        assert_eq!(r.basis, Basis::Release);
        assert!(
            r.said.contains("resolved as of 2023-04-02T10:11:12Z"),
            "{}",
            r.said
        );
        let r = Resolution::of(AsOf::At(1_714_521_600), &files, &["3.13".into()]);
        assert_eq!(r.cutoff.as_deref(), Some("2024-05-01T00:00:00Z"));
        assert_eq!(r.basis, Basis::Asked);
        let r = Resolution::of(AsOf::Now, &files, &[]);
        assert_eq!((r.cutoff, r.basis), (None, Basis::Now));
        let r = Resolution::of(
            AsOf::Release,
            &[file("p-1.0.tar.gz", None)],
            &["3.13".into()],
        );
        assert_eq!((r.cutoff.clone(), r.basis), (None, Basis::NoUploadTime));
        assert!(r.said.contains("no upload time"), "{}", r.said);
    }

    #[test]
    fn a_release_older_than_its_python_is_resolved_as_of_that_python() {
        let files = [file("p-1.0.tar.gz", Some("2021-05-05T10:00:00Z"))];
        let pythons = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // Tested on 3.11, out 2022-10-24: as of 3.11's release.
        let r = Resolution::of(AsOf::Release, &files, &pythons(&["3.11"]));
        assert_eq!(r.cutoff.as_deref(), Some("2022-10-24T00:00:00Z"));
        assert_eq!(r.basis, Basis::PythonRelease);
        assert!(r.said.contains("when Python 3.11 came out"), "{}", r.said);
        assert!(
            r.said.contains("--as-of 2021-05-05T10:00:00Z"),
            "{}",
            r.said
        );
        // The newest of several Pythons decides; PyPy and unreleased ones have no date.
        let r = Resolution::of(AsOf::Release, &files, &pythons(&["3.9", "3.13", "pypy3"]));
        assert_eq!(r.cutoff.as_deref(), Some("2024-10-07T00:00:00Z"));
        // Older Pythons than the release, or none with a date: the upload.
        for names in [&["3.9"][..], &["pypy3", "3.15"], &[]] {
            let r = Resolution::of(AsOf::Release, &files, &pythons(names));
            assert_eq!(
                r.cutoff.as_deref(),
                Some("2021-05-05T10:00:00Z"),
                "{names:?}"
            );
            assert_eq!(r.basis, Basis::Release);
        }
        // Asked for an instant: taken as asked, even before the Python.
        let r = Resolution::of(AsOf::At(1_620_208_800), &files, &pythons(&["3.13"]));
        assert_eq!(r.cutoff.as_deref(), Some("2021-05-05T10:00:00Z"));
    }
}
