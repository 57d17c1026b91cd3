//! tox: the `deps`, `extras` and `commands` of the env that matches the job's Python,
//! from `tox.ini`, `legacy_tox_ini` or native `[tool.tox]` in pyproject.toml.
//!
//! The env is the first of `envlist` whose factors name the Python (`py311`,
//! `py3.11`), else tox's default for it (`py311` over `[testenv]`). Factor-conditional
//! lines (`py311: x`, `py3{10,11}-django: y`, `!pypy: z`) are kept when the env's
//! factors satisfy them. The commands' substitutions are written as the job runs them
//! (`{posargs}` empty or its default, `{envpython}` → `python`, `{toxinidir}` → `.`,
//! `{env:X:default}` → the default); one ponyswarm cannot honour skips the command,
//! with a reason.
//!
//! The format itself (INI, env lists, factor conditions, substitutions) is read by
//! [`crate::tox`]; this module decides what a release's tests need from it.
//!
//! Pure.

use super::requirements_txt::{follow, included};
use super::Collector;
use crate::tox::{self, lines, Condition, EnvVars, Ini, Substitutions};
use std::collections::BTreeMap;

/// Where a job's `{envtmpdir}` is.
const ENV_TMP: &str = "/tmp/ponyswarm-envtmp";
/// Where a job's `{envdir}` is: a writable directory (commands keep caches there,
/// `{envdir}/.cache`) whose `bin` is the venv's, which is read-only in the job.
const ENV_DIR: &str = "/tmp/ponyswarm-envdir";

/// `legacy_tox_ini` of `[tool.tox]`, if any.
pub fn legacy_from_pyproject(py: &toml::Table) -> Option<String> {
    py.get("tool")?
        .get("tox")?
        .get("legacy_tox_ini")?
        .as_str()
        .map(str::to_string)
}

/// Whether a factor names `python`: `py311`, `py3.11`, `python3.11`.
fn names_python(factor: &str, (major, minor): (u32, u32)) -> bool {
    let f = factor
        .strip_prefix("python")
        .or_else(|| factor.strip_prefix("py"));
    matches!(f, Some(v) if v == format!("{major}{minor}") || v == format!("{major}.{minor}"))
}

/// The env to read for `python`: the first of `names` with a factor naming it, else
/// `py311`-style default.
fn env_for(names: &[String], python: (u32, u32)) -> String {
    names
        .iter()
        .find(|n| n.split('-').any(|f| names_python(f, python)))
        .cloned()
        .unwrap_or_else(|| format!("py{}{}", python.0, python.1))
}

/// A tox config: sections and the env chosen.
struct Env<'a> {
    ini: &'a Ini,
    name: String,
}

impl Env<'_> {
    /// `key` of the env's section, else of `[testenv]`.
    fn get(&self, key: &str) -> Option<&str> {
        self.ini
            .get(&format!("testenv:{}", self.name), key)
            .or_else(|| self.ini.get("testenv", key))
    }

    fn factors(&self) -> Vec<&str> {
        self.name.split('-').collect()
    }

    /// `value` with `{[section]key}` references replaced (one level).
    fn references(&self, value: &str) -> String {
        let mut out = value.to_string();
        while let Some(start) = out.find("{[") {
            let Some(end) = out[start..].find('}').map(|e| start + e) else {
                break;
            };
            let inner = &out[start + 2..end];
            let replacement = inner
                .split_once(']')
                .and_then(|(sec, key)| self.ini.get(sec, key.trim()))
                .unwrap_or("")
                .to_string();
            out.replace_range(start..=end, &replacement);
        }
        out
    }
}

/// Reads the tox config `text` (from `file`) for `python`.
pub fn read(
    text: &str,
    file: &str,
    python: (u32, u32),
    texts: &BTreeMap<String, String>,
    c: &mut Collector,
) {
    let ini = Ini::parse(text);
    let names = ini
        .get("tox", "envlist")
        .map(tox::env_names)
        .unwrap_or_default();
    let env = Env {
        ini: &ini,
        name: env_for(&names, python),
    };
    let source = format!("tox env {} in {file}", env.name);
    let factors = env.factors();
    if let Some(deps) = env.get("deps") {
        let deps = env.references(deps);
        for line in lines(&deps)
            .iter()
            .filter_map(|l| Condition::select(l, &factors))
        {
            match included(line) {
                Some(path) => {
                    let path = path
                        .trim_start_matches("{toxinidir}/")
                        .trim_start_matches("./");
                    follow(path, texts, &source, c, 0);
                }
                None => c.add(line, &source),
            }
        }
    }
    if let Some(extras) = env.get("extras") {
        for line in lines(extras)
            .iter()
            .filter_map(|l| Condition::select(l, &factors))
        {
            for extra in line.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                c.add_extra(extra);
            }
        }
    }
    if c.setup.command.is_none() {
        if let Some(commands) = env.get("commands") {
            let commands = env.references(commands);
            let all = lines(&commands);
            let selected: Vec<&str> = all
                .iter()
                .filter_map(|l| Condition::select(l, &factors))
                .collect();
            let changedir = env.get("changedir").map(|d| env.references(d));
            command(&selected, &source, &env.name, changedir.as_deref(), c);
        }
    }
}

/// Native `[tool.tox]` (tox ≥ 4.21): `env_run_base` overridden by `env.<name>`.
pub fn read_native(
    py: &toml::Table,
    python: (u32, u32),
    texts: &BTreeMap<String, String>,
    c: &mut Collector,
) {
    let Some(tox) = py.get("tool").and_then(|t| t.get("tox")) else {
        return;
    };
    let names: Vec<String> = tox
        .get("env_list")
        .and_then(|l| l.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let name = env_for(&names, python);
    let base = tox.get("env_run_base");
    let own = tox.get("env").and_then(|e| e.get(&name));
    let get = |key: &str| {
        own.and_then(|o| o.get(key))
            .or_else(|| base.and_then(|b| b.get(key)))
    };
    let source = format!("tox env {name} in [tool.tox] of pyproject.toml");
    let strings = |v: &toml::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(deps) = get("deps") {
        for d in strings(deps) {
            match included(&d) {
                Some(path) => follow(
                    path.trim_start_matches("{toxinidir}/"),
                    texts,
                    &source,
                    c,
                    0,
                ),
                None => c.add(&d, &source),
            }
        }
    }
    if let Some(extras) = get("extras") {
        for e in strings(extras) {
            c.add_extra(&e);
        }
    }
    if c.setup.command.is_none() {
        if let Some(cmds) = get("commands").and_then(|v| v.as_array()) {
            let lines: Vec<String> = cmds
                .iter()
                .map(|argv| {
                    let words: Vec<String> = strings(argv)
                        .into_iter()
                        .map(|w| {
                            if w.contains('{') {
                                w
                            } else {
                                shell_words::quote(&w).into_owned()
                            }
                        })
                        .collect();
                    words.join(" ")
                })
                .filter(|l| !l.is_empty())
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let change_dir = get("change_dir").and_then(|v| v.as_str());
            command(&refs, &source, &name, change_dir, c);
        }
    }
}

/// Sets the author's command from the env's command lines, run in `changedir` (tox's
/// `changedir`, relative to the tree) when the env has one, or notes why not.
fn command(lines: &[&str], source: &str, env: &str, changedir: Option<&str>, c: &mut Collector) {
    let dir = match changedir.map(|d| substitute(d.trim(), env)) {
        None => None,
        Some(Ok(d)) => {
            let d = d.trim_start_matches("./").trim_end_matches('/').to_string();
            match crate::untar::safe_relative(&d) {
                _ if d.is_empty() || d == "." => None,
                Some(_) => Some(d),
                None => {
                    c.note(format!(
                        "{source}: commands not used: changedir {d:?} leaves the tree; \
                         detected command used instead"
                    ));
                    return;
                }
            }
        }
        Some(Err(reason)) => {
            c.note(format!(
                "{source}: commands not used: changedir: {reason}; detected command used instead"
            ));
            return;
        }
    };
    let mut out = Vec::new();
    for line in lines {
        let (ignore_failure, line) = match line.strip_prefix('-') {
            Some(rest) if rest.starts_with(' ') => (true, rest.trim()),
            _ => (false, *line),
        };
        let first = line.split_whitespace().next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().take(3).collect();
        // Installs need the network, which the test phase does not have; the release
        // and its test dependencies are installed already.
        if first == "pip"
            || words == ["python", "-m", "pip"]
            || words == ["{envpython}", "-m", "pip"]
        {
            c.note(format!(
                "{source}: command {line:?} not run (installs are done before the tests)"
            ));
            continue;
        }
        match substitute(line, env) {
            Ok(l) if ignore_failure => out.push(format!("{{ {l} || true; }}")),
            Ok(l) => out.push(l),
            Err(reason) => {
                c.note(format!(
                    "{source}: commands not used: {reason}; detected command used instead"
                ));
                return;
            }
        }
    }
    if out.is_empty() {
        return;
    }
    let mut command = out.join(" && ");
    if let Some(dir) = dir {
        command = format!("cd {} && {command}", shell_words::quote(&dir));
    }
    if command.contains(ENV_TMP) {
        command = format!("mkdir -p {ENV_TMP} && {command}");
    }
    if command.contains(ENV_DIR) {
        let bin = format!("{}/bin", crate::run::layout::VENV);
        command = format!("mkdir -p {ENV_DIR} && ln -sfn {bin} {ENV_DIR}/bin && {command}");
    }
    if command.contains("{{") || command.contains("}}") {
        c.note(format!(
            "{source}: commands not used: they contain `{{{{`, which ponyswarm reads as a template"
        ));
        return;
    }
    c.setup.command = Some(super::AuthorCommand {
        command,
        source: format!("commands of {source}"),
    });
}

/// `line` with tox's substitutions replaced as the job runs it (`{toxinidir}` is the
/// working directory, `{env:X:default}` the default: the job's environment has no `X`);
/// an error names one not supported.
fn substitute(line: &str, env: &str) -> Result<String, String> {
    if line.rfind('{').is_some_and(|i| !line[i..].contains('}')) {
        return Err(format!("an unclosed `{{` in {line:?}"));
    }
    let bin = format!("{}/bin", crate::run::layout::VENV);
    let places = [
        ("toxinidir", "."),
        ("toxworkdir", "."),
        ("envtmpdir", ENV_TMP),
        ("envdir", ENV_DIR),
        ("envbindir", &bin),
        ("envname", env),
    ];
    let subs = Substitutions {
        places: &places,
        env: EnvVars::Default,
    };
    let out = tox::substitute(line, &subs).map_err(|u| u.to_string())?;
    Ok(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, python: (u32, u32), texts: &[(&str, &str)]) -> super::super::TestSetup {
        let texts: BTreeMap<String, String> = texts
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        let mut c = Collector::default();
        read(text, "tox.ini", python, &texts, &mut c);
        c.setup
    }

    fn reqs(s: &super::super::TestSetup) -> Vec<&str> {
        s.dependencies
            .iter()
            .map(|d| d.requirement.as_str())
            .collect()
    }

    #[test]
    fn the_env_of_the_python_gives_deps_extras_and_command() {
        let tox = "[tox]\nenvlist = lint, py{39,311}-django{42}\n\n[testenv]\ndeps =\n    -r requirements/test.txt\n    py39: importlib-metadata\n    django42: Django>=4.2,<5\n    -e .\nextras = tests\ncommands =\n    {envpython} -m pytest {posargs:tests} --basetemp={envtmpdir}\n\n[testenv:lint]\ndeps = ruff\ncommands = ruff check .\n";
        let setup = run(tox, (3, 11), &[("requirements/test.txt", "pytest\n")]);
        assert_eq!(reqs(&setup), vec!["pytest", "Django>=4.2,<5"]);
        assert_eq!(
            setup.dependencies[0].source,
            "tox env py311-django42 in tox.ini"
        );
        assert_eq!(setup.extras, vec!["tests"]);
        let cmd = setup.command.expect("command");
        assert_eq!(
            cmd.command,
            "mkdir -p /tmp/ponyswarm-envtmp && python -m pytest tests --basetemp=/tmp/ponyswarm-envtmp"
        );
        assert_eq!(cmd.source, "commands of tox env py311-django42 in tox.ini");
        assert!(
            setup.notes.iter().any(|n| n.contains("\"-e .\"")),
            "{:?}",
            setup.notes
        );
    }

    #[test]
    fn without_an_env_for_the_python_testenv_is_read() {
        let tox = "[tox]\nenvlist = py38\n[testenv]\ndeps = mock\n    {[base]deps}\ncommands =\n    pip install -e .\n    - coverage run -m pytest\n[base]\ndeps = attrs\n";
        let setup = run(tox, (3, 12), &[]);
        assert_eq!(reqs(&setup), vec!["mock", "attrs"]);
        assert_eq!(setup.dependencies[0].source, "tox env py312 in tox.ini");
        assert_eq!(
            setup.command.expect("command").command,
            "{ coverage run -m pytest || true; }"
        );
    }

    #[test]
    fn unsupported_substitutions_skip_the_command_with_a_reason() {
        let tox = "[testenv]\ncommands = pytest {envsitepackagesdir}/pkg\n";
        let setup = run(tox, (3, 11), &[]);
        assert_eq!(setup.command, None);
        assert!(
            setup.notes[0].contains("{envsitepackagesdir} is not supported"),
            "{:?}",
            setup.notes
        );
    }

    #[test]
    fn commands_run_in_the_envs_changedir() {
        let tox = "[testenv]\nchangedir = src\ncommands = python -m unittest discover\n";
        let setup = run(tox, (3, 11), &[]);
        assert_eq!(
            setup.command.expect("command").command,
            "cd src && python -m unittest discover"
        );
        let tox = "[testenv]\nchangedir = {toxinidir}/tests dir\ncommands = pytest\n";
        let setup = run(tox, (3, 11), &[]);
        assert_eq!(
            setup.command.expect("command").command,
            "cd 'tests dir' && pytest"
        );
        let tox = "[testenv]\nchangedir = {toxinidir}\ncommands = pytest\n";
        assert_eq!(
            run(tox, (3, 11), &[]).command.expect("command").command,
            "pytest"
        );
        let tox = "[testenv]\nchangedir = /etc\ncommands = pytest\n";
        let setup = run(tox, (3, 11), &[]);
        assert_eq!(setup.command, None);
        assert!(
            setup.notes[0].contains("leaves the tree"),
            "{:?}",
            setup.notes
        );
    }

    #[test]
    fn a_command_using_envdir_gets_a_writable_one_with_the_venvs_bin() {
        let tox = "[testenv]\ncommands =\n    zope-testrunner --test-path=src {posargs:-vc}\n    sphinx-build -b doctest -d {envdir}/.cache/doctrees docs {envdir}/.cache/doctest\n";
        let setup = run(tox, (3, 11), &[]);
        assert_eq!(
            setup.command.expect("command").command,
            "mkdir -p /tmp/ponyswarm-envdir && ln -sfn /work/venv/bin /tmp/ponyswarm-envdir/bin \
             && zope-testrunner --test-path=src -vc && sphinx-build -b doctest -d \
             /tmp/ponyswarm-envdir/.cache/doctrees docs /tmp/ponyswarm-envdir/.cache/doctest"
        );
    }

    #[test]
    fn substitutions_are_written_as_the_job_runs_them() {
        let cases = [
            ("pytest {posargs}", Ok("pytest")),
            ("pytest {posargs:-x tests}", Ok("pytest -x tests")),
            ("python {toxinidir}/runtests.py", Ok("python ./runtests.py")),
            (
                "pytest --ds={env:DJANGO_SETTINGS:tests.settings}",
                Ok("pytest --ds=tests.settings"),
            ),
            ("pytest {env:X}", Ok("pytest")),
            (
                "sphinx-build -d {envdir}/.cache docs {envtmpdir}/out",
                Ok("sphinx-build -d /tmp/ponyswarm-envdir/.cache docs /tmp/ponyswarm-envtmp/out"),
            ),
            (
                "{envbindir}/zope-testrunner",
                Ok("/work/venv/bin/zope-testrunner"),
            ),
            (
                "pytest {envsitepackagesdir}",
                Err("substitution {envsitepackagesdir} is not supported"),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(
                substitute(line, "py311").as_deref(),
                want.map_err(str::to_string).as_deref(),
                "{line}"
            );
        }
    }

    #[test]
    fn native_tool_tox_is_read() {
        let py: toml::Table = "[tool.tox]\nenv_list = [\"3.11\", \"lint\"]\n[tool.tox.env_run_base]\ndeps = [\"pytest>=7\"]\nextras = [\"testing\"]\ncommands = [[\"pytest\", \"{posargs}\", \"tests dir\"]]\n".parse().expect("toml");
        let mut c = Collector::default();
        read_native(&py, (3, 11), &BTreeMap::new(), &mut c);
        assert_eq!(reqs(&c.setup), vec!["pytest>=7"]);
        assert_eq!(c.setup.extras, vec!["testing"]);
        assert_eq!(
            c.setup.command.expect("command").command,
            "pytest 'tests dir'"
        );
    }
}
