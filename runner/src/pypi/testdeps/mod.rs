//! The author's own test setup, read from the sdist's text, never executed: which
//! dependencies the tests need, and the command the author runs them with.
//!
//! Sources, in this order of trust (the earlier one wins when two name the same
//! project):
//!
//! 1. `[dependency-groups]` of pyproject.toml (PEP 735, `{include-group = …}` followed)
//!    — groups `test`, `tests`, `testing`, else `dev`;
//! 2. the release's extras (`test`, `tests`, `testing`, else `dev`), from its metadata;
//! 3. tox: `deps` and `extras` of the env that matches the Python, from `tox.ini`,
//!    or `[tool.tox]` in pyproject.toml (native or `legacy_tox_ini`);
//! 4. requirements files named for tests (`requirements/test*.txt`, `tests/requirements*.txt`,
//!    `requirements-test*.txt`, `test-requirements.txt`, …), `-r` chains followed
//!    inside the sdist only;
//! 5. hatch (`[tool.hatch.envs.test]`, `hatch-test`), pdm
//!    (`[tool.pdm.dev-dependencies]`), poetry (`[tool.poetry.group.test]`,
//!    `dev-dependencies`; `^`/`~` constraints written as PEP 440);
//! 6. setup.cfg: `tests_require` and `[options.extras_require]`;
//! 7. the pytest plugins the release's pytest configuration needs (`asyncio_mode`,
//!    `--cov` in `addopts`: see [`pytest_plugins`]).
//!
//! The command: tox's `commands` of that env, else hatch's test script, else
//! setup.py's own `test` command when pytest is not configured ([`setup_py`]), else
//! none (the caller detects one).
//!
//! Everything read here is hostile input: a requirement reaches a command line only
//! when [`requirement::check`] accepts it (a name, extras, a version specifier and a
//! marker; no options, URLs or paths), and each one refused leaves a note saying why.
//!
//! Pure: texts in, a [`TestSetup`] out. The caller reads the files ([`WANTED`]).

mod groups;
mod poetry;
mod pytest_plugins;
mod requirement;
mod requirements_txt;
mod setup_py;
mod setupcfg;
mod tox;

pub use requirement::{check as check_requirement, declared_extras, normalized_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Group and extra names that are for the tests, in order of preference; `dev` is
/// only used when none of the others is declared.
const TEST_NAMES: &[&str] = &["test", "tests", "testing"];
/// The fallback group or extra name.
const DEV_NAME: &str = "dev";

/// Whether `path` (relative, `/`-separated) is a file this module reads: the top-level
/// configs and requirements files that may hold test dependencies.
pub fn wanted(path: &str) -> bool {
    WANTED.contains(&path) || requirements_txt::is_requirements_path(path)
}

/// Top-level files read as they are.
pub const WANTED: &[&str] = &[
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
    "pytest.ini",
    "setup.py",
];

/// Where a test dependency came from, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The requirement as pip takes it (`pytest>=7`, `tomli; python_version < "3.11"`).
    pub requirement: String,
    /// Where it was declared, e.g. `[dependency-groups] test in pyproject.toml`.
    pub source: String,
}

/// The author's test command and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorCommand {
    /// A shell command run from the top of the source tree.
    pub command: String,
    /// Where it was read, e.g. `commands of [testenv] in tox.ini (env py311)`.
    pub source: String,
}

/// What the sdist says about running its tests, for one Python.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSetup {
    /// The dependencies to install besides the release, most trusted first, one per
    /// project.
    pub dependencies: Vec<Dependency>,
    /// Extras of the release to install with it (tox `extras`, test extras).
    pub extras: Vec<String>,
    /// The author's command, when one was found and could be used.
    pub command: Option<AuthorCommand>,
    /// Requirements and commands not used, and why.
    pub notes: Vec<String>,
}

/// What [`discover`] reads.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// Relative path → text of the files [`wanted`] names that the sdist has.
    pub texts: &'a BTreeMap<String, String>,
    /// The release's `Requires-Dist`.
    pub requires_dist: &'a [String],
    /// The job's Python as (major, minor), e.g. (3, 11).
    pub python: (u32, u32),
    /// Whether the tree configures pytest ([`crate::detect::pytest_configured`]).
    pub pytest_configured: bool,
}

/// Accumulates dependencies, first declaration of a project wins.
#[derive(Default)]
struct Collector {
    setup: TestSetup,
    seen: Vec<String>,
}

impl Collector {
    /// Adds `requirement` from `source` if it is acceptable and new; a refusal is noted.
    fn add(&mut self, requirement: &str, source: &str) {
        match requirement::check(requirement) {
            Ok(req) => {
                let name = normalized_name(&req);
                if !self.seen.contains(&name) {
                    self.seen.push(name);
                    self.setup.dependencies.push(Dependency {
                        requirement: req,
                        source: source.to_string(),
                    });
                }
            }
            Err(reason) => self.setup.notes.push(format!(
                "not installed: {requirement:?} from {source}: {reason}"
            )),
        }
    }

    fn add_extra(&mut self, extra: &str) {
        if requirement::safe_extra(extra) && !self.setup.extras.iter().any(|e| e == extra) {
            self.setup.extras.push(extra.to_string());
        }
    }

    fn note(&mut self, note: String) {
        self.setup.notes.push(note);
    }
}

/// The names among `declared` to use: those in [`TEST_NAMES`], else `dev`.
fn test_names(declared: &[String]) -> Vec<String> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    let found: Vec<String> = declared
        .iter()
        .filter(|d| TEST_NAMES.contains(&norm(d).as_str()))
        .cloned()
        .collect();
    if !found.is_empty() {
        return found;
    }
    declared
        .iter()
        .filter(|d| norm(d) == DEV_NAME)
        .cloned()
        .collect()
}

/// Reads the sdist's test setup for one Python; see the module doc for the order.
pub fn discover(inputs: &Inputs) -> TestSetup {
    let mut c = Collector::default();
    let text = |p: &str| inputs.texts.get(p).map(String::as_str);
    let pyproject = text("pyproject.toml").and_then(|t| match t.parse::<toml::Table>() {
        Ok(t) => Some(t),
        Err(e) => {
            c.note(format!("pyproject.toml not read: {}", e.message()));
            None
        }
    });
    if let Some(py) = &pyproject {
        groups::dependency_groups(py, &mut c);
    }
    for extra in test_names(&requirement::declared_extras(inputs.requires_dist)) {
        let source = format!("extra [{extra}] of the release");
        for req in requirement::of_extra(inputs.requires_dist, &extra) {
            c.add(&req, &source);
        }
        c.add_extra(&extra);
    }
    let tox_text = text("tox.ini")
        .map(str::to_string)
        .or_else(|| pyproject.as_ref().and_then(tox::legacy_from_pyproject));
    if let Some(t) = tox_text {
        let file = if text("tox.ini").is_some() {
            "tox.ini"
        } else {
            "[tool.tox] legacy_tox_ini in pyproject.toml"
        };
        tox::read(&t, file, inputs.python, inputs.texts, &mut c);
    } else if let Some(py) = &pyproject {
        tox::read_native(py, inputs.python, inputs.texts, &mut c);
    }
    requirements_txt::named_for_tests_files(inputs.texts, &mut c);
    if let Some(py) = &pyproject {
        groups::hatch(py, &mut c);
        groups::pdm(py, &mut c);
        poetry::groups(py, &mut c);
    }
    if let Some(py) = text("setup.py") {
        setup_py::read(py, inputs.pytest_configured, inputs.python, &mut c);
    }
    if let Some(cfg) = text("setup.cfg") {
        setupcfg::read(cfg, &mut c);
    }
    pytest_plugins::read(inputs.texts, pyproject.as_ref(), &mut c);
    c.setup
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(items: &[(&str, &str)]) -> BTreeMap<String, String> {
        items
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    fn reqs(setup: &TestSetup) -> Vec<(&str, &str)> {
        setup
            .dependencies
            .iter()
            .map(|d| (d.requirement.as_str(), d.source.as_str()))
            .collect()
    }

    #[test]
    fn the_more_trusted_source_wins_a_project_named_twice() {
        let t = texts(&[
            (
                "pyproject.toml",
                "[dependency-groups]\ntest = [\"pytest>=8\", \"hypothesis\"]\n",
            ),
            ("requirements-test.txt", "pytest==7.0\nfreezegun\n"),
        ]);
        let rd = vec![
            "pretend; extra == \"tests\"".to_string(),
            "sphinx; extra == \"docs\"".to_string(),
        ];
        let setup = discover(&Inputs {
            texts: &t,
            requires_dist: &rd,
            python: (3, 11),
            pytest_configured: false,
        });
        assert_eq!(
            reqs(&setup),
            vec![
                ("pytest>=8", "[dependency-groups] test in pyproject.toml"),
                ("hypothesis", "[dependency-groups] test in pyproject.toml"),
                ("pretend", "extra [tests] of the release"),
                ("freezegun", "requirements-test.txt"),
            ]
        );
        assert_eq!(setup.extras, vec!["tests".to_string()]);
    }

    #[test]
    fn dev_is_used_only_without_a_test_name() {
        let names = |d: &[&str]| test_names(&d.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(names(&["docs", "dev", "tests"]), vec!["tests".to_string()]);
        assert_eq!(names(&["docs", "dev"]), vec!["dev".to_string()]);
        assert!(names(&["docs"]).is_empty());
    }

    #[test]
    fn nothing_declared_is_an_empty_setup() {
        let t = texts(&[("pyproject.toml", "[project]\nname = \"p\"\n")]);
        let setup = discover(&Inputs {
            texts: &t,
            requires_dist: &[],
            python: (3, 11),
            pytest_configured: false,
        });
        assert_eq!(setup, TestSetup::default());
    }
}
