//! Which source changes could change what a project installed not editable is: the
//! question a job asks before it installs its project again into a copy of its
//! environment's venv.
//!
//! When an environment is built, it records the source files it was built from (a
//! digest each, see `source::manifest`) and the top-level names the project installed
//! (from its dist-info's `RECORD`, found by its `direct_url.json` pointing at the
//! source tree). A job whose source differs installs the project again only when a
//! changed, added or removed file could change the install:
//!
//! 1. a path with a component named for an installed top-level package or module
//!    (`ponylib/…`, `src/ponylib/…`, `ponylib.py`);
//! 2. a file at the top of the tree (`pyproject.toml`, `setup.py`, `setup.cfg`,
//!    `MANIFEST.in`, a README a build reads), but for a few that only tests read
//!    ([`NOT_BUILD_INPUTS`]);
//! 3. anything else, but for the trees of [`OUTSIDE_DIRS`] (`tests/`, `docs/`).
//!
//! When in doubt the answer is "install again": when the record is missing or too big
//! for a label, when the project is not the tree itself (`pip install ./sub`), when
//! its `RECORD` names a `.pth` file or a file outside site-packages that is not one of
//! its entry-point scripts (`data_files`, `scripts=`).
//!
//! Pure: strings in, decisions out.

use crate::run::layout::SRC;
use crate::run::pip::ProjectTarget;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

/// Files at the top of the tree that only tests and tools read: editing them cannot
/// change what a build makes.
const NOT_BUILD_INPUTS: &[&str] = &[
    "conftest.py",
    "pytest.ini",
    "tox.ini",
    "noxfile.py",
    ".coveragerc",
    "ponyswarm.yaml",
];

/// Top directories that hold tests, documentation and examples, not the package
/// (unless it installs a top-level name of theirs, which rule 1 catches first).
const OUTSIDE_DIRS: &[&str] = &[
    "tests",
    "test",
    "testing",
    "docs",
    "doc",
    "examples",
    "benchmarks",
    ".github",
];

/// The most bytes a record may take as a label: past it, none is kept and every
/// source change installs the project again.
const MAX_LABEL: usize = 256 << 10;

/// What an environment's install of the project was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledSource {
    /// The installed top-level packages and modules.
    pub top_level: Vec<String>,
    /// The source's files (see `source::manifest`): path to digest.
    pub files: BTreeMap<String, String>,
}

impl InstalledSource {
    /// The record as a label value (JSON, gzipped, in hex), or `None` when it is too
    /// big for one.
    pub fn encode(&self) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json).ok()?;
        let label = hex::encode(gz.finish().ok()?);
        (label.len() <= MAX_LABEL).then_some(label)
    }

    /// The record of a label value; `None` when it cannot be read.
    pub fn decode(label: &str) -> Option<Self> {
        let bytes = hex::decode(label).ok()?;
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut json)
            .ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// The first changed, added or removed path of `now` that could change the
    /// install (see the module doc), or `None` when the install stands.
    pub fn reinstall_cause(&self, now: &BTreeMap<String, String>) -> Option<String> {
        let was = &self.files;
        let changed = was
            .iter()
            .filter(|(path, digest)| now.get(*path) != Some(digest))
            .map(|(path, _)| path)
            .chain(now.keys().filter(|path| !was.contains_key(*path)));
        changed
            .into_iter()
            .find(|path| could_change_install(&self.top_level, path))
            .cloned()
    }
}

/// Whether a change at `path` (relative to the tree, `/`-separated) could change
/// what a project with the top-level names `top_level` installs.
pub fn could_change_install(top_level: &[String], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let names_installed = parts.iter().any(|part| {
        let stem = part.split('.').next().unwrap_or(part);
        top_level.iter().any(|t| t == part || t == stem)
    });
    if names_installed {
        return true;
    }
    match parts.as_slice() {
        [file] => !NOT_BUILD_INPUTS.contains(file),
        [dir, ..] => !OUTSIDE_DIRS.contains(dir),
        [] => true,
    }
}

/// The line that prints, as JSON, every distribution of the venv `venv` installed
/// from a local path: its `direct_url.json` URL, whether editable, its `RECORD` and
/// its entry-point script names.
pub fn inspect_command(venv: &str) -> String {
    const SCRIPT: &str = r#"
import configparser, json, os, sysconfig
out, seen = [], set()
for key in ("purelib", "platlib"):
    sp = sysconfig.get_paths()[key]
    if sp in seen or not os.path.isdir(sp):
        continue
    seen.add(sp)
    for d in sorted(os.listdir(sp)):
        p = os.path.join(sp, d)
        if not d.endswith(".dist-info"):
            continue
        try:
            with open(os.path.join(p, "direct_url.json")) as f:
                du = json.load(f)
        except Exception:
            continue
        url = du.get("url", "")
        if not url.startswith("file://"):
            continue
        try:
            with open(os.path.join(p, "RECORD")) as f:
                record = f.read()
        except Exception:
            record = None
        scripts = []
        try:
            cp = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            cp.optionxform = str
            cp.read(os.path.join(p, "entry_points.txt"))
            for s in ("console_scripts", "gui_scripts"):
                if cp.has_section(s):
                    scripts += list(cp[s])
        except Exception:
            pass
        editable = bool((du.get("dir_info") or {}).get("editable"))
        out.append({"url": url, "editable": editable, "record": record, "scripts": scripts})
print(json.dumps(out))
"#;
    format!(
        "{venv}/bin/python -I -c {}",
        shell_words::quote(SCRIPT.trim_start())
    )
}

/// One distribution as [`inspect_command`] prints it.
#[derive(Debug, Deserialize)]
struct Dist {
    url: String,
    editable: bool,
    record: Option<String>,
    scripts: Vec<String>,
}

/// The top-level names the project targets `targets` installed, from the output of
/// [`inspect_command`]; `None` when there is doubt (see the module doc) or nothing
/// installed the project not editable.
pub fn top_level_of(targets: &[ProjectTarget], inspected: &str) -> Option<Vec<String>> {
    let dists: Vec<Dist> = serde_json::from_str(inspected.trim()).ok()?;
    let plain: Vec<&ProjectTarget> = targets.iter().filter(|t| !t.editable).collect();
    let is_tree = |t: &&ProjectTarget| {
        let path = t.path.split('[').next().unwrap_or(&t.path);
        matches!(path, "." | "./")
    };
    if plain.is_empty() || !plain.iter().all(is_tree) {
        return None;
    }
    let tree = format!("file://{SRC}");
    let ours: Vec<&Dist> = dists
        .iter()
        .filter(|d| !d.editable && d.url.trim_end_matches('/') == tree)
        .collect();
    if ours.is_empty() {
        return None;
    }
    let mut names = BTreeSet::new();
    for dist in ours {
        names.extend(record_top_level(dist.record.as_deref()?, &dist.scripts)?);
    }
    (!names.is_empty()).then(|| names.into_iter().collect())
}

/// The top-level names a dist-info `RECORD` installs into site-packages; `None` when
/// it installs a `.pth` file or a file outside site-packages other than an entry-point
/// script of `scripts` (a file copied from anywhere in the tree).
fn record_top_level(record: &str, scripts: &[String]) -> Option<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for line in record.lines().filter(|l| !l.trim().is_empty()) {
        let path = match line.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or_default(),
            None => line.split(',').next().unwrap_or_default(),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let first = parts[0];
        if first == ".." {
            let script = parts.len() >= 2
                && parts[parts.len() - 2] == "bin"
                && scripts.iter().any(|s| s == parts[parts.len() - 1]);
            if !script {
                return None;
            }
        } else if first.ends_with(".dist-info") || first == "__pycache__" {
            continue;
        } else if first.ends_with(".data") || (parts.len() == 1 && first.ends_with(".pth")) {
            return None;
        } else if parts.len() == 1 {
            names.insert(first.split('.').next().unwrap_or(first).to_string());
        } else {
            names.insert(first.to_string());
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_changes_that_could_reach_the_install_count() {
        let lib = top(&["ponylib"]);
        let cases: &[(&str, bool)] = &[
            ("tests/test_ponylib.py", false),
            ("tests/data/x.json", false),
            ("docs/index.rst", false),
            ("conftest.py", false),
            ("tox.ini", false),
            ("src/ponylib/__init__.py", true),
            ("src/ponylib/data/x.json", true),
            ("ponylib/__init__.py", true),
            ("ponylib.py", true),
            ("lib/ponylib/core.py", true),
            // A test tree that repeats the package's name: in doubt.
            ("tests/ponylib/test_core.py", true),
            ("pyproject.toml", true),
            ("setup.py", true),
            ("setup.cfg", true),
            ("MANIFEST.in", true),
            ("README.md", true),
            // Neither the package nor clearly outside it.
            ("scripts/tool", true),
            ("src/other/x.py", true),
        ];
        for (path, want) in cases {
            assert_eq!(could_change_install(&lib, path), *want, "{path}");
        }
        // A package named `tests` is installed: its files count.
        assert!(could_change_install(&top(&["tests"]), "tests/x.py"));
    }

    fn files(items: &[(&str, &str)]) -> BTreeMap<String, String> {
        items
            .iter()
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect()
    }

    #[test]
    fn the_cause_is_a_changed_added_or_removed_file_that_counts() {
        let was = InstalledSource {
            top_level: top(&["ponylib"]),
            files: files(&[
                ("pyproject.toml", "a"),
                ("src/ponylib/__init__.py", "b"),
                ("tests/test_ponylib.py", "c"),
            ]),
        };
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (
                &[
                    ("pyproject.toml", "a"),
                    ("src/ponylib/__init__.py", "b"),
                    ("tests/test_ponylib.py", "c"),
                ],
                None,
            ),
            (
                &[
                    ("pyproject.toml", "a"),
                    ("src/ponylib/__init__.py", "b"),
                    ("tests/test_ponylib.py", "C"),
                    ("tests/test_new.py", "d"),
                ],
                None,
            ),
            (
                &[
                    ("pyproject.toml", "a"),
                    ("src/ponylib/__init__.py", "B"),
                    ("tests/test_ponylib.py", "c"),
                ],
                Some("src/ponylib/__init__.py"),
            ),
            (
                &[("pyproject.toml", "a"), ("tests/test_ponylib.py", "c")],
                Some("src/ponylib/__init__.py"),
            ),
            (
                &[
                    ("pyproject.toml", "a"),
                    ("src/ponylib/__init__.py", "b"),
                    ("src/ponylib/new.py", "e"),
                    ("tests/test_ponylib.py", "c"),
                ],
                Some("src/ponylib/new.py"),
            ),
        ];
        for (now, want) in cases {
            assert_eq!(
                was.reinstall_cause(&files(now)).as_deref(),
                *want,
                "{now:?}"
            );
        }
    }

    #[test]
    fn the_record_survives_the_label_unless_too_big() {
        let small = InstalledSource {
            top_level: top(&["ponylib"]),
            files: files(&[("src/ponylib/__init__.py", "0123456789abcdef")]),
        };
        assert_eq!(
            InstalledSource::decode(&small.encode().expect("small enough")),
            Some(small)
        );
        assert_eq!(InstalledSource::decode("not hex"), None);
        // Digests do not compress: a tree of many files is past the cap.
        let big = InstalledSource {
            top_level: top(&["ponylib"]),
            files: (0..20_000)
                .map(|i| {
                    (
                        format!("f{i}"),
                        format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    )
                })
                .collect(),
        };
        assert_eq!(big.encode(), None);
    }

    fn target(path: &str, editable: bool) -> ProjectTarget {
        ProjectTarget {
            path: path.to_string(),
            editable,
        }
    }

    const PONYLIB: &str = r#"[
      {"url": "file:///work/src", "editable": false, "scripts": ["pony"],
       "record": "ponylib/__init__.py,sha256=x,10\nponylib/__pycache__/__init__.cpython-311.pyc,,\nponylib-0.1.dist-info/RECORD,,\n../../../bin/pony,sha256=y,20\n_ponyext.cpython-311-x86_64-linux-gnu.so,sha256=z,30\n"},
      {"url": "file:///wheels/other", "editable": false, "scripts": [], "record": "other/x.py,,\n"}
    ]"#;

    #[test]
    fn top_level_names_come_from_the_record_of_the_tree_s_distribution() {
        let plain = [target(".[test]", false)];
        assert_eq!(
            top_level_of(&plain, PONYLIB),
            Some(top(&["_ponyext", "ponylib"]))
        );
        // Doubt: another tree, an editable install alone, unreadable output.
        assert_eq!(top_level_of(&[target("./sub", false)], PONYLIB), None);
        assert_eq!(top_level_of(&[target(".", true)], PONYLIB), None);
        assert_eq!(top_level_of(&plain, "Traceback"), None);
        let none_of_ours = r#"[{"url": "file:///elsewhere", "editable": false,
                              "scripts": [], "record": "x/y.py,,\n"}]"#;
        assert_eq!(top_level_of(&plain, none_of_ours), None);
    }

    #[test]
    fn records_that_copy_files_from_anywhere_leave_doubt() {
        let no_scripts: &[String] = &[];
        let cases: &[(&str, Option<&[&str]>)] = &[
            (
                "pkg/a.py,,\nmod.py,,\n__pycache__/mod.cpython-311.pyc,,\n",
                Some(&["mod", "pkg"]),
            ),
            ("\"pkg/a,b.py\",,\n", Some(&["pkg"])),
            ("pkg/a.py,,\n../../../bin/tool,,\n", None),
            ("pkg/a.py,,\n../../../share/pkg/data.txt,,\n", None),
            ("pkg/a.py,,\nextra.pth,,\n", None),
        ];
        for (record, want) in cases {
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
            assert_eq!(record_top_level(record, no_scripts), want, "{record}");
        }
    }
}
