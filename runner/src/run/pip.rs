//! Turning a job's `pip install` commands into the `pip download` commands that fetch
//! what they need, and finding the project's build requirements: the pure half of the
//! prepare phase.
//!
//! Pure: strings in, argument lists out.

/// Whether two requirements name the same project.
pub fn same_project(a: &str, b: &str) -> bool {
    requirement_name(a) == requirement_name(b)
}

/// The normalised project name a requirement starts with (`Setuptools_SCM>=8` →
/// `setuptools-scm`).
fn requirement_name(req: &str) -> String {
    req.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .map(|c| {
            if matches!(c, '_' | '.') {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Build requirements when the project's pyproject.toml names none (PEP 518's
/// fallback), and always added: pip asks setuptools' backend for `wheel`.
const DEFAULT_BUILD_REQUIRES: &[&str] = &["setuptools>=40.8.0", "wheel"];

/// Options of `pip install` that `pip download` does not take, and whether each takes
/// a value.
const INSTALL_ONLY: &[(&str, bool)] = &[
    ("-U", false),
    ("--upgrade", false),
    ("--force-reinstall", false),
    ("-I", false),
    ("--ignore-installed", false),
    ("--user", false),
    ("--no-warn-script-location", false),
    ("--no-warn-conflicts", false),
    ("--compile", false),
    ("--no-compile", false),
    ("--break-system-packages", false),
    ("--require-virtualenv", false),
    ("--upgrade-strategy", true),
    ("-t", true),
    ("--target", true),
    ("--prefix", true),
    ("--root", true),
];

/// An install line `pip download` cannot be made from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("install command {command:?}: {reason}")]
pub struct RewriteError {
    /// The install command.
    pub command: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The `pip download` arguments (after `pip download --dest /wheels`) for each `pip
/// install` in `command`. Other commands in the line are not fetched for and yield
/// nothing. `-e`/`--editable` is dropped, its target kept.
pub fn download_args(command: &str) -> Result<Vec<Vec<String>>, RewriteError> {
    let words = shell_words::split(command).map_err(|e| RewriteError {
        command: command.to_string(),
        reason: e.to_string(),
    })?;
    // `a; b` splits into `a;` and `b`: the separator is a word of its own here.
    let words: Vec<String> = words
        .into_iter()
        .flat_map(|w| match w.strip_suffix(';') {
            Some(head) if !head.is_empty() => vec![head.to_string(), ";".to_string()],
            _ => vec![w],
        })
        .collect();
    let simple = words.split(|w| matches!(w.as_str(), "&&" | "||" | ";" | "|"));
    Ok(simple
        .filter_map(pip_install_args)
        .map(rewrite_args)
        .collect())
}

/// The arguments after `install` when `words` is a `pip install`, `pip3 install` or
/// `python -m pip install` (leading `NAME=value` assignments skipped).
fn pip_install_args(words: &[String]) -> Option<&[String]> {
    let start = words.iter().position(|w| !is_assignment(w))?;
    let words = &words[start..];
    let base = |w: &String| w.rsplit('/').next().unwrap_or(w).to_string();
    let first = base(words.first()?);
    let rest =
        if first.starts_with("pip") && first[3..].chars().all(|c| c.is_ascii_digit() || c == '.') {
            &words[1..]
        } else if (first.starts_with("python") || first.starts_with("pypy"))
            && words.get(1).is_some_and(|w| w == "-m")
            && words.get(2).is_some_and(|w| w == "pip")
        {
            &words[3..]
        } else {
            return None;
        };
    (rest.first()? == "install").then(|| &rest[1..])
}

fn is_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn rewrite_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "-e" || arg == "--editable" {
            continue; // the target follows and is kept
        }
        if let Some(target) = arg.strip_prefix("--editable=") {
            out.push(target.to_string());
            continue;
        }
        let (name, inline_value) = match arg.split_once('=') {
            Some((n, _)) if n.starts_with("--") => (n, true),
            _ => (arg.as_str(), false),
        };
        if let Some(&(_, takes_value)) = INSTALL_ONLY.iter().find(|(o, _)| *o == name) {
            if takes_value && !inline_value {
                it.next();
            }
            continue;
        }
        out.push(arg.clone());
    }
    out
}

/// A local project a `pip install` names (`.`, `-e .[test]`, `./sub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTarget {
    /// As written, extras included (`.[test]`).
    pub path: String,
    /// Installed with `-e`/`--editable`.
    pub editable: bool,
}

/// The local projects the `pip install`s of `install` name: arguments that are paths
/// (`.`, `./x`, `/x`, `../x`, with or without extras), not requirements, files of
/// `-r`/`-c` or option values.
pub fn project_targets(install: &[String]) -> Vec<ProjectTarget> {
    let mut out = Vec::new();
    for command in install {
        let Ok(words) = shell_words::split(command) else {
            continue;
        };
        for simple in words.split(|w| matches!(w.as_str(), "&&" | "||" | ";" | "|")) {
            let Some(args) = pip_install_args(simple) else {
                continue;
            };
            let mut it = args.iter();
            let mut editable = false;
            while let Some(arg) = it.next() {
                if arg == "-e" || arg == "--editable" {
                    editable = true;
                    continue;
                }
                let (arg, inline_editable) = match arg.strip_prefix("--editable=") {
                    Some(target) => (target, true),
                    None => (arg.as_str(), false),
                };
                if arg.starts_with('-') {
                    // An option's value is not a project (`-r req.txt`, `--target /x`).
                    let takes_value = matches!(arg, "-r" | "-c" | "-t" | "-f" | "-i")
                        || INSTALL_ONLY.iter().any(|(o, v)| *o == arg && *v)
                        || matches!(
                            arg,
                            "--requirement" | "--constraint" | "--find-links" | "--index-url"
                        );
                    if takes_value {
                        it.next();
                    }
                    continue;
                }
                if arg == "."
                    || arg.starts_with("./")
                    || arg.starts_with("../")
                    || arg.starts_with('/')
                    || arg.starts_with(".[")
                {
                    out.push(ProjectTarget {
                        path: arg.to_string(),
                        editable: editable || inline_editable,
                    });
                }
                editable = false;
            }
        }
    }
    out
}

/// The paths named by `-r`/`-c` (and their long forms) in the install commands: they
/// are part of the wheelhouse's key.
pub fn referenced_files(install: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for command in install {
        let Ok(words) = shell_words::split(command) else {
            continue;
        };
        let mut it = words.iter();
        while let Some(w) = it.next() {
            if matches!(w.as_str(), "-r" | "-c" | "--requirement" | "--constraint") {
                out.extend(it.next().cloned());
            } else if let Some(v) = w
                .strip_prefix("--requirement=")
                .or_else(|| w.strip_prefix("--constraint="))
            {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// `[build-system].requires` of a pyproject.toml, plus setuptools and wheel; the
/// defaults alone when there is no such table or no file.
pub fn build_requires(pyproject: Option<&str>) -> Vec<String> {
    let declared: Vec<String> = pyproject
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("build-system")?.get("requires")?.as_array().cloned())
        .map(|reqs| {
            reqs.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut out = declared;
    for default in DEFAULT_BUILD_REQUIRES {
        let name = requirement_name(default);
        if !out.iter().any(|r| requirement_name(r) == name) {
            out.push(default.to_string());
        }
    }
    out
}

/// The `setup_requires` of a setuptools project, read (never run) from `setup.cfg`'s
/// `[options]` and from a literal list in `setup.py` (`setup_requires=["a", 'b>=1']`).
/// setuptools asks for them while it builds (`get_requires_for_build_wheel`), so an
/// offline build of the project finds them only if the wheelhouse has them. A list
/// that is not all string literals (a variable, a call) is not guessed at.
pub fn setup_requires(setup_py: Option<&str>, setup_cfg: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(cfg) = setup_cfg {
        out.extend(cfg_setup_requires(cfg));
    }
    if let Some(py) = setup_py {
        out.extend(py_setup_requires(py));
    }
    let looks_like_requirement = |r: &String| {
        let name = requirement_name(r);
        !name.is_empty() && r.len() <= 200 && !r.contains(['{', '}', '`', '$', '\\'])
    };
    out.retain(looks_like_requirement);
    let mut seen = std::collections::HashSet::new();
    out.retain(|r| seen.insert(requirement_name(r)));
    out
}

/// `setup_requires` under `[options]` of a setup.cfg: one per line, or one line
/// split at commas, as setuptools reads it.
fn cfg_setup_requires(cfg: &str) -> Vec<String> {
    let mut in_options = false;
    let mut value: Option<Vec<String>> = None;
    for line in cfg.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if value.is_some() {
                break;
            }
            in_options = trimmed == "[options]";
            continue;
        }
        if !in_options || trimmed.starts_with(['#', ';']) {
            continue;
        }
        let continued = line.starts_with([' ', '\t']);
        match &mut value {
            Some(lines) if continued => lines.push(trimmed.to_string()),
            Some(_) => break,
            None => {
                if let Some((key, v)) = trimmed.split_once('=') {
                    if key.trim().replace('-', "_") == "setup_requires" {
                        value = Some(vec![v.trim().to_string()]);
                    }
                }
            }
        }
    }
    let lines: Vec<String> = value
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.split(" #").next().unwrap_or_default().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    match lines.as_slice() {
        [one] => one.split(',').map(|r| r.trim().to_string()).collect(),
        _ => lines,
    }
}

/// A literal list of strings after `setup_requires=` in a setup.py.
fn py_setup_requires(py: &str) -> Vec<String> {
    let Some(at) = py.find("setup_requires") else {
        return Vec::new();
    };
    let rest = py[at + "setup_requires".len()..].trim_start();
    let Some(rest) = rest.strip_prefix('=').map(str::trim_start) else {
        return Vec::new();
    };
    let (open, close) = match rest.chars().next() {
        Some('[') => ('[', ']'),
        Some('(') => ('(', ')'),
        _ => return Vec::new(),
    };
    let Some(end) = rest.find(close) else {
        return Vec::new();
    };
    let inner = &rest[open.len_utf8()..end];
    let mut out = Vec::new();
    for item in inner.split(',') {
        let item = item.split('#').next().unwrap_or_default().trim();
        if item.is_empty() {
            continue;
        }
        let quoted = ['"', '\''].iter().find_map(|q| {
            item.strip_prefix(*q)
                .and_then(|i| i.strip_suffix(*q))
                .filter(|i| !i.contains(*q))
        });
        match quoted {
            Some(r) => out.push(r.to_string()),
            // Not all literals: nothing is guessed.
            None => return Vec::new(),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_requires_are_read_from_setup_py_and_setup_cfg() {
        let model_utils = "setup(\n    name='django-model-utils',\n    use_scm_version={\"version_scheme\": \"post-release\"},\n    setup_requires=[\"setuptools_scm\"],\n    license=\"BSD\",\n)\n";
        assert_eq!(
            setup_requires(Some(model_utils), None),
            v(&["setuptools_scm"])
        );
        let cases: &[(&str, &[&str])] = &[
            (
                "setup(setup_requires = ('cffi>=1.0', \"pkgconfig\",  # for the build\n))",
                &["cffi>=1.0", "pkgconfig"],
            ),
            ("setup(setup_requires=SETUP_REQUIRES)", &[]),
            ("setup(setup_requires=['a', helper()])", &[]),
            ("setup(setup_requires=[])", &[]),
            ("setup(name='x')", &[]),
            ("setup(setup_requires=['${HOME}'])", &[]),
        ];
        for (py, want) in cases {
            assert_eq!(setup_requires(Some(py), None), v(want), "{py}");
        }
        let cfg_cases: &[(&str, &[&str])] = &[
            ("[metadata]\nname = x\n[options]\nsetup_requires =\n    setuptools_scm>=3.4\n    cython  # ext\npackages = find:\n", &["setuptools_scm>=3.4", "cython"]),
            ("[options]\nsetup_requires = setuptools_scm, wheel\n", &["setuptools_scm", "wheel"]),
            ("[options.extras_require]\nsetup_requires = nope\n", &[]),
            ("[options]\ninstall_requires = six\n", &[]),
        ];
        for (cfg, want) in cfg_cases {
            assert_eq!(setup_requires(None, Some(cfg)), v(want), "{cfg}");
        }
        assert_eq!(
            setup_requires(
                Some("setup(setup_requires=['setuptools-scm'])"),
                Some("[options]\nsetup_requires = setuptools_scm\n")
            ),
            v(&["setuptools_scm"]),
            "one per project, setup.cfg first"
        );
    }

    fn args(command: &str) -> Vec<Vec<String>> {
        download_args(command).unwrap()
    }

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pip_install_becomes_pip_download() {
        assert_eq!(
            args("pip install 'django~=4.2.0' redis"),
            vec![v(&["django~=4.2.0", "redis"])]
        );
        assert_eq!(
            args("python -m pip install -r requirements.txt"),
            vec![v(&["-r", "requirements.txt"])]
        );
        assert_eq!(args("python3.11 -m pip install x"), vec![v(&["x"])]);
        assert_eq!(args("/work/venv/bin/pip3 install x"), vec![v(&["x"])]);
    }

    #[test]
    fn editable_keeps_its_target() {
        assert_eq!(args("pip install -e .[test]"), vec![v(&[".[test]"])]);
        assert_eq!(args("pip install --editable=."), vec![v(&["."])]);
    }

    #[test]
    fn install_only_options_are_dropped() {
        assert_eq!(
            args("pip install -U --upgrade-strategy eager --target /x --no-deps pkg"),
            vec![v(&["--no-deps", "pkg"])]
        );
        assert_eq!(
            args("pip install --upgrade-strategy=eager pkg"),
            vec![v(&["pkg"])]
        );
    }

    #[test]
    fn other_commands_are_not_fetched_for() {
        assert!(args("python setup.py develop").is_empty());
        assert!(args("pip freeze").is_empty());
        assert!(args("make deps").is_empty());
    }

    #[test]
    fn each_pip_install_in_a_line_counts() {
        assert_eq!(
            args("cd sub && pip install a; echo hi && PIP_PRE=1 pip install b"),
            vec![v(&["a"]), v(&["b"])]
        );
    }

    #[test]
    fn bad_quoting_is_an_error() {
        assert!(download_args("pip install 'x").is_err());
    }

    #[test]
    fn build_requires_come_from_pyproject() {
        let py = "[build-system]\nrequires = [\"hatchling>=1.20\"]\nbuild-backend = \"hatchling.build\"\n";
        assert_eq!(
            build_requires(Some(py)),
            v(&["hatchling>=1.20", "setuptools>=40.8.0", "wheel"])
        );
        let st = "[build-system]\nrequires = [\"setuptools>=61\", \"wheel\"]\n";
        assert_eq!(build_requires(Some(st)), v(&["setuptools>=61", "wheel"]));
        assert_eq!(build_requires(None), v(&["setuptools>=40.8.0", "wheel"]));
        let scm = "[build-system]\nrequires = [\"setuptools_scm>=8\"]\n";
        assert_eq!(
            build_requires(Some(scm)),
            v(&["setuptools_scm>=8", "setuptools>=40.8.0", "wheel"])
        );
        assert_eq!(
            build_requires(Some("[project]\nname='x'\n")),
            v(&["setuptools>=40.8.0", "wheel"])
        );
    }

    #[test]
    fn local_projects_are_found() {
        let t = |path: &str, editable| ProjectTarget {
            path: path.to_string(),
            editable,
        };
        let cases: &[(&str, Vec<ProjectTarget>)] = &[
            ("pip install -e .[test]", vec![t(".[test]", true)]),
            ("pip install . pytest", vec![t(".", false)]),
            (
                "pip install --editable=./sub -r req.txt",
                vec![t("./sub", true)],
            ),
            ("pip install -r ./req.txt pytest", vec![]),
            (
                "cd x && python -m pip install -e ../y",
                vec![t("../y", true)],
            ),
            (
                "pip install -e . /abs",
                vec![t(".", true), t("/abs", false)],
            ),
            ("python setup.py develop", vec![]),
        ];
        for (command, want) in cases {
            assert_eq!(&project_targets(&v(&[command])), want, "{command}");
        }
    }

    #[test]
    fn referenced_requirement_files_are_found() {
        let install = v(&[
            "pip install -r req/dev.txt -c constraints.txt",
            "pip install --requirement=r.txt",
        ]);
        assert_eq!(
            referenced_files(&install),
            v(&["req/dev.txt", "constraints.txt", "r.txt"])
        );
    }
}
