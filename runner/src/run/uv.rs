//! uv, the fast installer baked into the Python images: the commands that make an
//! environment's venv with it, and the translation of a matrix's `pip install` lines
//! into `uv pip install`, offline from the wheelhouse, where uv does what pip would.
//!
//! Users keep writing `pip install …`; a line is translated only when it is one
//! simple `pip install` command whose options all mean the same to uv. Anything else
//! runs as written, with the venv's pip:
//! - compound lines (`&&`, `;`, pipes), leading `NAME=value` assignments (pip reads
//!   `PIP_*` variables, uv does not), an interpreter or pip named by path;
//! - every option not in [`SAME_FLAGS`] / [`SAME_VALUED`], among them `--user`,
//!   `--target`, `--prefix`, `--root`, `--no-binary`, `--only-binary`,
//!   `--upgrade-strategy`, `--no-compile`, `--config-settings`, `--global-option`,
//!   `-i`/`--index-url`/`--extra-index-url` (offline they fail either way, but with
//!   pip's words), `--src`, `--report`, and short options written together (`-Ur`).
//!
//! Pure: strings in, strings out.

use crate::run::layout::VENV;
use crate::run::prepare::WHEELS;

/// Options without a value that uv's `pip install` takes with pip's meaning, and what
/// uv calls them.
const SAME_FLAGS: &[(&str, &str)] = &[
    ("-U", "--upgrade"),
    ("--upgrade", "--upgrade"),
    ("--no-deps", "--no-deps"),
    ("-q", "--quiet"),
    ("--quiet", "--quiet"),
    ("-v", "--verbose"),
    ("--verbose", "--verbose"),
    ("--no-build-isolation", "--no-build-isolation"),
    ("--no-index", "--no-index"),
    ("--pre", "--prerelease allow"),
    ("--force-reinstall", "--reinstall"),
    ("-I", "--reinstall"),
    ("--ignore-installed", "--reinstall"),
    ("--require-hashes", "--require-hashes"),
    // uv byte-compiles (see `uv_pip_install`); pip's default is to compile too.
    ("--compile", ""),
    ("--no-warn-script-location", ""),
    ("--no-warn-conflicts", ""),
    ("--disable-pip-version-check", ""),
    ("--no-input", ""),
    ("--no-cache-dir", ""),
];

/// Options with a value that uv's `pip install` takes with pip's meaning.
const SAME_VALUED: &[(&str, &str)] = &[
    ("-r", "--requirement"),
    ("--requirement", "--requirement"),
    ("-c", "--constraint"),
    ("--constraint", "--constraint"),
    ("-e", "--editable"),
    ("--editable", "--editable"),
    ("-f", "--find-links"),
    ("--find-links", "--find-links"),
];

/// The start of every `uv pip install` ponyswarm runs: offline, from the wheelhouse
/// only, into the job's venv, byte-compiled (once, in the environment image), and no
/// cache (a fresh container has none to reuse, and thousands of cache files would
/// only swell the recorded install changes).
pub fn uv_pip_install() -> Vec<String> {
    install_start(WHEELS, &format!("{VENV}/bin/python"), true)
}

/// [`uv_pip_install`] from the wheels in `find_links` into the venv of the
/// interpreter `python`, byte-compiled when `compile`.
fn install_start(find_links: &str, python: &str, compile: bool) -> Vec<String> {
    let mut out: Vec<String> = [
        "uv",
        "pip",
        "install",
        "--offline",
        "--no-cache",
        "--no-index",
        "--find-links",
        find_links,
        "--python",
        python,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if compile {
        out.push("--compile-bytecode".to_string());
    }
    out
}

/// The `uv pip install` line doing what the install line `line` does, or `None` when
/// it must run as written (see the module doc).
pub fn translate(line: &str) -> Option<String> {
    translate_onto(line, uv_pip_install())
}

/// The line [`translate`] makes of `line`, installing from the wheels in
/// `find_links` into the venv at `venv` instead, without byte-compiling: the
/// prepare's check, in a throwaway venv, that the environment's install will find
/// all it needs among the wheels fetched so far (`run::prepare`). The same options
/// otherwise, so that uv resolves what it will resolve then.
pub fn translate_for_check(line: &str, venv: &str, find_links: &str) -> Option<String> {
    translate_onto(
        line,
        install_start(find_links, &format!("{venv}/bin/python"), false),
    )
}

/// `line` translated ([`translate`]) as arguments after `start`, a `uv pip install`.
fn translate_onto(line: &str, start: Vec<String>) -> Option<String> {
    let words = shell_words::split(line).ok()?;
    // Separators, redirections, expansions: the shell's business, so pip's. (Quoted,
    // they are arguments; rare enough to run as written too.)
    let shell = |w: &String| w.contains(['&', '|', ';', '>', '<', '$', '`']) || w.starts_with('~');
    if words.iter().any(shell) {
        return None;
    }
    let args = pip_install_args(&words)?;
    let mut out = start;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if !arg.starts_with('-') {
            out.push(arg.clone());
            continue;
        }
        if let Some((_, uv)) = SAME_FLAGS.iter().find(|(pip, _)| pip == arg) {
            out.extend(uv.split_whitespace().map(str::to_string));
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let (_, uv) = SAME_VALUED.iter().find(|(pip, _)| *pip == name)?;
        let value = match inline {
            Some(v) => v,
            None => it.next()?.clone(),
        };
        out.push(uv.to_string());
        out.push(value);
    }
    Some(shell_words::join(out))
}

/// The arguments after `install` when `words` is `pip install`, `pip3[.N] install` or
/// `python[3[.N]] -m pip install` (also `pypy3`), named without a path.
fn pip_install_args(words: &[String]) -> Option<&[String]> {
    let first = words.first()?;
    let versioned = |rest: &str| rest.chars().all(|c| c.is_ascii_digit() || c == '.');
    let rest = if let Some(v) = first.strip_prefix("pip") {
        versioned(v).then(|| &words[1..])?
    } else if first
        .strip_prefix("python")
        .or_else(|| first.strip_prefix("pypy"))
        .is_some_and(versioned)
    {
        let is_m = words.get(1).is_some_and(|w| w == "-m") && words.get(2)? == "pip";
        is_m.then(|| &words[3..])?
    } else {
        return None;
    };
    (rest.first()? == "install").then(|| &rest[1..])
}

/// The line that makes the venv at [`VENV`] with uv for the interpreter `python`, and
/// puts pip into it from the wheelhouse's wheel (matrix lines that run as written, and
/// the users' own commands, need it). Without a pip wheel (a wheelhouse of an older
/// ponyswarm) the venv is made by `python -m venv`, with ensurepip's pip.
///
/// Before Python 3.12, `python -m venv` (and tox's virtualenv) put setuptools into
/// every venv too, and test suites of that time import it (`pkg_resources`) without
/// declaring it; so does this venv there, with the newest setuptools the wheelhouse
/// holds (it always holds one: a build tool, resolved as of the run's cutoff).
///
/// Both in one install, not byte-compiled: a job runs pip only to install its project
/// again, and imports of setuptools' own are rare; compiling both took 1.5 s of a 5 s
/// environment build. What a test run may import on any start is compiled:
/// `pkg_resources`, and `_distutils_hack`, which setuptools' `.pth` file imports in
/// every interpreter of the venv.
pub fn venv_command(python: &str) -> String {
    let install = shell_words::join(install_start(WHEELS, &format!("{VENV}/bin/python"), false));
    let venv = uv_venv(python, VENV);
    format!(
        "w=$(ls {WHEELS}/pip-*.whl 2>/dev/null | head -n 1); \
         if [ -z \"$w\" ]; then {python} -m venv {VENV}; else \
         {venv} && s= && \
         if {python} -c 'import sys; sys.exit(sys.version_info >= (3, 12))'; then \
         s=$(ls {WHEELS}/setuptools-*.whl 2>/dev/null | sort -V | tail -n 1); fi && \
         {install} --quiet --no-deps \"$w\" ${{s:+\"$s\"}} && \
         if [ -n \"$s\" ]; then {VENV}/bin/python -m compileall -q -j 0 \
         {VENV}/lib/*/site-packages/pkg_resources {VENV}/lib/*/site-packages/_distutils_hack \
         >/dev/null; fi; fi"
    )
}

/// The line that makes a venv at `venv` with uv for the interpreter `python`, offline.
pub fn uv_venv(python: &str, venv: &str) -> String {
    format!("uv venv --quiet --offline --python \"$(command -v {python})\" {venv}")
}

/// The line that checks the image has uv: exit 0 when it does.
pub const HAS_UV: &str = "command -v uv >/dev/null";

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "uv pip install --offline --no-cache --no-index --find-links /wheels \
                          --python /work/venv/bin/python --compile-bytecode";

    #[test]
    fn pip_install_lines_with_options_uv_shares_become_uv_lines() {
        let cases: &[(&str, &str)] = &[
            ("pip install -e .[test]", "--editable '.[test]'"),
            (
                "pip install -e '.[test]' pytest",
                "--editable '.[test]' pytest",
            ),
            (
                "python -m pip install -r requirements.txt -U pytest==8.*",
                "--requirement requirements.txt --upgrade 'pytest==8.*'",
            ),
            (
                "pip3.11 install --requirement=req.txt --no-deps .",
                "--requirement req.txt --no-deps .",
            ),
            ("pypy3 -m pip install --pre x", "--prerelease allow x"),
            ("pip install --compile -q x", "--quiet x"),
            (
                "pip install -c c.txt -f /more x",
                "--constraint c.txt --find-links /more x",
            ),
            ("pip3 install --force-reinstall .", "--reinstall ."),
        ];
        for (line, want) in cases {
            assert_eq!(translate(line), Some(format!("{PREFIX} {want}")), "{line}");
        }
    }

    #[test]
    fn check_lines_install_into_their_venv_from_their_wheels_uncompiled() {
        assert_eq!(
            translate_for_check("pip install -e .[test] --compile", "/tmp/c", "/wheels/.p-1"),
            Some(
                "uv pip install --offline --no-cache --no-index --find-links /wheels/.p-1 \
                 --python /tmp/c/bin/python --editable '.[test]'"
                    .to_string()
            )
        );
        // Otherwise what the environment's install runs: the same lines translate.
        for line in [
            "pip install -U -r req.txt x",
            "pip install --user x",
            "pip install x; y",
        ] {
            let (check, env) = (translate_for_check(line, "/tmp/c", "/p"), translate(line));
            assert_eq!(check.is_some(), env.is_some(), "{line}");
            if let (Some(check), Some(env)) = (check, env) {
                let tail = |l: &str| l.split_once("/bin/python").map(|(_, t)| t.to_string());
                let env = env.replace(" --compile-bytecode", "");
                assert_eq!(tail(&check), tail(&env), "{line}");
            }
        }
    }

    #[test]
    fn lines_needing_pip_run_as_written() {
        for line in [
            "pip install --user x",
            "pip install --target /work/t x",
            "pip install --no-binary :all: x",
            "pip install -i https://example.org/simple x",
            "pip install -Ur requirements.txt",
            "pip install x && python setup.py build_ext -i",
            "pip install x; echo done",
            "pip install x >/dev/null",
            "pip install $EXTRA",
            "PIP_PRE=1 pip install x",
            "/usr/bin/python3 -m pip install x",
            "python setup.py develop",
            "pip download x",
            "pip install -r",
            "pipx install x",
            "python -m pipx install x",
            "pip install 'unbalanced",
        ] {
            assert_eq!(translate(line), None, "{line}");
        }
    }

    #[test]
    fn the_venv_is_made_by_uv_with_pip_from_the_wheelhouse() {
        let line = venv_command("pypy3");
        assert!(
            line.contains("uv venv --quiet --offline --python \"$(command -v pypy3)\" /work/venv"),
            "{line}"
        );
        assert!(line.contains("--no-deps \"$w\" ${s:+\"$s\"}"), "{line}");
        assert!(line.contains("sys.version_info >= (3, 12)"), "{line}");
        // pip and setuptools are not compiled whole; what any start imports is.
        let install = line.split("--no-deps").next().unwrap_or_default();
        assert!(!install.contains("--compile-bytecode"), "{line}");
        assert!(line.contains("site-packages/_distutils_hack"), "{line}");
    }
}
