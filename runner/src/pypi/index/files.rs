//! What a distribution file's name says: sdist or wheel, and which version.
//!
//! Pure: no I/O.

use crate::pypi::{normalize, DistKind};

/// Source distribution suffixes pip accepts.
const SDIST_SUFFIXES: &[&str] = &[".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz", ".tar"];

/// The kind of `filename`, or `None` for a format ponyswarm does not test (eggs,
/// Windows installers).
pub fn kind_of(filename: &str) -> Option<DistKind> {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".whl") {
        Some(DistKind::Wheel)
    } else if SDIST_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        Some(DistKind::Sdist)
    } else {
        None
    }
}

/// The version in `filename` of project `project`: a wheel's second dash-separated
/// field; for an sdist, what follows the project's name (old sdists keep dashes of the
/// name, so the split is where the prefix normalizes to the project's name).
pub fn version_of(project: &str, filename: &str) -> Option<String> {
    match kind_of(filename)? {
        DistKind::Wheel => filename.split('-').nth(1).map(str::to_string),
        DistKind::Sdist => {
            let lower = filename.to_ascii_lowercase();
            let suffix = SDIST_SUFFIXES.iter().find(|s| lower.ends_with(*s))?;
            let stem = &filename[..filename.len() - suffix.len()];
            let want = normalize(project);
            let by_name = stem
                .match_indices('-')
                .find(|(i, _)| normalize(&stem[..*i]) == want)
                .map(|(i, _)| stem[i + 1..].to_string());
            by_name.or_else(|| stem.rsplit_once('-').map(|(_, v)| v.to_string()))
        }
    }
}

/// Whether `filename` can be written into a download directory as is: no path
/// separators, no `..`, nothing hidden (a hostile index could name a file
/// `../../.bashrc`).
pub fn is_safe_filename(filename: &str) -> bool {
    !filename.is_empty()
        && !filename.starts_with('.')
        && !filename.contains(['/', '\\', '\0'])
        && filename != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_tell_kind_and_version() {
        let cases = [
            (
                "pony",
                "pony-1.0.tar.gz",
                Some(DistKind::Sdist),
                Some("1.0"),
            ),
            (
                "pony",
                "pony-1.0-py3-none-any.whl",
                Some(DistKind::Wheel),
                Some("1.0"),
            ),
            (
                "pony-tools",
                "pony_tools-2.0rc1-1-cp311-cp311-manylinux_2_17_x86_64.whl",
                Some(DistKind::Wheel),
                Some("2.0rc1"),
            ),
            (
                "pony-tools",
                "pony-tools-0.3.zip",
                Some(DistKind::Sdist),
                Some("0.3"),
            ),
            (
                "Pony.Tools",
                "Pony.Tools-0.3.tar.bz2",
                Some(DistKind::Sdist),
                Some("0.3"),
            ),
            ("pony", "pony-1.0-py2.7.egg", None, None),
            ("pony", "pony-1.0.win32.exe", None, None),
        ];
        for (project, filename, kind, version) in cases {
            assert_eq!(kind_of(filename), kind, "{filename}");
            assert_eq!(
                version_of(project, filename).as_deref(),
                version,
                "{filename}"
            );
        }
    }

    #[test]
    fn path_tricks_are_not_safe_file_names() {
        for (name, safe) in [
            ("pony-1.0.tar.gz", true),
            ("../pony-1.0.tar.gz", false),
            ("a/b.whl", false),
            ("a\\b.whl", false),
            (".bashrc", false),
            ("..", false),
            ("", false),
        ] {
            assert_eq!(is_safe_filename(name), safe, "{name:?}");
        }
    }
}
