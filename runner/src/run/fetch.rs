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
///
/// A marker pip wrote with one (`Sphinx; extra == "docs"`) is dropped: pip asked for
/// the requirement, so the marker held where it asked, and fetched with it, out of
/// that context (no extra asked for), it would hold nothing and fetch nothing.
pub fn missing_requirements(output: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in output.lines() {
        let Some((_, req)) = line.split_once("No matching distribution found for ") else {
            continue;
        };
        let req = req.split(';').next().unwrap_or_default();
        let req = req.trim().trim_end_matches('.').to_string();
        if !req.is_empty() && !out.contains(&req) {
            out.push(req);
        }
    }
    out
}

/// The resolution as of a cutoff: uv's `pip compile --exclude-newer` run in the
/// fetch container turns requirements into exact pins, considering only files
/// uploaded before `cutoff` (RFC 3339), for the interpreter `python`; pip then
/// downloads those pins with `--no-deps`, as it downloads anything else.
///
/// `index` are pip's index options of the install commands ([`index_options`]),
/// translated; several indexes are merged as pip merges them (best match across all,
/// not uv's first index that has the name). `input` is a requirements file written
/// by [`requirements_file`], `output` where the pins go.
pub fn uv_compile_command(
    input: &str,
    output: &str,
    python: &str,
    index: &[String],
    cutoff: &str,
) -> Vec<String> {
    let mut cmd: Vec<String> = [
        "uv",
        "pip",
        "compile",
        "--quiet",
        "--no-config",
        "--no-header",
        "--no-annotate",
        "--cache-dir",
        "/tmp/ponyswarm-uv-cache",
        "--python",
        python,
        "--index-strategy",
        "unsafe-best-match",
        "--exclude-newer",
        cutoff,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut it = index.iter();
    while let Some(option) = it.next() {
        let (name, inline) = match option.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (option.as_str(), None),
        };
        let uv = match name {
            "--pre" => {
                cmd.extend(["--prerelease".to_string(), "allow".to_string()]);
                continue;
            }
            "-i" | "--index-url" => "--index-url",
            "--extra-index-url" => "--extra-index-url",
            "-f" | "--find-links" => "--find-links",
            _ => continue,
        };
        if let Some(value) = inline.or_else(|| it.next().cloned()) {
            cmd.extend([uv.to_string(), value]);
        }
    }
    cmd.extend([input.to_string(), "-o".to_string(), output.to_string()]);
    cmd
}

/// The operator's index settings for pip (`PIP_INDEX_URL=…`, `PIP_EXTRA_INDEX_URL=…`,
/// `PIP_TRUSTED_HOST=…`), as uv reads them (`UV_INDEX_URL`, `UV_EXTRA_INDEX_URL`,
/// `UV_INSECURE_HOST`), for the resolution as of a cutoff.
pub fn uv_index_env(pip_env: &[String]) -> Vec<String> {
    pip_env
        .iter()
        .filter_map(|v| {
            let (name, value) = v.split_once('=')?;
            let uv = match name {
                "PIP_INDEX_URL" => "UV_INDEX_URL",
                "PIP_EXTRA_INDEX_URL" => "UV_EXTRA_INDEX_URL",
                "PIP_TRUSTED_HOST" => "UV_INSECURE_HOST",
                _ => return None,
            };
            Some(format!("{uv}={value}"))
        })
        .collect()
}

/// The requirements file uv resolves: one requirement a line. A line of a
/// requirements file that starts with `-` is an option (`--index-url`, `-r FILE`), so
/// only requirements starting with a letter or digit, on one line, are written; the
/// others are left to the offline step, which names what it misses.
pub fn requirements_file(reqs: &[String]) -> String {
    reqs.iter()
        .map(|r| r.trim())
        .filter(|r| r.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()))
        .filter(|r| !r.contains(['\n', '\r', '\0']))
        .map(|r| format!("{r}\n"))
        .collect()
}

/// The projects uv says its cutoff filtered out when a resolution failed, from its
/// hints (`` hint: `foo` was filtered by `exclude-newer` to only include packages
/// uploaded before … ``): in order, without repeats.
pub fn filtered_by_cutoff(output: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in output.lines() {
        let Some((before, _)) = line.split_once("` was filtered by `exclude-newer`") else {
            continue;
        };
        let Some((_, name)) = before.rsplit_once('`') else {
            continue;
        };
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
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
            (
                "ERROR: No matching distribution found for Sphinx; extra == \"docs\"\n\
                 ERROR: No matching distribution found for tomli; python_version < \"3.11\"",
                &["Sphinx", "tomli"],
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

    #[test]
    fn the_resolution_as_of_a_cutoff_is_uv_pip_compile_with_exclude_newer() {
        let index = v(&[
            "-i",
            "https://idx.example/simple",
            "--pre",
            "--extra-index-url=https://b.example/s",
            "--find-links",
            "https://f.example/wheels/",
        ]);
        let cmd = uv_compile_command(
            "/tmp/in.txt",
            "/tmp/pins.txt",
            "/tmp/prepare-venv/bin/python",
            &index,
            "2023-04-02T10:11:12Z",
        );
        let line = shell_words::join(&cmd);
        assert!(
            line.starts_with("uv pip compile --quiet --no-config"),
            "{line}"
        );
        for part in [
            "--python /tmp/prepare-venv/bin/python",
            "--index-strategy unsafe-best-match",
            "--exclude-newer 2023-04-02T10:11:12Z",
            "--index-url https://idx.example/simple",
            "--prerelease allow",
            "--extra-index-url https://b.example/s",
            "--find-links https://f.example/wheels/",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        assert!(line.ends_with("/tmp/in.txt -o /tmp/pins.txt"), "{line}");
    }

    #[test]
    fn the_operators_index_reaches_uv_by_uvs_names() {
        let env = v(&[
            "PIP_INDEX_URL=https://mirror/simple",
            "PIP_EXTRA_INDEX_URL=http://10.0.0.1:8080/simple/ https://b/simple",
            "PIP_TRUSTED_HOST=10.0.0.1",
            "HTTPS_PROXY=http://door:3128",
        ]);
        assert_eq!(
            uv_index_env(&env),
            v(&[
                "UV_INDEX_URL=https://mirror/simple",
                "UV_EXTRA_INDEX_URL=http://10.0.0.1:8080/simple/ https://b/simple",
                "UV_INSECURE_HOST=10.0.0.1",
            ])
        );
    }

    #[test]
    fn only_plain_requirements_reach_the_requirements_file() {
        let reqs = v(&[
            "pytest",
            " attrs[tests]<24 ",
            "tomli; python_version < \"3.11\"",
            "--index-url=http://evil/",
            "-r /etc/passwd",
            "x\n--index-url http://evil/",
            "",
        ]);
        assert_eq!(
            requirements_file(&reqs),
            "pytest\nattrs[tests]<24\ntomli; python_version < \"3.11\"\n"
        );
    }

    #[test]
    fn what_the_cutoff_filtered_is_read_from_uvs_hints() {
        let output = "error: No solution found when resolving dependencies\n  \
            cause: Because there are no versions of uv-build and you require uv-build, we can conclude that your requirements are unsatisfiable.\n\n\
            hint: `uv-build` was filtered by `exclude-newer` to only include packages uploaded before 2023-01-01T00:00:00Z. The latest version satisfying the requirement is v0.13.6.\n\
            hint: `pytest` was filtered by `exclude-newer` to only include packages uploaded before 2023-01-01T00:00:00Z.\n\
            hint: `pytest` was filtered by `exclude-newer` again\n";
        assert_eq!(filtered_by_cutoff(output), v(&["uv-build", "pytest"]));
        assert!(filtered_by_cutoff("Resolved 3 packages").is_empty());
    }
}
