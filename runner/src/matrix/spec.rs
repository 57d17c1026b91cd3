//! The parsed, validated matrix file: the top-level keys and their defaults.
//!
//! Sections with rules of their own live beside this one: `matrix:` in `matrix_def`,
//! `services:` in `services`, `limits:` in `limits`. Template strings (`env`,
//! `install`, `files`, `test`) are kept with their positions; whether they use only
//! defined variables is `plan`'s check, since only it knows each job's context.

use super::error::{Pos, SpecError};
use super::images::check_python;
use super::limits::Limits;
use super::matrix_def::MatrixDef;
use super::read::{is_null, Map, Reader};
use super::services::{self, ServiceSpec};
use super::value::{Combination, Value};
use super::yaml::{self, Node};
use indexmap::IndexMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Top-level keys, in the order the README documents them.
const KEYS: &[&str] = &[
    "name",
    "source",
    "matrix",
    "python",
    "services",
    "env",
    "files",
    "install",
    "test",
    "timeout",
    "max-parallel",
    "fail-fast",
    "allow-failure",
    "limits",
];

/// Largest matrix file accepted. Real ones are a few KiB; the limit keeps a hostile
/// file (from a webhook or a PyPI sdist) from costing more than milliseconds.
pub const MAX_FILE_BYTES: usize = 256 << 10;

/// Where defaults "are written": the start of the file.
const START: Pos = Pos { line: 1, col: 1 };

/// The Python of a file that names none.
const DEFAULT_PYTHON: &str = "3.11";

/// A job's wall-clock limit when `timeout:` is absent.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A value with the position it was written at, so later stages (template rendering
/// in `plan`) can point back into the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

/// A whole matrix file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The file it was read from.
    pub path: PathBuf,
    /// `name:`; default: the name of the file's directory.
    pub name: String,
    /// `source:` resolved against the file's directory.
    pub source: PathBuf,
    pub matrix: MatrixDef,
    /// `python:`, used when the matrix has no `python` axis. Default `"3.11"`.
    pub python: Spanned<String>,
    pub services: IndexMap<String, ServiceSpec>,
    /// `env:`: name → handlebars template.
    pub env: IndexMap<String, Spanned<String>>,
    /// `files:`: destination (relative to the source tree) → template path (relative to
    /// the matrix file's directory).
    pub files: IndexMap<String, Spanned<String>>,
    /// `install:` commands, handlebars templates.
    pub install: Vec<Spanned<String>>,
    /// What the prepare phase fetches dependencies for, when not `install`: commands
    /// as written, not templates (they may carry text from outside, such as a
    /// release's `Requires-Dist`). Not a key of the matrix file: set by specs built in
    /// code (a PyPI release test fetches through the wheel, so that the sdist's own
    /// code never runs with the network).
    pub prepare: Option<Vec<String>>,
    /// `test:`; `None`: detected from the source tree.
    pub test: Option<Spanned<String>>,
    /// `timeout:` for a whole job. Default 30 minutes.
    pub timeout: Duration,
    /// `max-parallel:`; `None`: the number of CPUs.
    pub max_parallel: Option<usize>,
    /// `fail-fast:`. Default false.
    pub fail_fast: bool,
    /// `allow-failure:`: jobs matching any of these may fail without failing the run.
    pub allow_failure: Vec<Combination>,
    pub limits: Limits,
}

impl Spec {
    /// Parses and validates `text`, the contents of `path`. Besides the format, this
    /// checks that the matrix expands to at least one and at most
    /// [`MAX_JOBS`](super::expand::MAX_JOBS) jobs.
    ///
    /// Touches no file; only a relative `path` without a directory name makes it ask
    /// for the current directory, to find the default `name`.
    pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecError> {
        let r = Reader { file: path };
        if text.len() > MAX_FILE_BYTES {
            return Err(SpecError::whole_file(
                path,
                format!("the file is larger than {} KiB", MAX_FILE_BYTES >> 10),
            ));
        }
        let root = yaml::parse(text)
            .map_err(|e| r.err(e.pos, e.message))?
            .ok_or_else(|| {
                r.err(
                    START,
                    "the file is empty; expected a mapping with at least `matrix:` or `python:`",
                )
            })?;
        let map = root.map().ok_or_else(|| {
            r.err(
                root.pos,
                format!(
                    "a matrix file must be a mapping of keys like `name:` and `matrix:`, found {}",
                    root.describe()
                ),
            )
        })?;
        r.check_keys(map, KEYS)?;
        let spec = read_spec(&r, map)?;
        let jobs = super::expand::combinations(&spec.matrix, path)?.len();
        super::expand::check_selectors(&spec, jobs)?;
        Ok(spec)
    }
}

/// Reads every top-level key into a [`Spec`], defaults for the rest.
fn read_spec(r: &Reader<'_>, map: &Map) -> Result<Spec, SpecError> {
    let get = |key: &str| map.get(key).map(|e| &e.value);
    let dir = match r.file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let matrix = match map.get("matrix") {
        Some(entry) => MatrixDef::parse(r, entry)?,
        None => MatrixDef {
            pos: START,
            ..MatrixDef::default()
        },
    };
    Ok(Spec {
        path: r.file.to_path_buf(),
        name: match get("name") {
            Some(node) => r.string("name", node)?.value,
            None => default_name(&dir),
        },
        source: match get("source") {
            Some(node) => join(&dir, &r.string("source", node)?.value),
            None => dir.clone(),
        },
        python: match get("python") {
            Some(node) => python(r, node)?,
            None => Spanned {
                value: DEFAULT_PYTHON.into(),
                pos: START,
            },
        },
        services: match get("services") {
            Some(node) => services::parse(r, node, &matrix)?,
            None => IndexMap::new(),
        },
        env: match get("env") {
            Some(node) => r.env("env", node)?,
            None => IndexMap::new(),
        },
        files: match get("files") {
            Some(node) => files(r, node)?,
            None => IndexMap::new(),
        },
        install: match get("install") {
            Some(node) => install(r, node)?,
            None => Vec::new(),
        },
        prepare: None,
        test: get("test").map(|node| r.string("test", node)).transpose()?,
        timeout: match get("timeout") {
            Some(node) => r.duration("timeout", node)?,
            None => DEFAULT_TIMEOUT,
        },
        max_parallel: get("max-parallel")
            .map(|node| r.int("max-parallel", node, 1, 10_000).map(|n| n as usize))
            .transpose()?,
        fail_fast: get("fail-fast")
            .map(|node| r.bool("fail-fast", node))
            .transpose()?
            .unwrap_or(false),
        allow_failure: match get("allow-failure") {
            Some(node) => MatrixDef::partial_matches(r, "allow-failure", node, &matrix.keys())?,
            None => Vec::new(),
        },
        limits: match get("limits") {
            Some(node) => Limits::parse(r, node)?,
            None => Limits::default(),
        },
        matrix,
    })
}

/// The name of the matrix file's directory, made absolute when the path has none
/// (`ponyswarm.yaml`, `./ponyswarm.yaml`).
fn default_name(dir: &Path) -> String {
    let named = |d: &Path| d.file_name().map(|n| n.to_string_lossy().into_owned());
    named(dir)
        .or_else(|| std::path::absolute(dir).ok().and_then(|d| named(&d)))
        .unwrap_or_else(|| "ponyswarm".into())
}

/// `dir` joined with `relative`, without `.` components (`source: .` is `dir` itself).
fn join(dir: &Path, relative: &str) -> PathBuf {
    let rest: PathBuf = Path::new(relative)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    dir.join(rest)
}

/// `python:`: a catalog Python or an image reference; an unquoted `3.11` is taken
/// as written, an unquoted `3.10` refused (YAML makes it 3.1).
fn python(r: &Reader<'_>, node: &Node) -> Result<Spanned<String>, SpecError> {
    if let Value::Bool(_) = r.matrix_value("python", node)? {
        return Err(r.expected(node, "python", "a Python version like \"3.11\""));
    }
    // matrix_value accepted a scalar; its text is what the user wrote.
    let text = node.scalar().map(|s| s.text.clone()).unwrap_or_default();
    check_python(r, &text, node.pos)?;
    Ok(Spanned {
        value: text,
        pos: node.pos,
    })
}

/// `install:`: one command or a list of them.
fn install(r: &Reader<'_>, node: &Node) -> Result<Vec<Spanned<String>>, SpecError> {
    match node.seq() {
        Some(items) => items.iter().map(|item| r.string("install", item)).collect(),
        None if node.scalar().is_some() && !is_null(node) => Ok(vec![r.string("install", node)?]),
        None => Err(r.expected(node, "install", "a command or a list of commands")),
    }
}

/// `files:`: destination → template. A destination must stay inside the source tree:
/// it is written there before the install runs.
fn files(r: &Reader<'_>, node: &Node) -> Result<IndexMap<String, Spanned<String>>, SpecError> {
    let map = r.map("files", node)?;
    let mut files = IndexMap::with_capacity(map.len());
    for (dest, entry) in map {
        let parts = Path::new(dest).components();
        let inside = parts.clone().any(|c| matches!(c, Component::Normal(_)))
            && parts
                .into_iter()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            return Err(r.err(
                entry.key_pos,
                format!(
                    "`files` destination `{dest}` must be a relative path inside the source tree"
                ),
            ));
        }
        let template = r.string(&format!("files.{dest}"), &entry.value)?;
        files.insert(dest.clone(), template);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::expand;

    const FILE: &str = "/work/proj/ponyswarm.yaml";

    fn parse(text: &str) -> Result<Spec, String> {
        Spec::parse(Path::new(FILE), text).map_err(|e| e.to_string())
    }

    /// The example of the issue that fixed the format.
    const EXAMPLE: &str = r#"name: django-pony              # shown in reports and status contexts
source: .                      # project directory, relative to this file
matrix:
  python: ["3.9", "3.11", "3.13", "pypy3"]
  django: ["4.2", "5.1"]
  database: [sqlite, postgres, mariadb]
  exclude:
    - {python: "3.9", django: "5.1"}
  include:
    - {python: "3.13", django: "5.1", database: postgres, experimental: true}
python: "3.11"
services:
  postgres: {image: postgres, when: {database: postgres}}
  mariadb: {image: mariadb, when: {database: mariadb}}
  redis: {image: redis}
env:
  DB: "{{matrix.database}}"
files:
  tests/settings_ci.py: templates/django-settings.py.hbs
install:
  - pip install "django~={{matrix.django}}.0"
  - pip install -e .[test]
test: python -m pytest -q
timeout: 15m
max-parallel: 2
fail-fast: false
allow-failure: {experimental: true}
limits: {memory: 1g, cpus: 1.5, pids: 256, no-output-timeout: 5m, log-size: 2m}
"#;

    fn at(line: usize, col: usize) -> Pos {
        Pos { line, col }
    }

    #[test]
    fn the_issue_example_parses() {
        let spec = parse(EXAMPLE).unwrap();
        assert_eq!(spec.name, "django-pony");
        assert_eq!(spec.source, PathBuf::from("/work/proj"));
        let axes: Vec<_> = spec.matrix.axis_names().collect();
        assert_eq!(axes, ["python", "django", "database"]);
        assert_eq!(spec.matrix.pos, at(3, 1));
        assert_eq!(spec.python.value, "3.11");
        assert_eq!(spec.services["postgres"].image.value, "postgres");
        assert_eq!(spec.services["redis"].when, Vec::<Combination>::new());
        assert_eq!(spec.env["DB"].value, "{{matrix.database}}");
        assert_eq!(spec.env["DB"].pos, at(17, 7));
        assert_eq!(
            spec.files["tests/settings_ci.py"].value,
            "templates/django-settings.py.hbs"
        );
        let install: Vec<_> = spec
            .install
            .iter()
            .map(|s| (s.value.as_str(), s.pos))
            .collect();
        assert_eq!(
            install,
            [
                (r#"pip install "django~={{matrix.django}}.0""#, at(21, 5)),
                ("pip install -e .[test]", at(22, 5)),
            ]
        );
        assert_eq!(spec.test.as_ref().unwrap().value, "python -m pytest -q");
        assert_eq!(spec.timeout, Duration::from_secs(900));
        assert_eq!(spec.max_parallel, Some(2));
        assert!(!spec.fail_fast);
        assert_eq!(spec.allow_failure.len(), 1);
        assert_eq!(
            spec.limits,
            Limits {
                memory: 1 << 30,
                disk: 2 << 30,
                cpus: 1.5,
                pids: 256,
                no_output_timeout: Duration::from_secs(300),
                log_size: 2 << 20,
                wheelhouse: 2 << 30,
            }
        );

        let jobs = expand(&spec).unwrap();
        // 4 × 2 × 3 = 24, minus the 3 of python 3.9 with django 5.1.
        assert_eq!(jobs.len(), 21);
        let experimental: Vec<_> = jobs.iter().filter(|j| j.allow_failure).collect();
        assert_eq!(experimental.len(), 1);
        assert_eq!(
            experimental[0].name,
            "django-pony (3.13, 5.1, postgres, true)"
        );
        assert_eq!(experimental[0].services, ["postgres", "redis"]);
        let sqlite = jobs
            .iter()
            .find(|j| j.name == "django-pony (3.9, 4.2, sqlite)")
            .unwrap();
        assert_eq!(sqlite.services, ["redis"]);
        assert_eq!(sqlite.python, "3.9");
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let spec = parse("matrix:\n  os: [a, b]\n  size: [1, 2]\n").unwrap();
        assert_eq!(spec.name, "proj");
        assert_eq!(spec.source, PathBuf::from("/work/proj"));
        assert_eq!(
            spec.python,
            Spanned {
                value: "3.11".into(),
                pos: at(1, 1)
            }
        );
        assert_eq!(spec.timeout, Duration::from_secs(30 * 60));
        assert_eq!(spec.max_parallel, None);
        assert!(!spec.fail_fast);
        assert_eq!(spec.limits, Limits::default());
        assert!(spec.services.is_empty() && spec.env.is_empty() && spec.install.is_empty());
        assert_eq!(spec.test, None);
        let jobs = expand(&spec).unwrap();
        let names: Vec<_> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            names,
            ["proj (a, 1)", "proj (a, 2)", "proj (b, 1)", "proj (b, 2)"]
        );
        assert!(jobs.iter().all(|j| j.python == "3.11"));
    }

    #[test]
    fn a_file_without_matrix_is_one_job() {
        let spec = parse("python: pypy3\ninstall: pip install -e .\n").unwrap();
        assert_eq!(spec.install.len(), 1);
        let jobs = expand(&spec).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].name, "proj");
        assert_eq!(jobs[0].python, "pypy3");
        assert!(jobs[0].matrix.is_empty());
    }

    #[test]
    fn source_resolves_against_the_file() {
        let cases = [
            ("/work/proj/ponyswarm.yaml", "source: .", "/work/proj"),
            (
                "/work/proj/ponyswarm.yaml",
                "source: ../lib",
                "/work/proj/../lib",
            ),
            (
                "/work/proj/ci/ponyswarm.yaml",
                "source: ./src",
                "/work/proj/ci/src",
            ),
            (
                "/work/proj/ponyswarm.yaml",
                "source: /elsewhere",
                "/elsewhere",
            ),
            ("ponyswarm.yaml", "source: .", "."),
            ("ponyswarm.yaml", "python: \"3.9\"", "."),
        ];
        for (file, text, source) in cases {
            let spec = Spec::parse(Path::new(file), text).unwrap();
            assert_eq!(spec.source, PathBuf::from(source), "{file} {text}");
        }
        // A bare file name still gets a name: its directory's, found from the
        // current directory.
        let spec = Spec::parse(Path::new("ponyswarm.yaml"), "python: \"3.9\"").unwrap();
        assert!(!spec.name.is_empty());
    }

    #[test]
    fn yaml_types_are_kept_in_jobs_and_json() {
        let spec =
            parse("matrix:\n  python: [\"3.11\", 3.13]\n  django: [12]\n  fast: [true]\n").unwrap();
        let jobs = expand(&spec).unwrap();
        assert_eq!(jobs[0].matrix["python"], Value::Str("3.11".into()));
        assert_eq!(jobs[1].matrix["python"], Value::Float(3.13));
        assert_eq!(jobs[1].python, "3.13");
        assert_eq!(jobs[0].matrix["django"], Value::Int(12));
        assert_eq!(
            serde_json::to_string(&jobs[1].matrix).unwrap(),
            r#"{"python":3.13,"django":12,"fast":true}"#
        );
        let json = serde_json::to_value(&jobs[0]).unwrap();
        assert_eq!(json["name"], "proj (3.11, 12, true)");
        assert_eq!(json["matrix"]["python"], "3.11");
        assert_eq!(json["matrix"]["django"], 12);
    }

    #[test]
    fn unquoted_versions_that_survive_yaml_are_accepted() {
        let spec = parse("python: 3.11\nmatrix:\n  python: [3.9, 3.13]\n").unwrap();
        assert_eq!(spec.python.value, "3.11");
        let pythons: Vec<_> = expand(&spec)
            .unwrap()
            .into_iter()
            .map(|j| j.python)
            .collect();
        assert_eq!(pythons, ["3.9", "3.13"]);
    }

    #[test]
    fn include_may_add_keys_and_allow_failure_may_use_them() {
        let text = "matrix:\n  python: [\"3.11\"]\n  include:\n    - {python: \"3.13\", experimental: true}\nallow-failure: [{experimental: true}]\n";
        let jobs = expand(&parse(text).unwrap()).unwrap();
        let flags: Vec<_> = jobs
            .iter()
            .map(|j| (j.name.as_str(), j.allow_failure))
            .collect();
        assert_eq!(flags, [("proj (3.11)", false), ("proj (3.13, true)", true)]);
    }

    #[test]
    fn service_when_takes_a_list_and_catalog_names_need_no_image() {
        let text = "matrix:\n  db: [a, b, c]\nservices:\n  redis:\n  postgres: {when: [{db: a}, {db: b}]}\n  cache: {image: \"ghcr.io/x/cache:1\", port: 7000, env: {MODE: fast, SIZE: 12}}\n";
        let spec = parse(text).unwrap();
        assert_eq!(spec.services["redis"].image.value, "redis");
        assert_eq!(spec.services["cache"].port, Some(7000));
        assert_eq!(spec.services["cache"].env["SIZE"], "12");
        let services: Vec<_> = expand(&spec)
            .unwrap()
            .into_iter()
            .map(|j| j.services.join("+"))
            .collect();
        assert_eq!(
            services,
            [
                "redis+postgres+cache",
                "redis+postgres+cache",
                "redis+cache"
            ]
        );
    }

    /// Every error a user can meet, with its exact message and position.
    #[test]
    fn errors_name_the_place_and_what_was_expected() {
        let cases: &[(&str, &str)] = &[
            // The file as a whole.
            ("", "1:1: the file is empty; expected a mapping with at least `matrix:` or `python:`"),
            ("# nothing\n", "1:1: the file is empty; expected a mapping with at least `matrix:` or `python:`"),
            ("- a\n", "1:1: a matrix file must be a mapping of keys like `name:` and `matrix:`, found a list"),
            ("matrix:\n  a: [1\n", "3:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'"),
            ("name: a\nname: b\n", "2:1: duplicate key `name` (first written at line 1, column 1)"),
            // Unknown keys, at every level.
            ("servics:\n  redis:\n", "1:1: unknown key `servics`; did you mean `services`?"),
            ("max_parallel: 2\n", "1:1: unknown key `max_parallel`; did you mean `max-parallel`?"),
            (
                "colour: red\n",
                "1:1: unknown key `colour`; expected one of `name`, `source`, `matrix`, `python`, \
                 `services`, `env`, `files`, `install`, `test`, `timeout`, `max-parallel`, \
                 `fail-fast`, `allow-failure`, `limits`",
            ),
            ("services:\n  postgres: {imgae: postgres}\n", "2:14: unknown key `imgae`; did you mean `image`?"),
            ("limits:\n  memroy: 2g\n", "2:3: unknown key `memroy`; did you mean `memory`?"),
            // Wrong types.
            ("timeout: [15m]\n", "1:10: `timeout` must be a duration like 15m or 1h30m, found a list"),
            ("timeout: 15 minutes\n", "1:10: `timeout` must be a duration like 15m or 1h30m, found `15 minutes`"),
            ("timeout: 0s\n", "1:10: `timeout` must be longer than 0s"),
            ("timeout:\n", "1:8: `timeout` must be a duration like 15m or 1h30m, found nothing"),
            ("name: [a]\n", "1:7: `name` must be a string, found a list"),
            ("name: \"\"\n", "1:7: `name` must not be empty"),
            ("fail-fast: yes\n", "1:12: `fail-fast` must be true or false, found `yes`"),
            ("max-parallel: 0\n", "1:15: `max-parallel` must be a whole number from 1 to 10000, found `0`"),
            ("install: {a: b}\n", "1:10: `install` must be a command or a list of commands, found a mapping"),
            ("install:\n", "1:8: `install` must be a command or a list of commands, found nothing"),
            ("python: 1e3\n", "1:9: unknown Python `1e3`; expected one of `3.9`, `3.10`, `3.11`, `3.12`, `3.13`, `3.14`, `3.15`, `pypy3` or an image reference like `python:3.12`"),
            ("install: [[a]]\n", "1:11: `install` must be a string, found a list"),
            ("test: true\n", "1:7: `test` must be a string, found `true`"),
            ("env: [A]\n", "1:6: `env` must be a mapping, found a list"),
            ("env:\n  A:\n", "2:4: `env.A` must be a string, found nothing"),
            ("env:\n  MY-VAR: x\n", "2:3: `env` name `MY-VAR` must be letters, digits and `_`, not starting with a digit"),
            ("files:\n  ../escape.py: t.hbs\n", "2:3: `files` destination `../escape.py` must be a relative path inside the source tree"),
            ("files:\n  /etc/x: t.hbs\n", "2:3: `files` destination `/etc/x` must be a relative path inside the source tree"),
            ("limits:\n  memory: 2x\n", "2:11: `limits.memory` must be a size like 2g or 512m, found `2x`"),
            ("limits:\n  memory: 1m\n", "2:11: `limits.memory` must be at least 6m"),
            ("limits:\n  cpus: 0\n", "2:9: `limits.cpus` must be a number from 0.01 to 1024, found `0`"),
            ("limits:\n  pids: -1\n", "2:9: `limits.pids` must be a whole number from 1 to 1000000, found `-1`"),
            ("limits:\n  no-output-timeout: soon\n", "2:22: `limits.no-output-timeout` must be a duration like 15m or 1h30m, found `soon`"),
            ("limits: 2g\n", "1:9: `limits` must be a mapping, found `2g`"),
            // The matrix.
            ("matrix: [1]\n", "1:9: `matrix` must be a mapping of axes like `python: [\"3.9\", \"3.11\"]`, found a list"),
            ("matrix:\n  a: []\n", "2:6: axis `a` has no values"),
            ("matrix:\n  a: 1\n", "2:6: `matrix.a` must be a list of values like `[\"a\", \"b\"]`, found `1`"),
            ("matrix:\n  a: [{x: 1}]\n", "2:7: `matrix.a` must be a string, number or boolean, found a mapping"),
            ("matrix:\n  a: [~]\n", "2:7: `matrix.a` must be a string, number or boolean, found nothing"),
            ("matrix:\n  a: [.inf]\n", "2:7: `matrix.a` must be a string or a finite number, found `.inf`"),
            ("matrix:\n  exclude: {a: 1}\n", "2:12: `matrix.exclude` must be a list, found a mapping"),
            ("matrix:\n  include: [{}]\n", "2:13: `matrix.include` entry must name at least one key"),
            ("matrix:\n  include: [x]\n", "2:13: `matrix.include` must be a mapping, found `x`"),
            (
                "matrix:\n  python: [\"3.9\"]\n  exclude:\n    - {pyton: \"3.9\"}\n",
                "4:8: exclude key `pyton` is not an axis; did you mean `python`?",
            ),
            (
                "matrix:\n  python: [\"3.9\"]\n  exclude:\n    - {os: linux}\n",
                "4:8: exclude key `os` is not an axis; the axes are `python`",
            ),
            (
                "matrix:\n  python: [\"3.9\"]\n  include:\n    - {pyton: \"3.11\"}\n",
                "4:8: include key `pyton` is not an axis; did you mean `python`? (include may add \
                 new keys, but this one looks like a typo)",
            ),
            (
                "matrix:\n  a: [1]\n  exclude:\n    - {a: 1}\n",
                "1:1: the matrix expands to no jobs: every combination is excluded",
            ),
            (
                "name: x\nmatrix:\n  a: [1, 2]\n  exclude:\n    - {a: 1}\n    - {a: \"2\"}\n",
                "2:1: the matrix expands to no jobs: every combination is excluded",
            ),
            // Pythons and the YAML float trap.
            ("python: \"3.8\"\n", "1:9: unknown Python `3.8`; expected one of `3.9`, `3.10`, `3.11`, `3.12`, `3.13`, `3.14`, `3.15`, `pypy3` or an image reference like `python:3.12`"),
            ("python: 3.10\n", "1:9: `3.10` is read by YAML as the number 3.1; quote versions: \"3.10\""),
            ("python: true\n", "1:9: `python` must be a Python version like \"3.11\", found `true`"),
            ("matrix:\n  python: [3.9, 3.10]\n", "2:17: `3.10` is read by YAML as the number 3.1; quote versions: \"3.10\""),
            ("matrix:\n  django: [\"4.2\", 4.10]\n", "2:19: `4.10` is read by YAML as the number 4.1; quote versions: \"4.10\""),
            ("matrix:\n  python: [\"3.9\", pypy]\n", "2:19: unknown Python `pypy`; expected one of `3.9`, `3.10`, `3.11`, `3.12`, `3.13`, `3.14`, `3.15`, `pypy3` or an image reference like `python:3.12`"),
            (
                "matrix:\n  include:\n    - {python: \"2.7\"}\n",
                "3:16: unknown Python `2.7`; expected one of `3.9`, `3.10`, `3.11`, `3.12`, `3.13`, `3.14`, `3.15`, `pypy3` or an image reference like `python:3.12`",
            ),
            // Services.
            ("services:\n  db: {image: postgress}\n", "2:15: unknown service image `postgress`; did you mean `postgres`?"),
            (
                "services:\n  db: {image: mongo}\n",
                "2:15: unknown service image `mongo`; expected a catalog service (`postgres`, `mariadb`, `redis`) or an image reference like `mongo:latest`",
            ),
            ("services:\n  cache:\n", "2:3: service `cache` needs an `image:` (a catalog service or an image reference)"),
            (
                "services:\n  search: {image: \"elasticsearch:8\"}\n",
                "2:19: ponyswarm doesn't know which port `elasticsearch:8` listens on; add `port:` to service `search`",
            ),
            ("services:\n  x: {image: \"a/b:1\", port: 70000}\n", "2:29: `services.x.port` must be a whole number from 1 to 65535, found `70000`"),
            ("services:\n  my-db: {image: postgres}\n", "2:3: service name `my-db` must be letters, digits and `_`, starting with a letter (it becomes a host name and the prefix of NAME_HOST)"),
            (
                "matrix:\n  database: [postgres]\nservices:\n  postgres: {image: postgres, when: {databse: postgres}}\n",
                "4:38: `services.postgres.when` key `databse` is neither an axis nor a key that `include` adds; did you mean `database`?",
            ),
            ("services:\n  postgres: {when: x}\n", "2:20: `services.postgres.when` must be a mapping of matrix keys to values, or a list of them, found `x`"),
            (
                "matrix:\n  a: [1]\nallow-failure: {experimental: true}\n",
                "3:17: `allow-failure` key `experimental` is neither an axis nor a key that `include` adds",
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(text, want)| {
                let got = parse(text)
                    .map(|_| "no error".to_string())
                    .unwrap_or_else(|e| e);
                let want = format!("{FILE}:{want}");
                (got != want).then(|| format!("{text:?}\n  got:  {got}\n  want: {want}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// The fuzzer starts from these; they must stay valid files.
    #[test]
    fn fuzz_seeds_parse_and_expand() {
        let seeds = [
            include_str!("../../fuzz/seeds/issue-example.yaml"),
            include_str!("../../fuzz/seeds/github-include.yaml"),
            include_str!("../../fuzz/seeds/github-exclude.yaml"),
            include_str!("../../fuzz/seeds/anchors.yaml"),
            include_str!("../../fuzz/seeds/include-only.yaml"),
        ];
        for seed in seeds {
            let spec = parse(seed).unwrap_or_else(|e| panic!("{e}\n{seed}"));
            assert!(!expand(&spec).unwrap().is_empty());
        }
    }

    #[test]
    fn oversized_matrices_are_refused() {
        let values: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let list = values.join(", ");
        let text = format!("matrix:\n  a: [{list}]\n  b: [{list}]\n");
        assert_eq!(
            parse(&text).unwrap_err(),
            format!("{FILE}:1:1: the matrix has more than 10000 combinations (101 × 101); split it or narrow the axes")
        );
        let axes: String = (0..65).map(|i| format!("  a{i}: [v]\n")).collect();
        assert_eq!(
            parse(&format!("matrix:\n{axes}")).unwrap_err(),
            format!("{FILE}:66:3: the matrix has more than 64 axes")
        );
        let services: String = (0..33)
            .map(|i| format!("  s{i}: {{image: redis}}\n"))
            .collect();
        assert_eq!(
            parse(&format!("services:\n{services}")).unwrap_err(),
            format!(
                "{FILE}:34:3: service `s32` is one too many: a file may define at most 32 services"
            )
        );
        let huge = format!("name: {}\n", "x".repeat(MAX_FILE_BYTES));
        assert_eq!(
            parse(&huge).unwrap_err(),
            format!("{FILE}: the file is larger than 256 KiB")
        );
        let long = "x".repeat(300);
        assert_eq!(
            parse(&format!("matrix:\n  a: [{long}]\n")).unwrap_err(),
            format!("{FILE}:2:7: `matrix.a` values must be at most 256 characters long")
        );
    }
}
