//! GitHub Actions workflows (`.github/workflows/*.yml`) → a [`Draft`]: the job that
//! runs the tests, its `strategy.matrix` (include and exclude kept, the axis that
//! `actions/setup-python` reads renamed `python`), its services mapped to the catalog
//! by image, its `env`, and the `run:` lines that install and test.
//!
//! Pure: reads YAML text with the matrix file's own parser; never runs anything.

use super::draft::{self, Draft, Entry, Service};
use super::steps::{self, Line};
use super::InitError;
use crate::matrix::yaml::{self, Node};
use indexmap::IndexMap;

/// One workflow file: its path (for messages) and text.
pub struct Workflow<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// Translates the job of `workflows` that runs the tests (the first with a test
/// line, else the first with a matrix) into a draft named `name`.
pub fn translate(workflows: &[Workflow<'_>], name: &str) -> Result<Draft, InitError> {
    let mut jobs: Vec<(&str, String, Node, Option<Node>)> = Vec::new();
    for w in workflows {
        let root = yaml::parse(w.text)
            .map_err(|e| InitError::Yaml {
                file: w.path.to_string(),
                line: e.pos.line,
                col: e.pos.col,
                message: e.message,
            })?
            .ok_or_else(|| InitError::NoJob(w.path.to_string()))?;
        let env = get(&root, "env").cloned();
        for (job_name, job) in get(&root, "jobs").and_then(Node::map).into_iter().flatten() {
            jobs.push((w.path, job_name.clone(), job.value.clone(), env.clone()));
        }
    }
    let runs_tests = |job: &Node| {
        run_lines(job)
            .iter()
            .any(|(_, l, _)| matches!(steps::classify(l), Line::Test(_) | Line::Tox))
    };
    let chosen = jobs
        .iter()
        .position(|(_, _, job, _)| runs_tests(job))
        .or_else(|| {
            jobs.iter()
                .position(|(_, _, job, _)| get_path(job, &["strategy", "matrix"]).is_some())
        })
        .ok_or_else(|| {
            InitError::NoJob(
                workflows
                    .iter()
                    .map(|w| w.path)
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    let (path, job_name, job, top_env) = &jobs[chosen];
    let mut d = Draft {
        origin: format!("{path}, job `{job_name}`"),
        name: name.to_string(),
        ..Draft::default()
    };
    let others: Vec<String> = jobs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != chosen)
        .map(|(_, (p, n, _, _))| format!("`{n}` ({p})"))
        .collect();
    if !others.is_empty() {
        d.note(format!("other jobs: {}", others.join(", ")));
    }
    let python_axis = python_axis(job, &mut d);
    let rename = move |n: &str| match &python_axis {
        Some(axis) if axis == n => "python".to_string(),
        _ => n.to_string(),
    };
    strategy(job, &rename, &mut d);
    runs_on(job, &mut d);
    services(job, &mut d);
    for env in [top_env.as_ref(), get(job, "env")].into_iter().flatten() {
        env_vars(env, &rename, &mut d);
    }
    run_steps(job, &rename, &mut d);
    if let Some(axis) = get(job, "continue-on-error")
        .and_then(text)
        .as_deref()
        .and_then(steps::matrix_reference)
    {
        d.allow_failure
            .push(Entry::from([(rename(axis), "true".to_string())]));
    }
    d.timeout_minutes = get(job, "timeout-minutes")
        .and_then(text)
        .and_then(|t| t.parse().ok());
    if d.axes.is_empty() {
        // A matrix file needs an axis; a job without a matrix is one Python.
        let python = d.python.take().unwrap_or_else(|| "3.11".into());
        d.axes.insert("python".into(), vec![python]);
    }
    Ok(d)
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.map()?.get(key).map(|e| &e.value)
}

fn get_path<'a>(node: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    keys.iter().try_fold(node, |n, k| get(n, k))
}

fn text(node: &Node) -> Option<String> {
    node.scalar().map(|s| s.text.clone())
}

/// Every logical line of the job's `run:` steps, with the step's `if:` and `env:`.
fn run_lines(job: &Node) -> Vec<(Option<String>, String, Option<Node>)> {
    let mut out = Vec::new();
    for step in get(job, "steps").and_then(Node::seq).unwrap_or_default() {
        let Some(script) = get(step, "run").and_then(text) else {
            continue;
        };
        let cond = get(step, "if").and_then(text);
        for line in crate::tox::lines(&script) {
            out.push((cond.clone(), line, get(step, "env").cloned()));
        }
    }
    out
}

/// The matrix axis `actions/setup-python` reads (renamed `python`), or its literal
/// version as `python:`.
fn python_axis(job: &Node, d: &mut Draft) -> Option<String> {
    let steps = get(job, "steps").and_then(Node::seq).unwrap_or_default();
    let setup = steps.iter().find(|s| {
        get(s, "uses")
            .and_then(text)
            .is_some_and(|u| u.starts_with("actions/setup-python"))
    })?;
    let Some(version) = get_path(setup, &["with", "python-version"]).and_then(text) else {
        d.note("actions/setup-python without a `python-version` (a version file?): ponyswarm uses 3.11");
        return None;
    };
    if let Some(axis) = steps::matrix_reference(&version) {
        return Some(axis.to_string());
    }
    match draft::python_version(&version) {
        Some(v) => d.python = Some(v),
        None => d.note(format!(
            "python-version `{version}` names no version: ponyswarm uses 3.11"
        )),
    }
    None
}

fn strategy(job: &Node, rename: &dyn Fn(&str) -> String, d: &mut Draft) {
    let Some(strategy) = get(job, "strategy") else {
        return;
    };
    // GitHub cancels the other jobs on a failure unless told not to.
    d.fail_fast = get(strategy, "fail-fast")
        .and_then(text)
        .is_none_or(|t| t != "false");
    d.max_parallel = get(strategy, "max-parallel")
        .and_then(text)
        .and_then(|t| t.parse().ok());
    let Some(matrix) = get(strategy, "matrix") else {
        return;
    };
    let Some(map) = matrix.map() else {
        d.note(format!(
            "strategy.matrix is an expression ({}): write the axes by hand",
            text(matrix).unwrap_or_default()
        ));
        return;
    };
    for (key, entry) in map {
        match key.as_str() {
            "include" | "exclude" => {
                let mut list = Vec::new();
                for item in entry.value.seq().unwrap_or_default() {
                    match combination(item, rename) {
                        Some(e) => list.push(e),
                        None => d.note(format!(
                            "a matrix {key} entry that is not flat values (line {})",
                            item.pos.line
                        )),
                    }
                }
                if key == "include" {
                    d.include = list;
                } else {
                    d.exclude = list;
                }
            }
            _ => match entry
                .value
                .seq()
                .map(|items| items.iter().map(text).collect::<Option<Vec<_>>>())
            {
                Some(Some(values)) => {
                    d.axes.insert(rename(key), values);
                }
                _ => d.note(format!("matrix axis `{key}` is not a list of values")),
            },
        }
    }
    if d.axes.contains_key("python") {
        normalize_pythons(d);
    }
}

fn combination(node: &Node, rename: &dyn Fn(&str) -> String) -> Option<Entry> {
    node.map()?
        .iter()
        .map(|(k, e)| Some((rename(k), text(&e.value)?)))
        .collect()
}

/// Python values as the catalog names them; PyPy versions become one `pypy3`.
fn normalize_pythons(d: &mut Draft) {
    let map = |v: &str, d: &mut Draft| -> String {
        draft::python_version(v).unwrap_or_else(|| {
            d.note(format!("python `{v}` names no version; kept as written"));
            v.to_string()
        })
    };
    let values = d.axes["python"].clone();
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let m = map(&v, d);
        if out.contains(&m) {
            d.note(format!("python `{v}` is `{m}` here, already in the matrix"));
        } else {
            out.push(m);
        }
    }
    d.axes.insert("python".into(), out);
    for i in 0..d.include.len() + d.exclude.len() {
        let (list, j) = if i < d.include.len() {
            (&mut d.include, i)
        } else {
            (&mut d.exclude, i - d.include.len())
        };
        if let Some(v) = list[j].get("python").cloned() {
            let m = draft::python_version(&v).unwrap_or(v);
            list[j].insert("python".into(), m);
        }
    }
}

/// Keeps only the Linux values of an `os` axis that `runs-on` reads.
fn runs_on(job: &Node, d: &mut Draft) {
    let Some(runs_on) = get(job, "runs-on").and_then(text) else {
        return;
    };
    let linux = |v: &str| v.contains("ubuntu") || v.contains("linux");
    let Some(axis) = steps::matrix_reference(&runs_on) else {
        if !linux(&runs_on) {
            d.note(format!(
                "runs-on `{runs_on}`: ponyswarm runs Linux containers"
            ));
        }
        return;
    };
    let Some(values) = d.axes.get_mut(axis) else {
        return;
    };
    let dropped: Vec<String> = values.iter().filter(|v| !linux(v)).cloned().collect();
    values.retain(|v| linux(v));
    if !dropped.is_empty() {
        d.note(format!(
            "jobs on {}: ponyswarm runs Linux containers",
            dropped.join(", ")
        ));
    }
    let axis = axis.to_string();
    d.include.retain(|e| e.get(&axis).is_none_or(|v| linux(v)));
    d.exclude.retain(|e| e.get(&axis).is_none_or(|v| linux(v)));
}

/// Services mapped to the catalog by image; started only for the jobs whose matrix
/// names them, when an axis does (`database: [sqlite, postgres]`).
fn services(job: &Node, d: &mut Draft) {
    for (name, entry) in get(job, "services")
        .and_then(Node::map)
        .into_iter()
        .flatten()
    {
        let image = get(&entry.value, "image")
            .and_then(text)
            .or_else(|| text(&entry.value));
        let Some(image) = image else {
            continue;
        };
        let catalog = draft::catalog_service(&image);
        let mut service = Service {
            image: catalog.unwrap_or(&image).to_string(),
            port: None,
            when: None,
            env: IndexMap::new(),
        };
        let env = get(&entry.value, "env").and_then(Node::map);
        if catalog.is_some() {
            if env.is_some_and(|e| !e.is_empty()) {
                d.note(format!("service `{name}`'s env: the catalog's {} sets its own user, password and database (see {}_USER etc.)", service.image, name.to_uppercase()));
            }
        } else {
            service.port = get(&entry.value, "ports")
                .and_then(Node::seq)
                .and_then(|p| p.first())
                .and_then(text)
                .and_then(|p| p.rsplit(':').next()?.split('/').next()?.parse().ok());
            if service.port.is_none() {
                d.note(format!(
                    "service `{name}` ({image}) publishes no port; give it `port:`"
                ));
                continue;
            }
            for (k, e) in env.into_iter().flatten() {
                service
                    .env
                    .insert(k.clone(), text(&e.value).unwrap_or_default());
            }
        }
        let names = [
            name.as_str(),
            service.image.as_str(),
            if service.image == "mariadb" {
                "mysql"
            } else {
                "postgresql"
            },
        ];
        let hits: Vec<(String, String)> = d
            .axes
            .iter()
            .flat_map(|(axis, values)| {
                values
                    .iter()
                    .filter(|v| names.contains(&v.as_str()))
                    .map(move |v| (axis.clone(), v.clone()))
            })
            .collect();
        if let [(axis, value)] = hits.as_slice() {
            service.when = Some(Entry::from([(axis.clone(), value.clone())]));
        }
        d.services.insert(name.clone(), service);
    }
}

fn env_vars(env: &Node, rename: &dyn Fn(&str) -> String, d: &mut Draft) {
    for (k, e) in env.map().into_iter().flatten() {
        let value = text(&e.value).unwrap_or_default();
        match steps::translate(&value, rename, false) {
            Ok(v) => {
                d.env.insert(k.clone(), v);
            }
            Err(steps::Untranslatable(expr)) => d.note(format!("env `{k}`: {expr}")),
        }
    }
}

fn run_steps(job: &Node, rename: &dyn Fn(&str) -> String, d: &mut Draft) {
    let mut tests = Vec::new();
    for (cond, line, env) in run_lines(job) {
        let line = match steps::translate(&line, rename, true) {
            Ok(l) => l,
            Err(steps::Untranslatable(expr)) => {
                d.note(format!("`{line}`: {expr}"));
                continue;
            }
        };
        let kind = steps::classify(&line);
        let guarded = |l: String, d: &mut Draft| match &cond {
            None => Some(l),
            Some(c) => match steps::simple_condition(c, rename) {
                Some(h) => Some(format!("{{{{#if {h}}}}}{l}{{{{else}}}}true{{{{/if}}}}")),
                None => {
                    d.note(format!("`{l}` runs only `if: {c}`"));
                    None
                }
            },
        };
        match kind {
            Line::Install(l) => {
                if let Some(l) = guarded(l, d) {
                    d.install.push(l);
                }
            }
            Line::Test(l) => {
                if let Some(env) = &env {
                    env_vars(env, rename, d);
                }
                if let Some(l) = guarded(l, d) {
                    tests.push(l);
                }
            }
            Line::InstallerUpgrade => {}
            Line::Tox => d.note(format!(
                "`{line}`: tox is not translated; `ponyswarm init --from tox.ini` reads tox.ini"
            )),
            Line::Other(l) => d.note(format!("`{l}`")),
        }
    }
    if !tests.is_empty() {
        d.test = Some(tests.join(" && "));
    }
    for step in get(job, "steps").and_then(Node::seq).unwrap_or_default() {
        if let Some(uses) = get(step, "uses").and_then(text) {
            let known = ["actions/checkout", "actions/setup-python", "actions/cache"];
            if !known.iter().any(|k| uses.starts_with(k)) {
                d.note(format!("step uses `{uses}`"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(text: &str) -> Draft {
        translate(
            &[Workflow {
                path: "ci.yml",
                text,
            }],
            "p",
        )
        .expect(text)
    }

    #[test]
    fn setup_python_axis_becomes_python_and_os_keeps_linux() {
        let d = draft(
            "jobs:\n  t:\n    runs-on: ${{ matrix.os }}\n    strategy:\n      matrix:\n        os: [ubuntu-22.04, windows-latest]\n        py: ['3.9', pypy-3.10]\n        exclude: [{os: windows-latest, py: '3.9'}]\n    steps:\n      - uses: actions/setup-python@v5\n        with: {python-version: '${{ matrix.py }}'}\n      - run: pytest -k ${{ matrix.py }}\n",
        );
        assert_eq!(d.axes["python"], ["3.9", "pypy3"]);
        assert_eq!(d.axes["os"], ["ubuntu-22.04"]);
        assert!(d.exclude.is_empty());
        assert_eq!(d.test.as_deref(), Some("pytest -k {{matrix.python}}"));
        assert!(d.fail_fast, "GitHub fails fast unless told not to");
        assert!(
            d.notes.iter().any(|n| n.contains("windows-latest")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn services_map_to_the_catalog_and_follow_a_database_axis() {
        let d = draft(
            "jobs:\n  t:\n    strategy:\n      fail-fast: false\n      matrix: {db: [sqlite, postgres]}\n    services:\n      postgres: {image: 'postgres:16'}\n      redis: {image: 'redis:7'}\n      cache: {image: 'memcached:1.6', ports: ['11211:11211']}\n      other: {image: 'example/thing:1'}\n    steps:\n      - run: python -m pytest\n",
        );
        let names: Vec<(&str, &str)> = d
            .services
            .iter()
            .map(|(k, s)| (k.as_str(), s.image.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("postgres", "postgres"),
                ("redis", "redis"),
                ("cache", "memcached:1.6")
            ]
        );
        assert_eq!(
            d.services["postgres"].when,
            Some(Entry::from([("db".to_string(), "postgres".to_string())]))
        );
        assert_eq!(d.services["redis"].when, None);
        assert_eq!(d.services["cache"].port, Some(11211));
        assert!(!d.fail_fast);
        assert!(
            d.notes.iter().any(|n| n.contains("`other`")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn tox_in_a_workflow_is_reported_not_translated() {
        let d = draft("jobs:\n  t:\n    steps:\n      - run: |\n          pip install tox\n          tox -e py\n");
        assert_eq!(d.test, None);
        assert_eq!(d.axes["python"], ["3.11"]);
        assert!(
            d.notes.iter().any(|n| n.contains("tox is not translated")),
            "{:?}",
            d.notes
        );
    }
}
