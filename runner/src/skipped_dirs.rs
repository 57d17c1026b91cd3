//! Directories of a project's tree that ponyswarm leaves out: the one list, and why each
//! walk of a source tree leaves out what it does.
//!
//! Three walks read a tree: copying it into a job's sandbox ([`Walk::Sandbox`]), packing
//! it for the swarm ([`Walk::Archive`]) and looking for tests and dependencies
//! ([`Walk::Detection`]). All three leave out what belongs to the host (caches,
//! virtualenvs, ponyswarm's own output). Version control stays in a sandbox copy, where
//! build backends such as setuptools-scm read the version from it, but is not worth its
//! size on the wire or the time of a detection walk. Detection also skips what is built
//! or installed rather than written (`node_modules`, `*.egg-info`, …).
//!
//! Pure: no I/O.

/// Caches, virtualenvs and ponyswarm's output (the default report directory lives in
/// `.ponyswarm/`): never part of a project's source.
const HOST_DIRS: &[&str] = &[
    ".ponyswarm",
    "__pycache__",
    ".tox",
    ".nox",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
];

/// Version-control data.
const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn"];

/// Built or installed rather than written: not worth a detection walk.
const BUILT_DIRS: &[&str] = &["venv", "node_modules", ".ruff_cache", ".eggs"];

/// Which walk of a source tree asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Copying the tree into a job's sandbox: version control is kept.
    Sandbox,
    /// Packing the tree as tar.gz for the coordinator and its agents.
    Archive,
    /// Reading the tree to detect the test runner and dependencies.
    Detection,
}

/// Whether the directory called `name` is left out of `walk`.
pub fn is_skipped(name: &str, walk: Walk) -> bool {
    if HOST_DIRS.contains(&name) {
        return true;
    }
    match walk {
        Walk::Sandbox => false,
        Walk::Archive => VCS_DIRS.contains(&name),
        Walk::Detection => {
            VCS_DIRS.contains(&name) || BUILT_DIRS.contains(&name) || name.ends_with(".egg-info")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_walk_skips_what_it_must() {
        // (name, sandbox, archive, detection)
        let cases = [
            ("src", false, false, false),
            ("tests", false, false, false),
            (".github", false, false, false),
            (".ponyswarm", true, true, true),
            ("__pycache__", true, true, true),
            (".tox", true, true, true),
            (".venv", true, true, true),
            (".pytest_cache", true, true, true),
            (".git", false, true, true),
            (".hg", false, true, true),
            (".svn", false, true, true),
            ("venv", false, false, true),
            ("node_modules", false, false, true),
            ("demo.egg-info", false, false, true),
            (".eggs", false, false, true),
        ];
        for (name, sandbox, archive, detection) in cases {
            assert_eq!(is_skipped(name, Walk::Sandbox), sandbox, "{name} sandbox");
            assert_eq!(is_skipped(name, Walk::Archive), archive, "{name} archive");
            assert_eq!(
                is_skipped(name, Walk::Detection),
                detection,
                "{name} detection"
            );
        }
    }
}
