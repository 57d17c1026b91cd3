//! What a release test runs: the install commands of the wheel and sdist jobs, what
//! their prepare phase fetches, and the matrix spec the jobs come from, built in code.
//!
//! Everything here reads data from the index (file names, `Requires-Dist`, extras),
//! which is hostile input: names are checked against tight alphabets and every word
//! that reaches a command line is quoted.
//!
//! Pure: no I/O.

use crate::detect::{Runner, SourceTree};
use crate::matrix::{Limits, MatrixDef, Pos, Spanned, Spec, Value};
use std::path::Path;
use std::time::Duration;

/// Where the release's files are put in the source tree (and so in the container,
/// under `/work/src`).
pub const DIST_DIR: &str = ".ponyswarm-dist";

/// A distribution file name safe to put on a command line and in a path: letters,
/// digits and `._+-`, not starting with `.` or `-`, with no `..`.
pub fn safe_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['.', '-'])
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

/// An extra's name as PEP 685 allows it (letters, digits, `._-`).
fn safe_extra(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The extra named by a marker such as `extra == "test"` (either quote), if any.
fn marker_extra(marker: &str) -> Option<String> {
    let at = marker.find("extra")?;
    let rest = marker[at + "extra".len()..]
        .trim_start()
        .strip_prefix("==")?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &rest[1..];
    let end = inner.find(quote)?;
    Some(inner[..end].to_string())
}

/// The extras that look like they are for running the tests (`test`, `tests`,
/// `testing`, `test-all`…), as named in `Requires-Dist` markers; sorted, unique.
pub fn test_extras(requires_dist: &[String]) -> Vec<String> {
    let mut out: Vec<String> = requires_dist
        .iter()
        .filter_map(|r| r.split_once(';').and_then(|(_, m)| marker_extra(m)))
        .filter(|e| safe_extra(e) && e.to_ascii_lowercase().contains("test"))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `./.ponyswarm-dist/FILE[extra,…]`: what pip installs for a file with extras.
pub fn target(filename: &str, extras: &[String]) -> String {
    let mut t = format!("./{DIST_DIR}/{filename}");
    if !extras.is_empty() {
        t.push_str(&format!("[{}]", extras.join(",")));
    }
    t
}

/// What the prepare phase fetches for, for both jobs of a Python.
///
/// Through the wheel when there is one: pip reads a wheel's metadata without running
/// any of its code. Without a wheel, from the index's `Requires-Dist` (see
/// [`metadata_requirements`]): fetching through the sdist would build it, running the
/// project's `setup.py` with the network on.
pub fn prepare_commands(
    wheel: Option<&str>,
    extras: &[String],
    requires_dist: &[String],
    runner: Runner,
) -> (Vec<String>, Vec<String>) {
    let (mut out, notes) = match wheel {
        Some(w) => (
            vec![format!(
                "pip install {}",
                shell_words::quote(&target(w, extras))
            )],
            Vec::new(),
        ),
        None => {
            let (reqs, notes) = metadata_requirements(requires_dist, extras);
            let line =
                (!reqs.is_empty()).then(|| format!("pip install {}", shell_words::join(&reqs)));
            (line.into_iter().collect(), notes)
        }
    };
    if runner == Runner::Pytest {
        out.push("pip install pytest".to_string());
    }
    (out, notes)
}

/// The requirements to fetch from `Requires-Dist`: those without an `extra` marker
/// (other markers kept for pip to evaluate), and those of the chosen `extras` (their
/// marker dropped). Requirements that could smuggle an option (`--index-url=…`) or a
/// direct URL in are left out, with a note each.
pub fn metadata_requirements(
    requires_dist: &[String],
    extras: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut reqs = Vec::new();
    let mut notes = Vec::new();
    for r in requires_dist {
        let r = r.trim();
        let (spec, marker) = match r.split_once(';') {
            Some((s, m)) => (s.trim(), Some(m.trim())),
            None => (r, None),
        };
        let starts_ok = spec
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if !starts_ok || spec.contains('@') || r.contains(['\n', '\r', '\0']) {
            notes.push(format!(
                "not fetched: requirement {r:?} (an option or a direct URL)"
            ));
            continue;
        }
        match marker.map(|m| (m, marker_extra(m))) {
            None => reqs.push(spec.to_string()),
            Some((_, Some(extra))) => {
                if extras.contains(&extra) {
                    reqs.push(spec.to_string());
                }
            }
            Some((m, None)) => reqs.push(format!("{spec}; {m}")),
        }
    }
    (reqs, notes)
}

/// Whether the sdist carries a test suite: a `conftest.py`, Python files in a
/// `tests/` or `test/` directory, or `test_*.py`, `*_test.py`, `tests.py`, `test.py`
/// files anywhere.
pub fn has_tests(tree: &SourceTree) -> bool {
    tree.files().iter().any(|f| {
        let name = f.rsplit('/').next().unwrap_or(f);
        let in_tests_dir = f
            .split('/')
            .rev()
            .skip(1)
            .any(|d| d == "tests" || d == "test");
        let is_test_file = name.ends_with(".py")
            && (name.starts_with("test_")
                || name.ends_with("_test.py")
                || matches!(name, "tests.py" | "test.py"));
        is_test_file || (in_tests_dir && name.ends_with(".py")) || name == "conftest.py"
    })
}

/// A Python's name as it may be written into a template: catalog names (`3.11`,
/// `pypy3`) and nothing that could end a quoted string.
fn safe_python(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The wheel every Python installs, when they all install the same one.
pub fn common_wheel(wheels: &[(String, String)]) -> Option<&str> {
    let first = &wheels.first()?.1;
    wheels
        .iter()
        .all(|(_, w)| w == first)
        .then_some(first.as_str())
}

/// The install command of a release test's jobs, a template over `matrix.dist` and
/// `matrix.python`: for `dist: sdist` the sdist, for `dist: wheel` the wheel chosen
/// for the job's Python (`wheels`: Python → file), each with the test `extras`.
/// pytest, when detection chose it, is added by planning as for any job.
///
/// The file names, Python names and extras are written into the template as they
/// are: all are checked first ([`safe_filename`], [`test_extras`], `safe_python`), so
/// they hold no braces or quotes.
pub fn install_template(
    wheels: &[(String, String)],
    sdist: Option<&str>,
    extras: &[String],
) -> String {
    let command = |file: &str| format!("pip install {}", shell_words::quote(&target(file, extras)));
    let wheel = match common_wheel(wheels) {
        Some(w) => Some(command(w)),
        None => wheels.split_last().map(|((_, last), rest)| {
            // Pythons without a wheel have no wheel job: the last branch is the
            // last Python's.
            rest.iter().rev().fold(command(last), |inner, (python, w)| {
                format!(
                    "{{{{#if (eq matrix.python \"{python}\")}}}}{}{{{{else}}}}{inner}{{{{/if}}}}",
                    command(w)
                )
            })
        }),
    };
    match (wheel, sdist) {
        (Some(w), Some(s)) => format!(
            "{{{{#if (eq matrix.dist \"sdist\")}}}}{}{{{{else}}}}{w}{{{{/if}}}}",
            command(s),
        ),
        (Some(w), None) => w,
        (None, Some(s)) => command(s),
        (None, None) => String::new(),
    }
}

/// ponyswarm's script in [`DIST_DIR`] that completes the tree's packages with the
/// installed release's compiled modules (`in_place.py`: what and why).
///
/// Not named `*.py`: the tests walk the tree, and a project's pytest configuration may
/// lint every `.py` file they meet (pytest-ruff, pytest-black) and walk dot-directories
/// too, when it sets its own `norecursedirs` (jaraco.classes 3.3.0 linted this script
/// and failed). Python runs it whatever its name.
pub const IN_PLACE_SCRIPT: &str = "in-place";

/// Whether a release has compiled parts: a wheel tagged for an ABI, or extension
/// sources in its sdist.
pub fn has_compiled_parts(wheels: &[String], tree: &SourceTree) -> bool {
    const SOURCES: &[&str] = &[".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs"];
    wheels.iter().any(|w| !w.ends_with("-none-any.whl"))
        || tree
            .files()
            .iter()
            .any(|f| SOURCES.iter().any(|s| f.ends_with(s)))
}

/// The test command of a release with compiled parts: first the tree is completed
/// with the installed compiled modules, as the in-place build of upstream CI would
/// have it, then `command` runs. The script never fails, so `;`.
pub fn with_in_place(distribution: &str, command: &str) -> String {
    format!(
        "python -I ./{DIST_DIR}/{IN_PLACE_SCRIPT} {}; {command}",
        shell_words::quote(distribution)
    )
}

/// `pip install` of the test dependencies, if there are any.
pub fn deps_command(deps: &[String]) -> Option<String> {
    (!deps.is_empty()).then(|| format!("pip install {}", shell_words::join(deps)))
}

/// What a release test's matrix is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseMatrix {
    /// `NAME-VERSION`: the run's name.
    pub name: String,
    /// The Pythons, as catalog names.
    pub pythons: Vec<String>,
    /// The wheel tried on each Python that has one (Python, file); a Python without
    /// one has no wheel job.
    pub wheels: Vec<(String, String)>,
    /// The sdist tried, if any.
    pub sdist: Option<String>,
    /// The test extras installed with either.
    pub extras: Vec<String>,
    /// What the prepare phase fetches for (see [`prepare_commands`]).
    pub prepare: Vec<String>,
    /// The author's test dependencies, installed after the release (each checked by
    /// [`crate::pypi::testdeps::check_requirement`]: no braces, no options).
    pub test_deps: Vec<String>,
    /// The author's test command; `None`: the one detection finds.
    pub test: Option<String>,
    /// Services the jobs start: name → catalog image (a Django app's database).
    pub services: Vec<(String, String)>,
    /// The jobs' environment: name → template (written by ponyswarm, never from the
    /// release's text).
    pub env: Vec<(String, String)>,
    /// Time allowed for each job.
    pub timeout: Duration,
}

impl ReleaseMatrix {
    /// The install commands (templates): the job's file, then the test dependencies,
    /// then pytest when the author's command runs it (detection adds it otherwise).
    fn install(&self) -> Vec<String> {
        let wheels: Vec<(String, String)> = self
            .wheels
            .iter()
            .filter(|(p, _)| safe_python(p))
            .cloned()
            .collect();
        let mut out = vec![install_template(
            &wheels,
            self.sdist.as_deref(),
            &self.extras,
        )];
        out.extend(deps_command(&self.test_deps));
        let runs_pytest = self
            .test
            .as_deref()
            .is_some_and(|t| crate::detect::runner_of(t) == Runner::Pytest);
        if runs_pytest {
            out.push("pip install pytest".into());
        }
        out
    }

    /// The spec of a release test, built in code: `python` × `dist` (the kinds
    /// present), the source tree in `src/` beside `path`, the test command detected
    /// from it.
    pub fn spec(&self, path: &Path) -> Spec {
        let at = |value: String| Spanned {
            value,
            pos: Pos { line: 1, col: 1 },
        };
        let axis = |name: &str, values: Vec<&str>| {
            let values = values.into_iter().map(|v| Value::Str(v.into())).collect();
            (at(name.into()), values)
        };
        let dists = [
            ("wheel", !self.wheels.is_empty()),
            ("sdist", self.sdist.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(kind, _)| kind)
        .collect();
        let exclude = self
            .pythons
            .iter()
            .filter(|p| !self.wheels.is_empty() && !self.wheels.iter().any(|(w, _)| w == *p))
            .map(|p| {
                let mut c = crate::matrix::Combination::new();
                c.insert("python".into(), Value::Str(p.clone()));
                c.insert("dist".into(), Value::Str("wheel".into()));
                Spanned {
                    value: c,
                    pos: Pos { line: 1, col: 1 },
                }
            })
            .collect();
        let pythons = self.pythons.iter().map(String::as_str).collect();
        let dir = path.parent().unwrap_or(Path::new("."));
        Spec {
            path: path.to_path_buf(),
            name: self.name.clone(),
            source: dir.join("src"),
            matrix: MatrixDef {
                axes: vec![axis("python", pythons), axis("dist", dists)],
                exclude,
                pos: Pos { line: 1, col: 1 },
                ..MatrixDef::default()
            },
            python: at(self
                .pythons
                .first()
                .cloned()
                .unwrap_or_else(|| "3.11".into())),
            services: self
                .services
                .iter()
                .map(|(name, image)| {
                    let service = crate::matrix::ServiceSpec {
                        image: at(image.clone()),
                        when: Vec::new(),
                        port: None,
                        env: Default::default(),
                    };
                    (name.clone(), service)
                })
                .collect(),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), at(v.clone())))
                .collect(),
            files: Default::default(),
            install: self.install().into_iter().map(at).collect(),
            prepare: Some(self.prepare.clone()),
            test: self.test.clone().map(at),
            timeout: Duration::from_secs(self.timeout.as_secs().max(1)),
            max_parallel: None,
            fail_fast: false,
            allow_failure: Vec::new(),
            limits: Limits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn file_names_from_the_index_are_checked() {
        let cases = [
            ("pony-1.0-py3-none-any.whl", true),
            ("pony_x-1.0+local.tar.gz", true),
            ("../etc/passwd", false),
            ("-rf.whl", false),
            (".hidden.whl", false),
            ("a b.whl", false),
            ("a;rm.whl", false),
            ("a/b.whl", false),
            ("", false),
        ];
        for (name, ok) in cases {
            assert_eq!(safe_filename(name), ok, "{name}");
        }
    }

    #[test]
    fn test_extras_come_from_markers() {
        let reqs = v(&[
            "requests>=2",
            "pytest; extra == \"test\"",
            "coverage; extra=='testing' and python_version>'3.8'",
            "sphinx; extra == \"docs\"",
            "x; extra == \"test\"",
            "evil; extra == \"test$(id)\"",
        ]);
        assert_eq!(test_extras(&reqs), v(&["test", "testing"]));
        assert!(test_extras(&[]).is_empty());
    }

    fn wheels(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(p, w)| (p.to_string(), w.to_string()))
            .collect()
    }

    #[test]
    fn the_install_template_picks_the_file_of_the_job() {
        let any = wheels(&[
            ("3.11", "p-1.0-py3-none-any.whl"),
            ("3.13", "p-1.0-py3-none-any.whl"),
        ]);
        let sdist = Some("p-1.0.tar.gz");
        let cases = [
            (
                any.clone(),
                None,
                vec![],
                "pip install ./.ponyswarm-dist/p-1.0-py3-none-any.whl",
            ),
            (
                vec![],
                sdist,
                v(&["test"]),
                "pip install './.ponyswarm-dist/p-1.0.tar.gz[test]'",
            ),
            (
                any,
                sdist,
                vec![],
                "{{#if (eq matrix.dist \"sdist\")}}pip install ./.ponyswarm-dist/p-1.0.tar.gz\
                 {{else}}pip install ./.ponyswarm-dist/p-1.0-py3-none-any.whl{{/if}}",
            ),
            (
                wheels(&[("3.11", "c-cp311.whl"), ("3.13", "c-cp313.whl")]),
                None,
                vec![],
                "{{#if (eq matrix.python \"3.11\")}}pip install ./.ponyswarm-dist/c-cp311.whl\
                 {{else}}pip install ./.ponyswarm-dist/c-cp313.whl{{/if}}",
            ),
        ];
        for (wheels, sdist, extras, want) in cases {
            assert_eq!(install_template(&wheels, sdist, &extras), want);
        }
    }

    #[test]
    fn each_python_installs_its_own_wheel_and_one_without_has_no_wheel_job() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("src")).expect("src");
        let mut r = release(false, true);
        r.pythons = v(&["3.9", "3.11", "3.13"]);
        r.wheels = wheels(&[
            ("3.9", "c-1.0-cp39-cp39-manylinux2014_x86_64.whl"),
            ("3.11", "c-1.0-cp311-cp311-manylinux2014_x86_64.whl"),
        ]);
        let spec = r.spec(&dir.path().join("ponyswarm.yaml"));
        let plans = crate::plan::from_spec(spec, &crate::plan::Selection::all())
            .expect("plans")
            .jobs;
        let mut got: Vec<(String, String, String)> = plans
            .iter()
            .map(|p| {
                (
                    p.job.matrix["python"].to_string(),
                    p.job.matrix["dist"].to_string(),
                    p.install[0].clone(),
                )
            })
            .collect();
        got.sort();
        let install = |f: &str| format!("pip install './.ponyswarm-dist/{f}[test]'");
        assert_eq!(
            got,
            vec![
                ("3.11".into(), "sdist".into(), install("p-1.0.tar.gz")),
                (
                    "3.11".into(),
                    "wheel".into(),
                    install("c-1.0-cp311-cp311-manylinux2014_x86_64.whl")
                ),
                ("3.13".into(), "sdist".into(), install("p-1.0.tar.gz")),
                ("3.9".into(), "sdist".into(), install("p-1.0.tar.gz")),
                (
                    "3.9".into(),
                    "wheel".into(),
                    install("c-1.0-cp39-cp39-manylinux2014_x86_64.whl")
                ),
            ]
        );
    }

    #[test]
    fn prepare_goes_through_the_wheel_when_there_is_one() {
        let (cmds, notes) = prepare_commands(
            Some("p-1.0-py3-none-any.whl"),
            &v(&["test"]),
            &v(&["ignored"]),
            Runner::Other,
        );
        assert_eq!(
            cmds,
            v(&["pip install './.ponyswarm-dist/p-1.0-py3-none-any.whl[test]'"])
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn without_a_wheel_prepare_reads_requires_dist() {
        let reqs = v(&[
            "requests>=2",
            "tomli; python_version < \"3.11\"",
            "pytest; extra == \"test\"",
            "sphinx; extra == \"docs\"",
            "--index-url=http://evil/",
            "thing @ https://evil/thing.whl",
        ]);
        let (cmds, notes) = prepare_commands(None, &v(&["test"]), &reqs, Runner::Pytest);
        assert_eq!(
            cmds,
            v(&[
                "pip install 'requests>=2' 'tomli; python_version < \"3.11\"' pytest",
                "pip install pytest"
            ])
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        let (cmds, _) = prepare_commands(None, &[], &[], Runner::Unittest);
        assert!(cmds.is_empty());
    }

    #[test]
    fn compiled_parts_come_from_wheel_tags_or_extension_sources() {
        let t = |files: &[&str]| SourceTree::from_files(files.iter().copied());
        let cases: &[(&[&str], &[&str], bool)] = &[
            (&["p-1.0-py3-none-any.whl"], &["p/__init__.py"], false),
            (&["p-1.0-py2.py3-none-any.whl"], &[], false),
            (&["y-1.9-cp311-cp311-manylinux_2_17_x86_64.whl"], &[], true),
            (&[], &["yarl/_quoting_c.pyx", "yarl/__init__.py"], true),
            (
                &[],
                &["src/zope/interface/_zope_interface_coptimizations.c"],
                true,
            ),
            (&[], &["src/lib.rs", "pyproject.toml"], true),
            (&[], &["docs/conf.py", "p/__init__.py"], false),
        ];
        for (wheels, files, want) in cases {
            let got = has_compiled_parts(&v(wheels), &t(files));
            assert_eq!(got, *want, "{wheels:?} {files:?}");
        }
    }

    #[test]
    fn the_in_place_step_comes_first_and_never_stops_the_tests() {
        assert_eq!(
            with_in_place("zope.interface", "python -m unittest discover -s src"),
            "python -I ./.ponyswarm-dist/in-place zope.interface; \
             python -m unittest discover -s src"
        );
        let hostile = with_in_place("x;rm -rf /", "pytest");
        assert!(hostile.contains("'x;rm -rf /'"), "{hostile}");
        assert_eq!(
            crate::detect::runner_of(&with_in_place("p", "python -m pytest")),
            Runner::Pytest
        );
    }

    #[test]
    fn tests_are_found_by_layout() {
        let cases: [(&[&str], bool); 8] = [
            (&["pkg/__init__.py", "tests/test_a.py"], true),
            (&["pkg/__init__.py", "pkg/tests/helpers.py"], true),
            (&["src/pkg/core_test.py"], true),
            (&["conftest.py", "pkg.py"], true),
            (&["six.py", "test_six.py"], true),
            (&["pkg/__init__.py", "pkg/tests.py"], true),
            (&["pkg/__init__.py", "pkg/testing.py", "README.md"], false),
            (&[], false),
        ];
        for (files, want) in cases {
            let tree = SourceTree::from_files(files.iter().copied());
            assert_eq!(has_tests(&tree), want, "{files:?}");
        }
    }

    fn release(wheel: bool, sdist: bool) -> ReleaseMatrix {
        ReleaseMatrix {
            name: "evil\"\n: x-1.0".into(),
            pythons: v(&["3.11", "3.13"]),
            wheels: if wheel {
                wheels(&[
                    ("3.11", "p-1.0-py3-none-any.whl"),
                    ("3.13", "p-1.0-py3-none-any.whl"),
                ])
            } else {
                Vec::new()
            },
            sdist: sdist.then(|| "p-1.0.tar.gz".into()),
            extras: v(&["test"]),
            prepare: v(&["pip install 'x{{y}}'"]),
            test_deps: Vec::new(),
            test: None,
            services: Vec::new(),
            env: Vec::new(),
            timeout: Duration::from_millis(600_500),
        }
    }

    #[test]
    fn the_authors_deps_and_command_are_installed_and_run() {
        let mut r = release(true, false);
        r.test_deps = v(&["hypothesis>=6", "tomli; python_version < \"3.11\""]);
        r.test = Some("python -m pytest tests".into());
        let spec = r.spec(Path::new("/s/ponyswarm.yaml"));
        let install: Vec<&str> = spec.install.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(
            install,
            vec![
                "pip install './.ponyswarm-dist/p-1.0-py3-none-any.whl[test]'",
                "pip install 'hypothesis>=6' 'tomli; python_version < \"3.11\"'",
                "pip install pytest",
            ]
        );
        assert_eq!(
            spec.test.map(|t| t.value).as_deref(),
            Some("python -m pytest tests")
        );
        assert_eq!(deps_command(&[]), None);
    }

    #[test]
    fn a_database_service_and_its_variables_reach_every_job() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("src")).expect("src");
        let mut r = release(true, false);
        r.services = vec![("postgres".into(), "postgres".into())];
        r.env = crate::pypi::django::Database::Postgres.env();
        r.env
            .push(("DJANGO_SETTINGS_MODULE".into(), "tests.settings".into()));
        r.test = Some(crate::pypi::django::command("tests.settings"));
        let spec = r.spec(&dir.path().join("ponyswarm.yaml"));
        let plans = crate::plan::from_spec(spec, &crate::plan::Selection::all())
            .expect("plans")
            .jobs;
        for p in &plans {
            assert_eq!(p.services.len(), 1);
            assert_eq!(p.env["PGHOST"], "postgres");
            assert_eq!(
                p.env["DATABASE_URL"],
                "postgres://pony:pony@postgres:5432/pony"
            );
            assert_eq!(p.env["DJANGO_SETTINGS_MODULE"], "tests.settings");
            assert!(p
                .test
                .command
                .contains("django test --settings=tests.settings"));
        }
    }

    #[test]
    fn the_spec_is_python_times_the_dists_present() {
        let path = Path::new("/s/ponyswarm.yaml");
        let cases = [((true, true), 4), ((true, false), 2), ((false, true), 2)];
        for ((wheel, sdist), want) in cases {
            let spec = release(wheel, sdist).spec(path);
            assert_eq!(spec.name, "evil\"\n: x-1.0");
            assert_eq!(spec.source, Path::new("/s/src"));
            assert_eq!(spec.timeout, Duration::from_secs(600));
            let jobs = crate::matrix::expand(&spec).expect("expands");
            assert_eq!(jobs.len(), want, "wheel {wheel}, sdist {sdist}");
            assert_eq!(jobs[0].python, "3.11");
        }
    }

    #[test]
    fn each_job_installs_its_own_file_and_prepares_through_the_wheel() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("src")).expect("src");
        std::fs::write(dir.path().join("src/test_p.py"), "").expect("test file");
        let spec = release(true, true).spec(&dir.path().join("ponyswarm.yaml"));
        let plans = crate::plan::from_spec(spec, &crate::plan::Selection::all())
            .expect("plans")
            .jobs;
        let installs: Vec<(String, String)> = plans
            .iter()
            .map(|p| (p.job.matrix["dist"].to_string(), p.install[0].clone()))
            .collect();
        assert_eq!(installs.len(), 4);
        for (dist, install) in installs {
            let file = if dist == "sdist" {
                "p-1.0.tar.gz"
            } else {
                "p-1.0-py3-none-any.whl"
            };
            assert_eq!(
                install,
                format!("pip install './.ponyswarm-dist/{file}[test]'")
            );
        }
        for p in &plans {
            // Requires-Dist text is never read as a template.
            assert_eq!(p.prepare, Some(v(&["pip install 'x{{y}}'"])));
            assert_eq!(
                p.install.last().map(String::as_str),
                Some("pip install pytest")
            );
        }
    }
}
