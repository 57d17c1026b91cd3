//! Requirements files named for tests (`requirements-test.txt`,
//! `requirements/tests.txt`, `test-requirements.txt`…), with `-r` chains followed
//! inside the sdist only.
//!
//! Pure: the files' texts are handed in.

use super::Collector;
use std::collections::BTreeMap;

/// How deep `-r` chains are followed.
const MAX_DEPTH: usize = 8;

/// Whether `path` may be a requirements file: a `.txt` at the top whose name mentions
/// requirements, any `.txt` in a top-level `requirements/` directory (so that `-r`
/// chains can be followed), or one whose name mentions requirements in a top-level
/// `tests/` or `test/` directory (`tests/requirements.txt`, as nox sessions install).
pub fn is_requirements_path(path: &str) -> bool {
    if !path.ends_with(".txt") {
        return false;
    }
    match path.split_once('/') {
        None => path.contains("requirements"),
        Some((_, rest)) if rest.contains('/') => false,
        Some((dir, rest)) => match dir {
            "requirements" | "reqs" => true,
            "tests" | "test" => rest.contains("requirements"),
            _ => false,
        },
    }
}

/// A requirements file's path without `.txt`, `_` as `-`: what its name is matched on.
fn requirements_stem(path: &str) -> Option<String> {
    let stem = path
        .strip_suffix(".txt")
        .filter(|_| is_requirements_path(path))?;
    Some(stem.replace('_', "-"))
}

/// Whether `path` is named for the tests (and so read without being named by
/// anything else).
fn named_for_tests(path: &str) -> bool {
    let Some(stem) = requirements_stem(path) else {
        return false;
    };
    match stem.split_once('/') {
        Some(("tests" | "test", name)) => name.contains("requirements"),
        Some((_, name)) => name.starts_with("test") || name.starts_with("requirements-test"),
        None => {
            stem.starts_with("requirements-test")
                || stem.starts_with("test-requirements")
                || stem.starts_with("tests-requirements")
        }
    }
}

/// Whether `path` is a requirements file named for development
/// (`requirements-dev.txt`, `dev-requirements.txt`, `requirements/dev.txt`): where
/// many projects keep their test tools beside linters and docs tools.
fn named_for_development(path: &str) -> bool {
    let Some(stem) = requirements_stem(path) else {
        return false;
    };
    match stem.split_once('/') {
        Some(("requirements" | "reqs", name)) => {
            name.starts_with("dev") || name.starts_with("requirements-dev")
        }
        Some(_) => false,
        None => stem.starts_with("requirements-dev") || stem.starts_with("dev-requirements"),
    }
}

/// Reads every requirements file named for tests, in path order; when there is none,
/// the files named for development (urllib3 and requests keep `trustme` and
/// `pytest-httpbin` in theirs, and their CI installs them for the tests).
pub fn named_for_tests_files(texts: &BTreeMap<String, String>, c: &mut Collector) {
    let for_tests: Vec<&String> = texts.keys().filter(|p| named_for_tests(p)).collect();
    let read = if for_tests.is_empty() {
        texts.keys().filter(|p| named_for_development(p)).collect()
    } else {
        for_tests
    };
    for path in read {
        follow(path, texts, path, c, 0);
    }
}

/// `path` relative to the directory of `from`, when it stays inside the tree.
fn relative_to(from: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = match from.rsplit_once('/') {
        Some((dir, _)) => dir.split('/').collect(),
        None => Vec::new(),
    };
    let path = path
        .trim()
        .trim_start_matches("{toxinidir}/")
        .trim_start_matches("./");
    if path.starts_with('/') {
        return None;
    }
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The requirement lines of a requirements text, continuation lines joined and
/// comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = match line.find(" #") {
            Some(at) => &line[..at],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let l = current.trim().to_string();
        if !l.is_empty() {
            out.push(l);
        }
        current.clear();
    }
    out
}

/// The path a `-r`/`--requirement` line names, if it is one.
pub fn included(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("--requirement")
        .or_else(|| line.strip_prefix("-r"))?;
    Some(rest.trim_start_matches('=').trim())
}

/// The extras of a line that installs the project itself with extras (`-e .[a,b]`,
/// `.[a]`, `-e {toxinidir}[a]`): `a,b`.
fn the_project_with_extras(line: &str) -> Option<&str> {
    let target = line
        .strip_prefix("--editable")
        .or_else(|| line.strip_prefix("-e"))
        .unwrap_or(line)
        .trim_start_matches('=')
        .trim();
    let rest = ["{toxinidir}", "./", "."]
        .iter()
        .find_map(|root| target.strip_prefix(root))?;
    rest.strip_prefix('[')?.strip_suffix(']')
}

/// Adds the requirements of the file at `path` (read from `texts`), following `-r`,
/// each one's source being `source` (the file first named).
pub fn follow(
    path: &str,
    texts: &BTreeMap<String, String>,
    source: &str,
    c: &mut Collector,
    depth: usize,
) {
    let Some(text) = texts.get(path) else {
        c.note(format!("{path} (named by {source}): not in the sdist"));
        return;
    };
    for line in logical_lines(text) {
        if let Some(inner) = included(&line) {
            match relative_to(path, inner) {
                Some(p) if depth < MAX_DEPTH => follow(&p, texts, source, c, depth + 1),
                Some(p) => c.note(format!("{p}: -r chain deeper than {MAX_DEPTH}, not read")),
                None => c.note(format!(
                    "{inner} (named by {path}): outside the sdist, not read"
                )),
            }
            continue;
        }
        if let Some(extras) = the_project_with_extras(&line) {
            // `-e .[socks]`: the project itself, which the job installs anyway, with
            // extras its tests need.
            for e in extras.split(',') {
                c.add_extra(e.trim());
            }
            continue;
        }
        if line.starts_with("-c") || line.starts_with("--constraint") {
            c.note(format!("{line:?} in {path}: constraints are not applied"));
            continue;
        }
        // Hashes pin the files; pip is given the requirement alone.
        let req: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with("--hash"))
            .collect();
        c.add(&req.join(" "), source);
    }
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

    #[test]
    fn requirements_paths_are_recognised() {
        let cases = [
            ("requirements-test.txt", true, true),
            ("requirements_tests.txt", true, true),
            ("test-requirements.txt", true, true),
            ("requirements/test.txt", true, true),
            ("requirements/tests-py3.txt", true, true),
            ("requirements/base.txt", true, false),
            ("requirements.txt", true, false),
            ("requirements-docs.txt", true, false),
            ("docs/requirements.txt", false, false),
            ("requirements/test.in", false, false),
            ("requirements/requirements-testing.txt", true, true),
            ("tests/requirements.txt", true, true),
            ("test/requirements-py3.txt", true, true),
            ("tests/data.txt", false, false),
            ("tests/deep/requirements.txt", false, false),
        ];
        for (path, wanted, for_tests) in cases {
            assert_eq!(is_requirements_path(path), wanted, "{path}");
            assert_eq!(named_for_tests(path), for_tests, "{path}");
        }
    }

    #[test]
    fn development_files_are_read_only_when_none_is_named_for_tests() {
        let cases = [
            ("requirements-dev.txt", true),
            ("dev-requirements.txt", true),
            ("requirements_dev.txt", true),
            ("requirements/dev.txt", true),
            ("requirements/development.txt", true),
            ("requirements-docs.txt", false),
            ("tests/requirements-dev.txt", false),
            ("devtools.txt", false),
        ];
        for (path, want) in cases {
            assert_eq!(named_for_development(path), want, "{path}");
        }
        let read = |items: &[(&str, &str)]| {
            let mut c = Collector::default();
            named_for_tests_files(&texts(items), &mut c);
            c.setup
                .dependencies
                .iter()
                .map(|d| format!("{} <- {}", d.requirement, d.source))
                .collect::<Vec<_>>()
        };
        let dev = ("dev-requirements.txt", "trustme==0.9.0\npytest==7.4.0\n");
        assert_eq!(
            read(&[dev]),
            vec![
                "trustme==0.9.0 <- dev-requirements.txt",
                "pytest==7.4.0 <- dev-requirements.txt"
            ]
        );
        assert_eq!(
            read(&[dev, ("requirements-test.txt", "pytest\n")]),
            vec!["pytest <- requirements-test.txt"]
        );
    }

    #[test]
    fn the_project_itself_with_extras_adds_the_extras() {
        let cases = [
            ("-e .[socks]", Some("socks")),
            ("--editable=.[a,b]", Some("a,b")),
            (".[test]", Some("test")),
            ("-e ./[x]", Some("x")),
            ("-e {toxinidir}[tests]", Some("tests")),
            ("-e .", None),
            ("-e ../other[x]", None),
            ("requests[socks]", None),
        ];
        for (line, want) in cases {
            assert_eq!(the_project_with_extras(line), want, "{line}");
        }
        let mut c = Collector::default();
        let t = texts(&[("requirements-dev.txt", "-e .[socks]\npytest\n")]);
        named_for_tests_files(&t, &mut c);
        assert_eq!(c.setup.extras, vec!["socks".to_string()]);
    }

    #[test]
    fn chains_are_followed_inside_the_sdist_only() {
        let t = texts(&[
            (
                "requirements/test.txt",
                "-r base.txt\n-r ../../etc/passwd\npytest==8.0 \\\n  --hash=sha256:abc\n-e .\nhttps://x/y.whl\n-c constraints.txt\n# comment\nmock  # inline\n",
            ),
            ("requirements/base.txt", "attrs>=22\n-r missing.txt\n"),
        ]);
        let mut c = Collector::default();
        named_for_tests_files(&t, &mut c);
        let got: Vec<(&str, &str)> = c
            .setup
            .dependencies
            .iter()
            .map(|d| (d.requirement.as_str(), d.source.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("attrs>=22", "requirements/test.txt"),
                ("pytest==8.0", "requirements/test.txt"),
                ("mock", "requirements/test.txt"),
            ]
        );
        let notes = c.setup.notes.join("\n");
        for want in [
            "requirements/missing.txt (named by requirements/test.txt): not in the sdist",
            "../../etc/passwd (named by requirements/test.txt): outside the sdist",
            "\"-e .\" from requirements/test.txt: an option",
            "\"https://x/y.whl\" from requirements/test.txt: a path or URL",
            "constraints are not applied",
        ] {
            assert!(notes.contains(want), "{want} not in {notes}");
        }
    }
}
