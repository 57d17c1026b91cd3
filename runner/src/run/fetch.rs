//! The pure half of the split prepare: what the fetch container (behind the egress
//! door, running only pip as an index client) is asked to download, and what the
//! offline build container (no network, the project's and the sdists' build code)
//! says it still misses.
//!
//! The loop it serves (see `prepare`): fetch what can be known without running code
//! ([`static_requirements`]), run the offline step, read what it missed
//! ([`missing_requirements`]), fetch that, and again, at most [`MAX_ROUNDS`] times.
//!
//! Pure: strings in, lists out.

use crate::run::pip::project_targets;

/// Most offline/online rounds of one prepare: each fetches at least one requirement
/// the offline step missed, so a project needs about one per direct dependency the
/// static pass could not see.
pub const MAX_ROUNDS: usize = 24;

/// The requirements pip's offline step could not find, as pip wrote them (`foo>=2`),
/// from its output: the lines `No matching distribution found for REQ` (pip and the
/// build-dependency installs it runs write the same line). In order, without repeats.
pub fn missing_requirements(output: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in output.lines() {
        let Some((_, req)) = line.split_once("No matching distribution found for ") else {
            continue;
        };
        let req = req.trim().trim_end_matches('.').to_string();
        if !req.is_empty() && !out.contains(&req) {
            out.push(req);
        }
    }
    out
}

/// The options of the install commands that choose where pip looks (`-i URL`,
/// `--extra-index-url URL`, `--find-links URL`, `--pre`), for the fetch container's
/// downloads. Local `--find-links` paths are left out: the fetch container has no
/// source tree.
pub fn index_options(install: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for command in install {
        let words = shell_words::split(command).unwrap_or_default();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "-i" | "--index-url" | "--extra-index-url" | "-f" | "--find-links" => {
                    if let Some(v) = it.next().filter(|v| v.contains("://")) {
                        out.extend([w.clone(), v.clone()]);
                    }
                }
                "--pre" => out.push(w.clone()),
                _ if ["--index-url=", "--extra-index-url=", "--find-links="]
                    .iter()
                    .any(|p| w.starts_with(p) && w.contains("://")) =>
                {
                    out.push(w.clone())
                }
                _ => {}
            }
        }
    }
    out.dedup();
    out
}

/// What can be fetched without running any of the project's code: requirements named
/// on the command line (`pip download` arguments that are neither options nor paths),
/// the lines of `-r` files, and for the project at `.` the `[project]` dependencies of
/// its pyproject.toml with those of the extras asked for. `read` reads a file of the
/// source tree by its relative path.
///
/// Over-reading is harmless (a requirement the offline step then doesn't need is one
/// wheel too many); under-reading costs a round of the loop.
pub fn static_requirements(
    install: &[String],
    downloads: &[Vec<String>],
    read: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for args in downloads {
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-r" | "--requirement" => {
                    if let Some(text) = it.next().and_then(|f| read(f)) {
                        out.extend(requirement_lines(&text));
                    }
                }
                _ if a.starts_with('-') && option_takes_value(a) => {
                    it.next();
                }
                _ if a.starts_with('-') => {}
                _ if is_requirement(a) => out.push(a.clone()),
                _ => {}
            }
        }
    }
    let pyproject = read("pyproject.toml").and_then(|t| t.parse::<toml::Table>().ok());
    if let Some(project) = pyproject.as_ref().and_then(|t| t.get("project")) {
        for target in project_targets(install) {
            let Some(extras) = root_extras(&target.path) else {
                continue;
            };
            out.extend(strings(project.get("dependencies")));
            let optional = project.get("optional-dependencies");
            for extra in extras {
                out.extend(strings(optional.and_then(|o| o.get(extra.as_str()))));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|r| seen.insert(r.clone()));
    out
}

/// The extras of a target that is the source root (`.`, `.[a,b]`, `./`), else `None`.
fn root_extras(path: &str) -> Option<Vec<String>> {
    let (base, extras) = match path.split_once('[') {
        Some((b, e)) => (b, e.trim_end_matches(']')),
        None => (path, ""),
    };
    matches!(base, "." | "./").then(|| {
        extras
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect()
    })
}

fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Options of `pip download` that take a value as the next word.
fn option_takes_value(option: &str) -> bool {
    matches!(
        option,
        "-c" | "--constraint"
            | "-i"
            | "--index-url"
            | "--extra-index-url"
            | "-f"
            | "--find-links"
            | "--trusted-host"
            | "--platform"
            | "--python-version"
            | "--implementation"
            | "--abi"
            | "--no-binary"
            | "--only-binary"
            | "--src"
    )
}

/// Whether an argument names a requirement by name (not a path, URL or archive).
fn is_requirement(arg: &str) -> bool {
    let first = arg.chars().next().unwrap_or(' ');
    first.is_ascii_alphanumeric()
        && !arg.contains("://")
        && !arg.contains('/')
        && !arg.ends_with(".whl")
        && !arg.ends_with(".tar.gz")
        && !arg.ends_with(".zip")
}

/// The requirement lines of a requirements file: comments, options, nested files,
/// paths and URLs left out (the offline step finds what they need).
fn requirement_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .filter(|l| is_requirement(l))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn missing_requirements_are_read_from_pip_output() {
        let table: &[(&str, &[&str])] = &[
            ("Successfully downloaded x", &[]),
            (
                "ERROR: Could not find a version that satisfies the requirement setuptools>=61 (from versions: none)\n\
                 ERROR: No matching distribution found for setuptools>=61",
                &["setuptools>=61"],
            ),
            (
                "  ERROR: No matching distribution found for wheel\n\
                 ERROR: No matching distribution found for wheel\n\
                 ERROR: No matching distribution found for attrs[tests]<24",
                &["wheel", "attrs[tests]<24"],
            ),
        ];
        for (output, want) in table {
            assert_eq!(missing_requirements(output), v(want), "{output}");
        }
    }

    #[test]
    fn index_options_keep_urls_and_drop_local_paths() {
        let install = v(&[
            "pip install -i https://idx.example/simple --find-links ./wheels --pre x",
            "pip install --extra-index-url=https://b.example/s y",
        ]);
        assert_eq!(
            index_options(&install),
            v(&[
                "-i",
                "https://idx.example/simple",
                "--pre",
                "--extra-index-url=https://b.example/s"
            ])
        );
    }

    #[test]
    fn static_requirements_come_from_arguments_files_and_pyproject() {
        let install = v(&["pip install -e .[test] -r requirements.txt 'django~=4.2' ./vendored"]);
        let downloads = vec![v(&[
            ".[test]",
            "-r",
            "requirements.txt",
            "django~=4.2",
            "./vendored",
            "-c",
            "constraints.txt",
        ])];
        let read = |path: &str| {
            match path {
            "requirements.txt" => Some(
                "# pinned\nrequests==2.31 # http\n-r other.txt\n-e .\nhttps://x/y.whl\nattrs; python_version > '3'\n"
                    .to_string(),
            ),
            "pyproject.toml" => Some(
                "[project]\nname='p'\ndependencies=['click>=8']\n\
                 [project.optional-dependencies]\ntest=['pytest']\ndocs=['sphinx']\n"
                    .to_string(),
            ),
            _ => None,
        }
        };
        assert_eq!(
            static_requirements(&install, &downloads, &read),
            v(&[
                "requests==2.31",
                "attrs; python_version > '3'",
                "django~=4.2",
                "click>=8",
                "pytest"
            ])
        );
    }

    #[test]
    fn a_project_without_static_metadata_adds_nothing() {
        let install = v(&["pip install ."]);
        let read = |path: &str| (path == "pyproject.toml").then(|| "[build-system]\n".to_string());
        assert!(static_requirements(&install, &[v(&["."])], &read).is_empty());
    }
}
