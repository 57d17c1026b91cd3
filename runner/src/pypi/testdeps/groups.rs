//! Test dependencies from pyproject.toml's tables: PEP 735 `[dependency-groups]`
//! (with `{include-group = …}`), hatch's test envs and pdm's dev-dependencies.
//! Poetry's groups are in [`super::poetry`].
//!
//! Pure.

use super::{test_names, Collector};

/// How deep `include-group` chains are followed.
const MAX_INCLUDE_DEPTH: usize = 8;

fn table<'a>(v: &'a toml::Table, path: &[&str]) -> Option<&'a toml::Table> {
    let mut t = v;
    for key in path {
        t = t.get(*key)?.as_table()?;
    }
    Some(t)
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

/// The requirements of group `name`, includes followed.
fn group(groups: &toml::Table, name: &str, depth: usize, c: &mut Collector) -> Vec<String> {
    let Some(items) = groups.get(name).and_then(|g| g.as_array()) else {
        c.note(format!(
            "[dependency-groups]: group {name:?} is included but not defined"
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(s) = item.as_str() {
            out.push(s.to_string());
        } else if let Some(inc) = item.get("include-group").and_then(|i| i.as_str()) {
            if depth >= MAX_INCLUDE_DEPTH {
                c.note(format!(
                    "[dependency-groups]: include-group deeper than {MAX_INCLUDE_DEPTH} (a cycle?) at {inc:?}"
                ));
            } else {
                out.extend(group(groups, inc, depth + 1, c));
            }
        }
    }
    out
}

/// `[dependency-groups]`: the test groups, else `dev`.
pub fn dependency_groups(py: &toml::Table, c: &mut Collector) {
    let Some(groups) = table(py, &["dependency-groups"]) else {
        return;
    };
    let names: Vec<String> = groups.keys().cloned().collect();
    for name in test_names(&names) {
        let source = format!("[dependency-groups] {name} in pyproject.toml");
        for req in group(groups, &name, 0, c) {
            c.add(&req, &source);
        }
    }
}

/// hatch: `dependencies` and `extra-dependencies` of `[tool.hatch.envs.test]` (or
/// `tests`, `hatch-test`); its `test` script is the author's command when none was
/// found earlier.
pub fn hatch(py: &toml::Table, c: &mut Collector) {
    for env in ["test", "tests", "hatch-test"] {
        let Some(t) = table(py, &["tool", "hatch", "envs", env]) else {
            continue;
        };
        let source = format!("[tool.hatch.envs.{env}] in pyproject.toml");
        for key in ["dependencies", "extra-dependencies"] {
            for req in strings(t.get(key)) {
                c.add(&req, &source);
            }
        }
        for extra in strings(t.get("features")) {
            c.add_extra(&extra);
        }
        if c.setup.command.is_none() {
            if let Some(script) = t.get("scripts").and_then(|s| s.get("test")) {
                hatch_script(script, &source, c);
            }
        }
    }
}

/// A hatch script (a string or a list of strings) as the command, `{args}` written as
/// the job runs it (empty, or its default).
fn hatch_script(script: &toml::Value, source: &str, c: &mut Collector) {
    let lines: Vec<String> = match script {
        toml::Value::String(s) => vec![s.clone()],
        other => strings(Some(other)),
    };
    let mut out = Vec::new();
    for line in lines {
        let line = match (line.find("{args"), line.find('}')) {
            (Some(start), Some(end)) if end > start => {
                let inner = &line[start + 1..end];
                let default = inner.split_once(':').map(|(_, d)| d).unwrap_or("");
                format!("{}{default}{}", &line[..start], &line[end + 1..])
            }
            _ => line,
        };
        if line.contains(['{', '}']) {
            c.note(format!(
                "{source}: test script {line:?} not used: it uses hatch substitutions ponyswarm does not handle"
            ));
            return;
        }
        out.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    if !out.is_empty() {
        c.setup.command = Some(super::AuthorCommand {
            command: out.join(" && "),
            source: format!("test script of {source}"),
        });
    }
}

/// pdm: `[tool.pdm.dev-dependencies]` test groups, else `dev`.
pub fn pdm(py: &toml::Table, c: &mut Collector) {
    let Some(groups) = table(py, &["tool", "pdm", "dev-dependencies"]) else {
        return;
    };
    let names: Vec<String> = groups.keys().cloned().collect();
    for name in test_names(&names) {
        let source = format!("[tool.pdm.dev-dependencies] {name} in pyproject.toml");
        for req in strings(groups.get(&name)) {
            c.add(&req, &source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str, f: fn(&toml::Table, &mut Collector)) -> super::super::TestSetup {
        let py: toml::Table = text.parse().expect("toml");
        let mut c = Collector::default();
        f(&py, &mut c);
        c.setup
    }

    fn reqs(s: &super::super::TestSetup) -> Vec<(&str, &str)> {
        s.dependencies
            .iter()
            .map(|d| (d.requirement.as_str(), d.source.as_str()))
            .collect()
    }

    #[test]
    fn dependency_groups_follow_includes() {
        let setup = collect(
            "[dependency-groups]\ntyping = [\"mypy\"]\nbase = [\"attrs\"]\ntest = [\"pytest\", {include-group = \"base\"}, {include-group = \"nope\"}]\ndev = [\"ruff\", {include-group = \"test\"}]\n",
            dependency_groups,
        );
        let src = "[dependency-groups] test in pyproject.toml";
        assert_eq!(reqs(&setup), vec![("pytest", src), ("attrs", src)]);
        assert!(setup.notes[0].contains("\"nope\" is included but not defined"));
    }

    #[test]
    fn include_cycles_end() {
        let setup = collect(
            "[dependency-groups]\ntests = [\"a\", {include-group = \"tests\"}]\n",
            dependency_groups,
        );
        assert_eq!(setup.dependencies.len(), 1);
        assert!(setup.notes.iter().any(|n| n.contains("a cycle?")));
    }

    #[test]
    fn dev_group_when_no_test_group() {
        let setup = collect(
            "[dependency-groups]\ndev = [\"pytest\"]\n",
            dependency_groups,
        );
        assert_eq!(
            reqs(&setup),
            vec![("pytest", "[dependency-groups] dev in pyproject.toml")]
        );
    }

    #[test]
    fn hatch_test_env_gives_deps_and_script() {
        let setup = collect(
            "[tool.hatch.envs.test]\ndependencies = [\"pytest\", \"coverage[toml]\"]\nfeatures = [\"all\"]\n[tool.hatch.envs.test.scripts]\ntest = \"pytest {args:tests}\"\n",
            hatch,
        );
        let src = "[tool.hatch.envs.test] in pyproject.toml";
        assert_eq!(reqs(&setup), vec![("pytest", src), ("coverage[toml]", src)]);
        assert_eq!(setup.extras, vec!["all"]);
        assert_eq!(setup.command.expect("command").command, "pytest tests");
    }

    #[test]
    fn hatch_scripts_with_other_substitutions_are_not_used() {
        let setup = collect(
            "[tool.hatch.envs.hatch-test.scripts]\ntest = [\"pytest {env:X}\"]\n",
            hatch,
        );
        assert_eq!(setup.command, None);
        assert_eq!(setup.notes.len(), 1);
    }

    #[test]
    fn pdm_dev_dependencies_test_group() {
        let setup = collect(
            "[tool.pdm.dev-dependencies]\nlint = [\"ruff\"]\ntest = [\"pytest\", \"-e file:///${PROJECT_ROOT}/sub\"]\n",
            pdm,
        );
        assert_eq!(
            reqs(&setup),
            vec![(
                "pytest",
                "[tool.pdm.dev-dependencies] test in pyproject.toml"
            )]
        );
        assert_eq!(setup.notes.len(), 1);
    }
}
