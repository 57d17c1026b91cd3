//! Test detection: which test runner a project uses when the matrix file has no `test:`,
//! what the command is, and why we think so (the report shows the reason).
//!
//! Also the two small decisions that depend on the runner: guessing the runner of a
//! command the user wrote ([`runner_of`]) and asking pytest for JUnit XML ([`with_junit`]).
//!
//! Pure: [`detect`] looks only at a [`SourceTree`]. The single piece of I/O,
//! [`SourceTree::read`], walks the directory once, so the rules can be tested over trees
//! written as lists of paths.

use crate::skipped_dirs::{is_skipped, Walk};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// At most this many file paths are collected; a tree bigger than that is still detected
/// from what was seen (test layouts show up near the top long before this).
pub const MAX_FILES: usize = 20_000;

/// Config files bigger than this are not read: real ones are a few KiB, and a huge one
/// would only cost memory.
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// Files whose text the rules read, when they sit at the top of the tree.
const ROOT_CONFIGS: &[&str] = &[
    "pyproject.toml",
    "setup.cfg",
    "tox.ini",
    "pytest.ini",
    "pytest.toml",
    ".pytest.toml",
    "setup.py",
];

/// Entry points whose text is read at the top of the tree or one directory down
/// (Django's own `tests/runtests.py`, an `example/manage.py` next to a reusable app).
const ENTRY_POINTS: &[&str] = &["runtests.py", "manage.py"];

/// The test runner a command belongs to; decides how results are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runner {
    /// pytest: writes JUnit XML when asked, exits 5 when it collects nothing.
    Pytest,
    /// Django's test runner (`manage.py test`, `runtests.py`): unittest-style output.
    Django,
    /// `python -m unittest`: unittest-style output, exits 5 on Python ≥ 3.12 when no tests ran.
    Unittest,
    /// Anything else (tox, nox, make, a script): counts are read from the output if possible.
    #[default]
    Other,
}

/// What detection chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestCommand {
    /// How results will be read.
    pub runner: Runner,
    /// Shell command, run from the top of the source tree.
    pub command: String,
    /// A sentence for the report, e.g. `pytest: [tool.pytest.ini_options] in pyproject.toml`.
    pub reason: String,
}

/// What detection needs to know about a source tree: the relative paths of its files and
/// the text of a few small config files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTree {
    /// Relative, `/`-separated paths, sorted.
    files: Vec<String>,
    /// Relative path → text, for [`ROOT_CONFIGS`] and [`ENTRY_POINTS`].
    texts: BTreeMap<String, String>,
    /// Whether the walk stopped at [`MAX_FILES`].
    truncated: bool,
}

impl SourceTree {
    /// Walks `dir`, collecting file paths (skipping VCS data, virtualenvs, caches and
    /// symlinks) and the text of the config files detection reads.
    ///
    /// Only an unreadable `dir` itself is an error; unreadable subdirectories are skipped,
    /// since detection is a best guess anyway.
    ///
    /// # Errors
    ///
    /// When `dir` cannot be listed.
    pub fn read(dir: &Path) -> io::Result<SourceTree> {
        let mut tree = SourceTree::default();
        let mut pending = vec![String::new()];
        let mut first = true;
        while let Some(rel) = pending.pop() {
            let entries = match std::fs::read_dir(dir.join(&rel)) {
                Ok(entries) => entries,
                Err(e) if first => return Err(e),
                Err(_) => continue,
            };
            first = false;
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                if kind.is_dir() {
                    if !is_skipped(&name, Walk::Detection)
                        && !entry.path().join("pyvenv.cfg").exists()
                    {
                        pending.push(path);
                    }
                } else if kind.is_file() {
                    if tree.files.len() >= MAX_FILES {
                        tree.truncated = true;
                        pending.clear();
                        break;
                    }
                    if wants_text(&path) {
                        if let Some(text) = read_small(&entry.path()) {
                            tree.texts.insert(path.clone(), text);
                        }
                    }
                    tree.files.push(path);
                }
            }
        }
        tree.files.sort();
        Ok(tree)
    }

    /// A tree made of these relative paths, with no file texts; for tests and for callers
    /// that already know the listing.
    pub fn from_files<I, S>(paths: I) -> SourceTree
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut files: Vec<String> = paths.into_iter().map(Into::into).collect();
        files.sort();
        files.dedup();
        SourceTree {
            files,
            ..SourceTree::default()
        }
    }

    /// Adds a file with its text (e.g. `pyproject.toml`).
    pub fn with_text(mut self, path: impl Into<String>, text: impl Into<String>) -> SourceTree {
        let path = path.into();
        if let Err(at) = self.files.binary_search(&path) {
            self.files.insert(at, path.clone());
        }
        self.texts.insert(path, text.into());
        self
    }

    /// The relative paths of the files seen, sorted.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Whether the walk stopped at [`MAX_FILES`] files.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    fn has(&self, path: &str) -> bool {
        self.files
            .binary_search_by(|f| f.as_str().cmp(path))
            .is_ok()
    }

    fn text(&self, path: &str) -> Option<&str> {
        self.texts.get(path).map(String::as_str)
    }
}

fn wants_text(path: &str) -> bool {
    let (dir, name) = split_last(path);
    (dir.is_empty() && ROOT_CONFIGS.contains(&name))
        || (!dir.contains('/') && ENTRY_POINTS.contains(&name))
}

fn read_small(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_CONFIG_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `("a/b", "c.py")` for `"a/b/c.py"`, `("", "c.py")` for `"c.py"`.
fn split_last(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// Chooses the test command for a tree. The first rule that matches wins:
///
/// 1. pytest configured (`pytest.ini`, `pytest.toml`, `[tool.pytest.ini_options]` or
///    `[tool.pytest]` in pyproject.toml, `[tool:pytest]` in setup.cfg, `[pytest]` in
///    tox.ini, a `conftest.py`) → `python -m pytest`;
/// 2. a `runtests.py` (Django's convention for reusable apps) → `python runtests.py`;
/// 3. a Django `manage.py` → `python manage.py test`;
/// 4. a `tests/` or `test/` directory, or `test_*.py` / `*_test.py` files →
///    `python -m pytest` (it also runs unittest-style tests);
/// 5. otherwise `python -m unittest discover -v`.
pub fn detect(tree: &SourceTree) -> TestCommand {
    if let Some(reason) = pytest_config(tree) {
        return pytest(format!("pytest: {reason}"));
    }
    if let Some(found) = entry_point(tree, "runtests.py") {
        // A runtests.py without Django is still the project's way to run its tests.
        let (runner, reason) = if mentions_django(tree.text(found)) {
            (Runner::Django, format!("Django: {found} found"))
        } else {
            (
                Runner::Other,
                format!("{found} found (not Django: counts read from its output)"),
            )
        };
        return TestCommand {
            runner,
            command: format!("python {found}"),
            reason,
        };
    }
    if let Some(found) = entry_point(tree, "manage.py").filter(|f| mentions_django(tree.text(f))) {
        return TestCommand {
            runner: Runner::Django,
            command: format!("python {found} test"),
            reason: format!("Django: {found} found, a Django project"),
        };
    }
    if let Some(reason) = test_layout(tree) {
        let named = unconventional_test_files(tree);
        if named.is_empty() {
            return pytest(format!("pytest: {reason}"));
        }
        let files: Vec<String> = named.iter().map(|f| shell_quote(f)).collect();
        return TestCommand {
            runner: Runner::Pytest,
            command: format!("python -m pytest {}", files.join(" ")),
            reason: format!(
                "pytest: {reason}, named {} (pytest finds only test_*.py and *_test.py \
                 by itself)",
                named.join(", ")
            ),
        };
    }
    TestCommand {
        runner: Runner::Unittest,
        command: "python -m unittest discover -v".to_string(),
        reason: "unittest: no pytest configuration, runtests.py, manage.py, tests/ directory \
                 or test_*.py files found"
            .to_string(),
    }
}

fn pytest(reason: String) -> TestCommand {
    TestCommand {
        runner: Runner::Pytest,
        command: "python -m pytest".to_string(),
        reason,
    }
}

/// Whether the tree configures pytest (rule 1 of [`detect`]): a Django app that does
/// is run through pytest(-django), as its author does.
pub fn pytest_configured(tree: &SourceTree) -> bool {
    pytest_config(tree).is_some()
}

/// Why we think pytest is configured, if it is.
fn pytest_config(tree: &SourceTree) -> Option<String> {
    for file in ["pytest.ini", "pytest.toml", ".pytest.toml"] {
        if tree.has(file) {
            return Some(format!("{file} at the top of the tree"));
        }
    }
    // Each config file, and the sections that make pytest read it.
    let sections: &[(&str, &[&str])] = &[
        (
            "pyproject.toml",
            &["tool.pytest.ini_options", "tool.pytest"],
        ),
        ("setup.cfg", &["tool:pytest"]),
        ("tox.ini", &["pytest"]),
    ];
    for (file, names) in sections {
        let Some(text) = tree.text(file) else {
            continue;
        };
        if let Some(name) = names.iter().find(|name| has_section(text, name)) {
            return Some(format!("[{name}] in {file}"));
        }
    }
    // The shallowest conftest.py: the one a reader would look at first.
    tree.files
        .iter()
        .filter(|f| split_last(f).1 == "conftest.py")
        .min_by_key(|f| (f.matches('/').count(), f.as_str()))
        .map(|f| format!("{f} found"))
}

/// Whether an INI or TOML text has a `[name]` section header (spaces inside the brackets
/// and trailing comments allowed).
fn has_section(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        let line = line.split(['#', ';']).next().unwrap_or("").trim();
        line.strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|inner| inner.trim() == name)
    })
}

/// `name` at the top of the tree, else one directory down (shortest path first).
fn entry_point<'t>(tree: &'t SourceTree, name: &str) -> Option<&'t str> {
    tree.files
        .iter()
        .filter(|f| {
            let (dir, file) = split_last(f);
            file == name && !dir.contains('/')
        })
        // The top-level one is the shortest.
        .min_by_key(|f| f.len())
        .map(String::as_str)
}

/// A `manage.py` from Flask-Script or similar has no `test` command; Django's always
/// mentions Django. An unread text (too big, unreadable) counts as Django: the name is
/// Django's convention.
fn mentions_django(text: Option<&str>) -> bool {
    text.is_none_or(|t| t.contains("django") || t.contains("DJANGO"))
}

/// Why we think the tree has pytest-style tests, if it has.
fn test_layout(tree: &SourceTree) -> Option<String> {
    let is_test_dir = |dir: &str| dir.split('/').any(|part| part == "tests" || part == "test");
    if let Some(file) = tree
        .files
        .iter()
        .find(|f| f.ends_with(".py") && is_test_dir(split_last(f).0))
    {
        let dir = test_dir_of(file);
        return Some(format!("a {dir}/ directory with Python files"));
    }
    tree.files
        .iter()
        .find(|f| {
            let name = split_last(f).1;
            (name.starts_with("test_") && name.ends_with(".py")) || name.ends_with("_test.py")
        })
        .map(|f| format!("test files such as {f}"))
}

/// Test modules named `test.py` or `tests.py` inside a `tests`/`test` directory, when
/// the tree has no file pytest collects by its default names (`test_*.py`,
/// `*_test.py`): unittest-style suites often run as `python tests/test.py`, and pytest
/// given the file runs it; left to find tests by itself it finds none.
fn unconventional_test_files(tree: &SourceTree) -> Vec<&str> {
    let conventional = |name: &str| {
        (name.starts_with("test_") && name.ends_with(".py")) || name.ends_with("_test.py")
    };
    if tree.files.iter().any(|f| conventional(split_last(f).1)) {
        return Vec::new();
    }
    let in_test_dir = |dir: &str| dir.split('/').any(|part| part == "tests" || part == "test");
    tree.files
        .iter()
        .filter(|f| {
            let (dir, name) = split_last(f);
            matches!(name, "test.py" | "tests.py") && in_test_dir(dir)
        })
        .map(String::as_str)
        .collect()
}

/// The leading part of `file` up to and including its first `tests`/`test` component.
fn test_dir_of(file: &str) -> &str {
    let mut end = 0;
    for part in file.split('/') {
        end += part.len();
        if part == "tests" || part == "test" {
            return &file[..end];
        }
        end += 1;
    }
    file
}

/// Guesses the runner of a command the user wrote in `test:`.
///
/// tox and nox count as [`Runner::Other`]: they run whatever their config says, and
/// extra arguments go to tox itself, so no `--junitxml` can be added; counts then come
/// from the output.
pub fn runner_of(command: &str) -> Runner {
    let words: Vec<&str> = command
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')'))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches(['"', '\'']))
        .collect();
    let base = |w: &str| split_last(w).1.to_string();
    let module_after_m = |name: &str| words.windows(2).any(|p| p[0] == "-m" && p[1] == name);
    if words
        .first()
        .is_some_and(|w| matches!(base(w).as_str(), "tox" | "nox"))
    {
        return Runner::Other;
    }
    if words
        .iter()
        .any(|w| matches!(base(w).as_str(), "pytest" | "py.test"))
        || module_after_m("pytest")
    {
        return Runner::Pytest;
    }
    let django_test = words.windows(2).any(|p| {
        matches!(
            base(p[0]).as_str(),
            "manage.py" | "django-admin" | "django-admin.py"
        ) && p[1] == "test"
    });
    if django_test || words.iter().any(|w| base(w) == "runtests.py") {
        return Runner::Django;
    }
    if module_after_m("unittest") {
        return Runner::Unittest;
    }
    Runner::Other
}

/// The command with what ponyswarm needs added for `runner`: for pytest, JUnit XML at
/// `junit_path` in the xunit2 family and no cache directory (it would show as a change
/// to the work tree). Other runners are returned unchanged.
///
/// The options go at the end of the part of the command that runs pytest, so
/// `cd src && pytest -x; echo done` becomes `cd src && pytest -x --junitxml=…; echo done`.
/// A `--junitxml` the user gave is overridden: pytest keeps the last one.
pub fn with_junit(command: &str, runner: Runner, junit_path: &str) -> String {
    if runner != Runner::Pytest {
        return command.to_string();
    }
    let extra = format!(
        " --junitxml={} -o junit_family=xunit2 -p no:cacheprovider",
        shell_quote(junit_path)
    );
    let end = segments(command)
        .into_iter()
        .rfind(|&(start, end)| runner_of(&command[start..end]) == Runner::Pytest)
        .map_or(command.len(), |(_, end)| end);
    let head = command[..end].trim_end();
    let gap = &command[head.len()..end];
    format!("{head}{extra}{gap}{}", &command[end..])
}

/// Byte ranges of the simple commands in a shell command, split at newlines, `;`, `&&`,
/// `||`, `|` and `&` outside quotes, comments left out. Good enough for the few lines of
/// a `test:`; not a shell parser.
fn segments(command: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut quote = None;
    let mut start = 0;
    let bytes = command.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) => {
                // A comment runs to the end of its line and belongs to no command.
                out.push((start, i));
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                start = i;
                continue;
            }
            // `2>&1`, `&>out` and `<&3` are redirections, not separators.
            None if b == b'&'
                && ((i > 0 && matches!(bytes[i - 1], b'>' | b'<'))
                    || bytes.get(i + 1) == Some(&b'>')) => {}
            None if matches!(b, b'\n' | b';' | b'&' | b'|') => {
                out.push((start, i));
                // `&&` and `||` are one separator.
                if bytes.get(i + 1) == Some(&b) {
                    i += 1;
                }
                start = i + 1;
            }
            None => {}
        }
        i += 1;
    }
    out.push((start, bytes.len()));
    out
}

/// Single-quotes `s` for sh unless it is made only of safe characters.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> SourceTree {
        SourceTree::from_files(files.iter().copied())
    }

    #[test]
    fn detection_rules_in_order() {
        let cases: Vec<(&str, SourceTree, Runner, &str, &str)> = vec![
            (
                "pyproject ini_options",
                tree(&["src/pkg/__init__.py", "tests/test_a.py"]).with_text(
                    "pyproject.toml",
                    "[project]\nname='x'\n\n[tool.pytest.ini_options]\naddopts='-q'\n",
                ),
                Runner::Pytest,
                "python -m pytest",
                "pytest: [tool.pytest.ini_options] in pyproject.toml",
            ),
            (
                "pyproject native table, spaced brackets",
                tree(&[]).with_text("pyproject.toml", "[ tool.pytest ]  # pytest 9\n"),
                Runner::Pytest,
                "python -m pytest",
                "pytest: [tool.pytest] in pyproject.toml",
            ),
            (
                "pytest.ini beats runtests.py",
                tree(&["pytest.ini", "runtests.py"]),
                Runner::Pytest,
                "python -m pytest",
                "pytest: pytest.ini at the top of the tree",
            ),
            (
                "setup.cfg",
                tree(&["runtests.py"])
                    .with_text("setup.cfg", "[metadata]\nname = x\n[tool:pytest]\n"),
                Runner::Pytest,
                "python -m pytest",
                "pytest: [tool:pytest] in setup.cfg",
            ),
            (
                "tox.ini pytest section",
                tree(&[]).with_text(
                    "tox.ini",
                    "[tox]\nenvlist = py311\n\n[pytest]\nnorecursedirs = x\n",
                ),
                Runner::Pytest,
                "python -m pytest",
                "pytest: [pytest] in tox.ini",
            ),
            (
                "shallowest conftest",
                tree(&[
                    "src/pkg/tests/conftest.py",
                    "tests/conftest.py",
                    "manage.py",
                ]),
                Runner::Pytest,
                "python -m pytest",
                "pytest: tests/conftest.py found",
            ),
            (
                "runtests.py of a Django app",
                tree(&["myapp/models.py", "myapp/tests.py"])
                    .with_text(
                        "runtests.py",
                        "import django\nfrom django.conf import settings\n",
                    )
                    .with_text(
                        "tox.ini",
                        "[tox]\n[testenv]\ncommands = python runtests.py\n",
                    ),
                Runner::Django,
                "python runtests.py",
                "Django: runtests.py found",
            ),
            (
                "Django's own tests/runtests.py",
                tree(&["django/__init__.py"]).with_text("tests/runtests.py", "import django\n"),
                Runner::Django,
                "python tests/runtests.py",
                "Django: tests/runtests.py found",
            ),
            (
                "runtests.py without Django",
                tree(&[]).with_text("runtests.py", "import sys\nsys.exit(0)\n"),
                Runner::Other,
                "python runtests.py",
                "runtests.py found (not Django: counts read from its output)",
            ),
            (
                "manage.py",
                tree(&["blog/tests.py"]).with_text(
                    "manage.py",
                    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'x')\n",
                ),
                Runner::Django,
                "python manage.py test",
                "Django: manage.py found, a Django project",
            ),
            (
                "manage.py one level down",
                tree(&["polls/tests.py"]).with_text("example/manage.py", "import django\n"),
                Runner::Django,
                "python example/manage.py test",
                "Django: example/manage.py found, a Django project",
            ),
            (
                "Flask-Script manage.py is not Django",
                tree(&["app/__init__.py", "tests/test_app.py"])
                    .with_text("manage.py", "from flask_script import Manager\n"),
                Runner::Pytest,
                "python -m pytest",
                "pytest: a tests/ directory with Python files",
            ),
            (
                "nested tests dir",
                tree(&["setup.py", "src/pkg/__init__.py", "src/pkg/test/test_x.py"]),
                Runner::Pytest,
                "python -m pytest",
                "pytest: a src/pkg/test/ directory with Python files",
            ),
            (
                "loose test files",
                tree(&["pkg/__init__.py", "pkg/util_test.py"]),
                Runner::Pytest,
                "python -m pytest",
                "pytest: test files such as pkg/util_test.py",
            ),
            (
                "a unittest suite in tests/test.py: named, or pytest finds nothing",
                tree(&[
                    "setup.py",
                    "src/decorator.py",
                    "src/tests/__init__.py",
                    "src/tests/documentation.py",
                    "src/tests/test.py",
                ]),
                Runner::Pytest,
                "python -m pytest src/tests/test.py",
                "pytest: a src/tests/ directory with Python files, named src/tests/test.py \
                 (pytest finds only test_*.py and *_test.py by itself)",
            ),
            (
                "tests/test.py beside conventional names: pytest finds those",
                tree(&["pkg/__init__.py", "tests/test.py", "tests/test_more.py"]),
                Runner::Pytest,
                "python -m pytest",
                "pytest: a tests/ directory with Python files",
            ),
            (
                "nothing recognisable",
                tree(&["setup.py", "pkg/__init__.py", "pkg/tests.py", "tests.txt"]),
                Runner::Unittest,
                "python -m unittest discover -v",
                "unittest: no pytest configuration, runtests.py, manage.py, tests/ directory or \
                 test_*.py files found",
            ),
            (
                "pytest mentioned only as a dependency",
                tree(&["pkg/tests.py"]).with_text(
                    "pyproject.toml",
                    "[project.optional-dependencies]\ntest = ['pytest']\n",
                ),
                Runner::Unittest,
                "python -m unittest discover -v",
                "unittest: no pytest configuration, runtests.py, manage.py, tests/ directory or \
                 test_*.py files found",
            ),
        ];
        for (what, tree, runner, command, reason) in cases {
            let got = detect(&tree);
            assert_eq!(
                got,
                TestCommand {
                    runner,
                    command: command.into(),
                    reason: reason.into()
                },
                "{what}"
            );
        }
    }

    #[test]
    fn section_headers_need_their_own_line() {
        let cases = [
            ("[tool:pytest]\n", true),
            ("  [tool:pytest]   ; comment\n", true),
            ("# [tool:pytest]\n", false),
            ("x = \"[tool:pytest]\"\n", false),
            ("[tool:pytest.extra]\n", false),
        ];
        for (text, want) in cases {
            assert_eq!(has_section(text, "tool:pytest"), want, "{text:?}");
        }
    }

    #[test]
    fn runner_of_user_commands() {
        let cases = [
            ("pytest", Runner::Pytest),
            ("py.test -x tests", Runner::Pytest),
            ("python -m pytest -q", Runner::Pytest),
            ("cd src && /venv/bin/pytest", Runner::Pytest),
            ("coverage run -m pytest", Runner::Pytest),
            ("tox -e py311", Runner::Other),
            ("python runtests.py", Runner::Django),
            ("python tests/runtests.py --parallel 1", Runner::Django),
            ("python manage.py test blog", Runner::Django),
            ("django-admin test --settings=x", Runner::Django),
            ("python manage.py migrate", Runner::Other),
            ("python -m unittest discover -s tests", Runner::Unittest),
            ("nose2", Runner::Other),
            ("make test", Runner::Other),
            ("", Runner::Other),
        ];
        for (command, want) in cases {
            assert_eq!(runner_of(command), want, "{command:?}");
        }
    }

    #[test]
    fn junit_options_go_where_pytest_runs() {
        const J: &str = "/out/junit.xml";
        const OPTS: &str = "--junitxml=/out/junit.xml -o junit_family=xunit2 -p no:cacheprovider";
        let cases = [
            (
                "python -m pytest",
                Runner::Pytest,
                format!("python -m pytest {OPTS}"),
            ),
            ("pytest -x  ", Runner::Pytest, format!("pytest -x {OPTS}  ")),
            (
                "cd src && pytest -q; echo done",
                Runner::Pytest,
                format!("cd src && pytest -q {OPTS}; echo done"),
            ),
            (
                "pytest a || pytest b",
                Runner::Pytest,
                format!("pytest a || pytest b {OPTS}"),
            ),
            (
                "pytest -k 'a;b'",
                Runner::Pytest,
                format!("pytest -k 'a;b' {OPTS}"),
            ),
            (
                "pytest 2>&1 | tee log",
                Runner::Pytest,
                format!("pytest 2>&1 {OPTS} | tee log"),
            ),
            (
                "pytest # all of them",
                Runner::Pytest,
                format!("pytest {OPTS} # all of them"),
            ),
            (
                "# pytest later\npytest",
                Runner::Pytest,
                format!("# pytest later\npytest {OPTS}"),
            ),
            (
                "cd src\npytest -q\necho done\n",
                Runner::Pytest,
                format!("cd src\npytest -q {OPTS}\necho done\n"),
            ),
            (
                "pytest -k 'a #b'",
                Runner::Pytest,
                format!("pytest -k 'a #b' {OPTS}"),
            ),
            (
                "python manage.py test",
                Runner::Django,
                "python manage.py test".to_string(),
            ),
            ("tox", Runner::Other, "tox".to_string()),
        ];
        for (command, runner, want) in cases {
            assert_eq!(with_junit(command, runner, J), want, "{command:?}");
        }
    }

    #[test]
    fn junit_path_is_quoted_when_needed() {
        assert_eq!(
            with_junit("pytest", Runner::Pytest, "/tmp/my junit.xml"),
            "pytest --junitxml='/tmp/my junit.xml' -o junit_family=xunit2 -p no:cacheprovider"
        );
    }

    #[test]
    fn read_walks_the_tree_and_skips_noise() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for (path, text) in [
            ("pyproject.toml", "[tool.pytest.ini_options]\n"),
            ("tests/test_a.py", ""),
            ("example/manage.py", "import django\n"),
            ("deep/er/manage.py", "import django\n"),
            (".git/config", ""),
            ("node_modules/x/test_x.py", ""),
            ("env/pyvenv.cfg", ""),
            ("env/lib/test_y.py", ""),
            ("pkg.egg-info/PKG-INFO", ""),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let tree = SourceTree::read(root).expect("read");
        assert_eq!(
            tree.files(),
            [
                "deep/er/manage.py",
                "example/manage.py",
                "pyproject.toml",
                "tests/test_a.py"
            ]
        );
        assert_eq!(tree.text("example/manage.py"), Some("import django\n"));
        assert_eq!(tree.text("deep/er/manage.py"), None);
        assert!(!tree.truncated());
        assert_eq!(
            detect(&tree).reason,
            "pytest: [tool.pytest.ini_options] in pyproject.toml"
        );
    }

    #[test]
    fn read_of_a_missing_dir_is_an_error() {
        assert!(SourceTree::read(Path::new("/nonexistent/ponyswarm/tree")).is_err());
    }
}
