//! setup.py: the author's own `test` command. A setup.py that defines a setuptools
//! `Command` subclass and registers it as `cmdclass['test']` says how its author runs
//! the tests: `python setup.py test` (PyYAML 6.0.1: its tox.ini, which the sdist does
//! not ship, runs exactly that, and the command runs the home-made runner its tests
//! are written for, which pytest cannot collect).
//!
//! Read as text, never run on the host; the job runs it offline like any test
//! command. Used only when nothing more explicit names a command (tox, hatch) and
//! pytest is not configured: a configured pytest runs the same tests with their
//! results read one by one, where `setup.py test` gives only its exit status and
//! output. A class that extends anything but `Command` is not used: setuptools' own
//! `test` command, which most such classes extend, is gone since setuptools 72, and
//! some register it only to refuse (python-dateutil 2.8.2's says "not supported").
//!
//! `python setup.py` needs setuptools, which venvs have before Python 3.12 and not
//! after: from 3.12 on it is added to the test dependencies.
//!
//! Pure.

use super::Collector;
use crate::pypi::pysource::{self, Statement};

/// The command run.
pub const COMMAND: &str = "python setup.py test";

/// A Python identifier, dotted allowed, at the start of `s`.
fn identifier(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(s.len());
    let id = &s[..end];
    (!id.is_empty() && !id.starts_with(|c: char| c.is_ascii_digit())).then_some(id)
}

/// The class a `cmdclass` statement registers as `test`: `{'test': X}`,
/// `cmdclass['test'] = X`, `dict(test=X)`, `cmdclass.update(test=X)`.
fn registered(code: &str) -> Option<&str> {
    if !code.contains("cmdclass") {
        return None;
    }
    for quoted in ["'test'", "\"test\""] {
        for (at, _) in code.match_indices(quoted) {
            let rest = code[at + quoted.len()..].trim_start();
            if let Some(value) = rest.strip_prefix(':') {
                return identifier(value);
            }
            if let Some(value) = rest.strip_prefix(']').map(str::trim_start) {
                if let Some(value) = value.strip_prefix('=').filter(|v| !v.starts_with('=')) {
                    return identifier(value);
                }
            }
        }
    }
    code.match_indices("test").find_map(|(at, _)| {
        let before = code[..at].chars().next_back();
        let keyword = matches!(before, Some('(' | ',' | ' '));
        let rest = code[at + "test".len()..].trim_start();
        let value = rest.strip_prefix('=').filter(|v| !v.starts_with('='))?;
        keyword.then(|| identifier(value)).flatten()
    })
}

/// The bases of `class name(…)` among `statements`, if it is defined there.
fn bases<'a>(statements: &'a [Statement], name: &str) -> Option<Vec<&'a str>> {
    statements.iter().find_map(|s| {
        let rest = s.code.strip_prefix("class ")?;
        let (header, _) = pysource::header(rest);
        let (class, bases) = match header.split_once('(') {
            Some((c, b)) => (c.trim(), b.trim_end_matches(')')),
            None => (header.trim(), ""),
        };
        (class == name).then(|| {
            bases
                .split(',')
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .collect()
        })
    })
}

/// Sets `python setup.py test` as the author's command when `text` (a setup.py)
/// registers a `Command` subclass it defines as `test`; see the module doc for when.
pub fn read(text: &str, pytest_configured: bool, python: (u32, u32), c: &mut Collector) {
    if c.setup.command.is_some() {
        return;
    }
    let statements = pysource::statements(text);
    let Some(class) = statements.iter().find_map(|s| registered(&s.code)) else {
        return;
    };
    let short = class.rsplit('.').next().unwrap_or(class);
    let Some(bases) = bases(&statements, short) else {
        c.note(format!(
            "setup.py's test command {class} is not defined in setup.py: not used"
        ));
        return;
    };
    if !bases
        .iter()
        .any(|b| b.rsplit('.').next() == Some("Command"))
    {
        c.note(format!(
            "setup.py's test command {class} extends {}, not setuptools' Command: not used",
            bases.join(", ")
        ));
        return;
    }
    if pytest_configured {
        c.note(format!(
            "setup.py's test command {class} not used: pytest is configured, and runs the \
             tests with their results read one by one"
        ));
        return;
    }
    if python >= (3, 12) {
        c.add(
            "setuptools",
            "ponyswarm: `python setup.py test` needs setuptools, which venvs of Python 3.12 \
             and later lack",
        );
    }
    c.setup.command = Some(super::AuthorCommand {
        command: COMMAND.to_string(),
        source: format!("the test command of setup.py (class {class})"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command_of(text: &str, pytest: bool, python: (u32, u32)) -> (Option<String>, Collector) {
        let mut c = Collector::default();
        read(text, pytest, python, &mut c);
        (c.setup.command.clone().map(|a| a.command), c)
    }

    #[test]
    fn a_command_subclass_registered_as_test_is_the_authors_command() {
        // PyYAML 6.0.1, abridged.
        let pyyaml = "from setuptools import setup, Command\nclass test(Command):\n    user_options = []\n    def run(self):\n        import test_all\n\ncmdclass = {\n    'build_ext': build_ext,\n    'test': test,\n}\nsetup(name='PyYAML', cmdclass=cmdclass)\n";
        // simplejson 3.19.1, abridged.
        let simplejson = "from setuptools import setup, Extension, Command\nclass TestCommand(Command):\n    def run(self):\n        raise SystemExit(1)\ndef run_setup(with_binary):\n    cmdclass = dict(test=TestCommand)\n";
        // python-dateutil 2.8.2, abridged: registered only to refuse.
        let dateutil = "from setuptools.command.test import test as TestCommand\nclass Unsupported(TestCommand):\n    def run(self):\n        sys.exit(1)\nsetup(cmdclass={\n    \"test\": Unsupported\n})\n";
        let cases: &[(&str, &str, bool, Option<&str>)] = &[
            ("PyYAML", pyyaml, false, Some(COMMAND)),
            ("simplejson", simplejson, false, Some(COMMAND)),
            (
                "subscript",
                "class T(distutils.core.Command): pass\ncmdclass['test'] = T\n",
                false,
                Some(COMMAND),
            ),
            (
                "update",
                "class T(Command): pass\nkw['cmdclass'].update(test=T)\n",
                false,
                Some(COMMAND),
            ),
            ("dateutil", dateutil, false, None),
            ("pytest configured", pyyaml, true, None),
            (
                "imported, not defined",
                "from x import T\nsetup(cmdclass={'test': T})\n",
                false,
                None,
            ),
            (
                "another command",
                "class T(Command): pass\nsetup(cmdclass={'build_ext': T})\n",
                false,
                None,
            ),
            (
                "in a string",
                "doc = '''cmdclass = {'test': T}'''\nclass T(Command): pass\n",
                false,
                None,
            ),
            (
                "no setup.py command",
                "setup(name='p', test_suite='tests')\n",
                false,
                None,
            ),
        ];
        for (what, text, pytest, want) in cases {
            let (got, c) = command_of(text, *pytest, (3, 11));
            assert_eq!(got.as_deref(), *want, "{what}");
            assert!(c.setup.dependencies.is_empty(), "{what}");
        }
        let (_, c) = command_of(dateutil, false, (3, 11));
        assert_eq!(
            c.setup.notes,
            vec!["setup.py's test command Unsupported extends TestCommand, not setuptools' Command: not used".to_string()]
        );
    }

    #[test]
    fn from_python_3_12_setuptools_is_installed_for_it() {
        let text = "class T(Command): pass\nsetup(cmdclass={'test': T})\n";
        let (got, c) = command_of(text, false, (3, 13));
        assert_eq!(got.as_deref(), Some(COMMAND));
        let deps: Vec<&str> = c
            .setup
            .dependencies
            .iter()
            .map(|d| d.requirement.as_str())
            .collect();
        assert_eq!(deps, vec!["setuptools"]);
    }

    #[test]
    fn a_command_read_earlier_wins() {
        let mut c = Collector::default();
        c.setup.command = Some(super::super::AuthorCommand {
            command: "pytest".into(),
            source: "tox.ini".into(),
        });
        read(
            "class T(Command): pass\nsetup(cmdclass={'test': T})\n",
            false,
            (3, 11),
            &mut c,
        );
        assert_eq!(
            c.setup.command.map(|a| a.command).as_deref(),
            Some("pytest")
        );
    }
}
