//! The files an install changed, as the report shows them: the changes to the job's
//! writable areas (compared by [`crate::sandbox::snapshot`] before and right after the
//! install) classified, with anything outside the virtualenv and the work tree
//! flagged, and collapsed so that a venv of ten thousand files reads as one line.
//!
//! A flagged change is not an error: it is what a reviewer should look at (a `setup.py`
//! writing to `/etc`, a `.pth` file dropped into the system site-packages).
//!
//! Pure: the changes come in as plain `(path, kind)` pairs.

use serde::{Deserialize, Serialize};

/// Paths where changes are expected and never flagged: pip's cache in the sandbox user's
/// home, and the temporary directories builds use.
pub const EXPECTED_NOISE: &[&str] = &["/home/pony/.cache", "/tmp", "/var/tmp"];

/// At most this many changes are listed; the rest are counted in
/// [`InstallChanges::omitted`]. Flagged changes are listed first, so they are the last
/// to be left out.
pub const MAX_LISTED: usize = 200;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The path did not exist before the install.
    Added,
    /// The file's content or metadata changed; for a directory, something inside it.
    Changed,
    /// The path existed before the install and is gone.
    Deleted,
}

/// One listed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallChange {
    /// Absolute path in the container.
    pub path: String,
    /// What happened to it.
    pub kind: ChangeKind,
    /// Outside the venv, the work tree and the expected noise.
    pub flagged: bool,
    /// For an added directory: how many paths inside it are not listed separately.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inside: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The listed changes and how many were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallChanges {
    /// Flagged first, then in path order; at most [`MAX_LISTED`].
    pub changes: Vec<InstallChange>,
    /// Changes not listed because of the cap.
    pub omitted: usize,
}

impl InstallChanges {
    /// How many listed changes are flagged.
    pub fn flagged(&self) -> usize {
        self.changes.iter().filter(|c| c.flagged).count()
    }
}

/// Classifies the file changes of a container whose virtualenv is at `venv` and work
/// tree at `work` (absolute paths).
///
/// - Changes inside `venv`, `work` or [`EXPECTED_NOISE`] are listed, not flagged.
/// - A changed directory that merely contains other changes (`/home`, `/usr/lib` above an
///   added file) is not listed: its children say what happened.
/// - The directories above the venv and the work tree are not listed, whatever their kind.
/// - Inside an added directory, only flagged paths under an unflagged directory are
///   listed; the others are counted in the directory's `inside`.
pub fn classify_changes<I>(changes: I, venv: &str, work: &str) -> InstallChanges
where
    I: IntoIterator<Item = (String, ChangeKind)>,
{
    let roots = [normalize(venv), normalize(work)];
    let mut all: Vec<(String, ChangeKind)> = changes
        .into_iter()
        .map(|(path, kind)| (normalize(&path), kind))
        .collect();
    // Component order puts a directory right before its contents ("/a", "/a/b", "/a-b"),
    // which plain string order does not.
    all.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
    all.dedup_by(|a, b| a.0 == b.0);

    let mut listed: Vec<InstallChange> = Vec::new();
    // Added directories open above the current path, as indexes into `listed`.
    let mut open: Vec<usize> = Vec::new();
    for (i, (path, kind)) in all.iter().enumerate() {
        let is_parent = all
            .get(i + 1)
            .is_some_and(|(next, _)| is_within(next, path) && next != path);
        if *kind == ChangeKind::Changed && is_parent {
            continue;
        }
        // `/home/pony` above the venv changed (or was added) only because the venv was.
        if roots.iter().any(|r| r != path && is_within(r, path)) {
            continue;
        }
        while open
            .last()
            .is_some_and(|&d| !is_within(path, &listed[d].path))
        {
            open.pop();
        }
        let flagged = !roots.iter().any(|r| is_within(path, r))
            && !EXPECTED_NOISE.iter().any(|n| is_within(path, n));
        if let Some(&d) = open.last() {
            if !flagged || listed[d].flagged {
                listed[d].inside += 1;
                continue;
            }
        }
        listed.push(InstallChange {
            path: path.clone(),
            kind: *kind,
            flagged,
            inside: 0,
        });
        if *kind == ChangeKind::Added {
            open.push(listed.len() - 1);
        }
    }
    // Stable: path order within each group.
    listed.sort_by_key(|c| !c.flagged);
    let omitted = listed.len().saturating_sub(MAX_LISTED);
    listed.truncate(MAX_LISTED);
    InstallChanges {
        changes: listed,
        omitted,
    }
}

/// `/a/b` for `a/b/`, `/a//b`, `/a/./c/../b`; `/` for the root. Docker reports clean
/// paths, but a path that could escape a prefix check by `..` must not.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether `path` is `dir` or inside it (both normalized).
fn is_within(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENV: &str = "/home/pony/venv";
    const WORK: &str = "/home/pony/src";

    /// Changes written with Docker's codes (0 changed, 1 added, 2 deleted), short.
    fn docker(changes: &[(&str, u8)]) -> Vec<(String, ChangeKind)> {
        let kind = |k: u8| match k {
            1 => ChangeKind::Added,
            2 => ChangeKind::Deleted,
            _ => ChangeKind::Changed,
        };
        changes
            .iter()
            .map(|(p, k)| (p.to_string(), kind(*k)))
            .collect()
    }

    fn line(path: &str, kind: ChangeKind, flagged: bool, inside: usize) -> InstallChange {
        InstallChange {
            path: path.into(),
            kind,
            flagged,
            inside,
        }
    }

    use ChangeKind::{Added as A, Changed as C, Deleted as D};

    #[test]
    fn classification() {
        /// What, Docker's changes, the listed changes.
        type Case = (&'static str, Vec<(&'static str, u8)>, Vec<InstallChange>);
        let cases: Vec<Case> = vec![
            (
                "a clean install: venv and work tree, parents and cache hidden",
                vec![
                    ("/home", 0),
                    ("/home/pony", 0),
                    ("/home/pony/venv", 1),
                    ("/home/pony/venv/bin", 1),
                    ("/home/pony/venv/bin/python", 1),
                    (
                        "/home/pony/venv/lib/python3.11/site-packages/django/__init__.py",
                        1,
                    ),
                    ("/home/pony/src", 1),
                    ("/home/pony/src/setup.py", 1),
                    ("/home/pony/.cache", 1),
                    ("/home/pony/.cache/pip/http/x", 1),
                    ("/tmp", 0),
                    ("/tmp/pip-build-1", 1),
                    ("/tmp/pip-build-1/a", 1),
                ],
                vec![
                    line("/home/pony/.cache", A, false, 1),
                    line("/home/pony/src", A, false, 1),
                    line("/home/pony/venv", A, false, 3),
                    line("/tmp/pip-build-1", A, false, 1),
                ],
            ),
            (
                "writes outside are flagged, their parents hidden",
                vec![
                    ("/etc", 0),
                    ("/etc/passwd", 0),
                    ("/usr", 0),
                    ("/usr/lib", 0),
                    ("/usr/lib/python3/dist-packages/evil.pth", 1),
                    ("/usr/local/bin/tool", 2),
                    ("/home/pony/venv", 1),
                ],
                vec![
                    line("/etc/passwd", C, true, 0),
                    line("/usr/lib/python3/dist-packages/evil.pth", A, true, 0),
                    line("/usr/local/bin/tool", D, true, 0),
                    line("/home/pony/venv", A, false, 0),
                ],
            ),
            (
                "a flagged added directory collapses its children",
                vec![
                    ("/opt/thing", 1),
                    ("/opt/thing/a", 1),
                    ("/opt/thing/b/c", 1),
                    ("/opt/thing-2", 1),
                ],
                vec![
                    line("/opt/thing", A, true, 2),
                    line("/opt/thing-2", A, true, 0),
                ],
            ),
            (
                "a new home: venv gets its own line, a flagged dotfile stays listed",
                vec![
                    ("/home/pony", 1),
                    ("/home/pony/.bashrc", 1),
                    ("/home/pony/venv", 1),
                    ("/home/pony/venv/x", 1),
                ],
                vec![
                    line("/home/pony/.bashrc", A, true, 0),
                    line("/home/pony/venv", A, false, 1),
                ],
            ),
            (
                "odd paths are normalized and deduplicated, unknown kinds read as changed",
                vec![
                    ("home/pony/src/", 1),
                    ("/home/pony/src", 1),
                    ("/srv//data", 7),
                    ("/tmp/b/../../etc/./x", 1),
                ],
                vec![
                    line("/etc/x", A, true, 0),
                    line("/srv/data", C, true, 0),
                    line("/home/pony/src", A, false, 0),
                ],
            ),
            ("nothing", vec![], vec![]),
        ];
        for (what, input, want) in cases {
            let got = classify_changes(docker(&input), VENV, WORK);
            assert_eq!(got.changes, want, "{what}");
            assert_eq!(got.omitted, 0, "{what}");
        }
    }

    #[test]
    fn long_lists_are_capped_keeping_flagged_first() {
        let mut input: Vec<(String, ChangeKind)> =
            (0..300).map(|i| (format!("/tmp/f{i:03}"), A)).collect();
        input.extend((0..5).map(|i| (format!("/etc/x{i}"), A)));
        let got = classify_changes(input, VENV, WORK);
        assert_eq!(got.changes.len(), MAX_LISTED);
        assert_eq!(got.omitted, 305 - MAX_LISTED);
        assert_eq!(got.flagged(), 5);
        assert!(got.changes[..5].iter().all(|c| c.flagged));
    }

    #[test]
    fn serializes_for_results_json() {
        let change = line("/etc/x", A, true, 0);
        assert_eq!(
            serde_json::to_string(&change).expect("serializes"),
            r#"{"path":"/etc/x","kind":"added","flagged":true}"#
        );
    }
}
