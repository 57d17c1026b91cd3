//! pytest plugins a release's own pytest configuration needs: an option only a plugin
//! defines (`asyncio_mode` is pytest-asyncio's, `--cov` in `addopts` pytest-cov's)
//! makes pytest stop before any test runs ("Unknown config option", "unrecognized
//! arguments"), yet the plugin is often declared only in a requirements file the
//! sdist leaves out. The configuration says which plugin its author runs with; this
//! module reads that, last in trust, so anything the release declares wins.
//!
//! Pure.

use super::Collector;
use crate::tox::Ini;
use std::collections::BTreeMap;

/// Configuration keys (lowercased, as pytest's INI reading leaves them) that only a
/// plugin defines, and the plugin.
const KEYS: &[(&str, &str)] = &[
    ("asyncio_mode", "pytest-asyncio"),
    ("asyncio_default_fixture_loop_scope", "pytest-asyncio"),
    ("django_settings_module", "pytest-django"),
    ("django_find_project", "pytest-django"),
    ("timeout", "pytest-timeout"),
    ("timeout_method", "pytest-timeout"),
    ("mock_use_standalone_module", "pytest-mock"),
    ("trio_mode", "pytest-trio"),
    ("env", "pytest-env"),
];

/// `addopts` options (an option, or the start of one) that only a plugin defines.
const OPTIONS: &[(&str, &str)] = &[
    ("--cov", "pytest-cov"),
    ("--no-cov", "pytest-cov"),
    ("-n", "pytest-xdist"),
    ("--numprocesses", "pytest-xdist"),
    ("--dist", "pytest-xdist"),
    ("--timeout", "pytest-timeout"),
    ("--reruns", "pytest-rerunfailures"),
    ("--benchmark-", "pytest-benchmark"),
    ("--ds", "pytest-django"),
    ("--mypy", "pytest-mypy"),
    ("--flake8", "pytest-flake8"),
];

/// Adds the plugins the pytest configuration among `texts` (path → text) needs.
pub fn read(texts: &BTreeMap<String, String>, pyproject: Option<&toml::Table>, c: &mut Collector) {
    if let Some((keys, file)) = configured(texts, pyproject) {
        for (key, value) in keys {
            for plugin in needs(&key, &value) {
                c.add(
                    plugin,
                    &format!("`{key}` in the pytest configuration of {file}"),
                );
            }
        }
    }
}

/// The pytest configuration pytest would read, as (key, value) pairs and the file:
/// the first of pytest.ini, pyproject.toml's `[tool.pytest.ini_options]`, tox.ini's
/// `[pytest]` and setup.cfg's `[tool:pytest]`, as pytest looks for them.
fn configured(
    texts: &BTreeMap<String, String>,
    pyproject: Option<&toml::Table>,
) -> Option<(Vec<(String, String)>, &'static str)> {
    let ini = |file: &'static str, section: &str| {
        let parsed = Ini::parse(texts.get(file)?);
        let keys = parsed.section(section)?;
        Some((
            keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            file,
        ))
    };
    if let Some(found) = ini("pytest.ini", "pytest") {
        return Some(found);
    }
    if let Some(options) = pyproject.and_then(|p| {
        p.get("tool")?
            .get("pytest")?
            .get("ini_options")?
            .as_table()
            .cloned()
    }) {
        let keys = options
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .filter_map(|i| i.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.to_string(),
                };
                (k.to_ascii_lowercase(), value)
            })
            .collect();
        return Some((keys, "pyproject.toml"));
    }
    ini("tox.ini", "pytest").or_else(|| ini("setup.cfg", "tool:pytest"))
}

/// The plugins one configuration entry needs.
fn needs(key: &str, value: &str) -> Vec<&'static str> {
    if key == "addopts" {
        let mut out: Vec<&'static str> = Vec::new();
        for word in value.split_whitespace() {
            let option = word.split('=').next().unwrap_or(word);
            let plugin = OPTIONS.iter().find(|(o, _)| {
                option == *o
                    || (o.ends_with('-') && option.starts_with(o))
                    || (o.starts_with("--") && option.starts_with(&format!("{o}-")))
            });
            if let Some((_, p)) = plugin.filter(|(_, p)| !out.contains(p)) {
                out.push(p);
            }
        }
        return out;
    }
    KEYS.iter()
        .filter(|(k, _)| *k == key)
        .map(|(_, p)| *p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugins(files: &[(&str, &str)]) -> Vec<(String, String)> {
        let texts: BTreeMap<String, String> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        let pyproject = texts
            .get("pyproject.toml")
            .map(|t| t.parse::<toml::Table>().expect("toml"));
        let mut c = Collector::default();
        read(&texts, pyproject.as_ref(), &mut c);
        c.setup
            .dependencies
            .into_iter()
            .map(|d| (d.requirement, d.source))
            .collect()
    }

    #[test]
    fn plugins_are_read_from_the_configuration_pytest_uses() {
        let got = plugins(&[(
            "pyproject.toml",
            "[tool.pytest.ini_options]\nasyncio_mode = \"auto\"\naddopts = \"--cov=blinker -n 2 --strict-markers\"\n",
        )]);
        assert_eq!(
            got,
            vec![
                (
                    "pytest-cov".to_string(),
                    "`addopts` in the pytest configuration of pyproject.toml".to_string()
                ),
                (
                    "pytest-xdist".to_string(),
                    "`addopts` in the pytest configuration of pyproject.toml".to_string()
                ),
                (
                    "pytest-asyncio".to_string(),
                    "`asyncio_mode` in the pytest configuration of pyproject.toml".to_string()
                ),
            ]
        );
        let got = plugins(&[(
            "setup.cfg",
            "[tool:pytest]\nDJANGO_SETTINGS_MODULE = tests.settings\naddopts = --reruns 2 --benchmark-skip\n",
        )]);
        let names: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            names,
            ["pytest-django", "pytest-rerunfailures", "pytest-benchmark"]
        );
    }

    #[test]
    fn only_the_file_pytest_reads_counts_and_plain_options_need_nothing() {
        // pytest.ini wins over setup.cfg, as pytest looks for it first.
        let got = plugins(&[
            (
                "pytest.ini",
                "[pytest]\naddopts = -ra --strict-markers -p no:cacheprovider\n",
            ),
            ("setup.cfg", "[tool:pytest]\ntimeout = 10\n"),
        ]);
        assert_eq!(got, Vec::<(String, String)>::new());
        // `--co` is not `--cov`; `-nauto` is not `-n`.
        assert_eq!(needs("addopts", "--co --covfefe"), Vec::<&str>::new());
        assert_eq!(
            needs("addopts", "--cov-report=term -n auto"),
            ["pytest-cov", "pytest-xdist"]
        );
        assert_eq!(needs("minversion", "7"), Vec::<&str>::new());
    }
}
