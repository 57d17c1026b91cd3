//! Poetry's test groups (`[tool.poetry.group.test.dependencies]`, the older
//! `[tool.poetry.dev-dependencies]`), with poetry's constraints (`^1.2`, `~1.2.3`,
//! `*`) written as PEP 440 specifiers.
//!
//! Pure.

use super::{test_names, Collector};

/// A poetry version constraint as a PEP 440 specifier (empty for any version), or
/// why not.
pub fn constraint(c: &str) -> Result<String, String> {
    let c = c.trim();
    if c.is_empty() || c == "*" {
        return Ok(String::new());
    }
    if c.contains("||") {
        return Err(format!("constraint {c:?}: `||` has no PEP 440 form"));
    }
    let parts: Vec<String> = c
        .split(',')
        .flat_map(|p| p.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let mut out = Vec::new();
    for p in parts {
        out.push(one(&p)?);
    }
    Ok(out.join(","))
}

fn numbers(v: &str) -> Result<Vec<u64>, String> {
    v.split('.')
        .map(|n| n.parse::<u64>().map_err(|_| format!("version {v:?}")))
        .collect()
}

fn join(nums: &[u64]) -> String {
    nums.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn one(p: &str) -> Result<String, String> {
    if let Some(v) = p.strip_prefix('^') {
        let n = numbers(v)?;
        // The upper bound bumps the first non-zero part (or the last one given).
        let at = n
            .iter()
            .position(|x| *x != 0)
            .unwrap_or(n.len().saturating_sub(1));
        let mut upper = n[..=at.min(n.len() - 1)].to_vec();
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        return Ok(format!(">={v},<{}", join(&upper)));
    }
    if let Some(v) = p.strip_prefix("~=") {
        return Ok(format!("~={v}"));
    }
    if let Some(v) = p.strip_prefix('~') {
        let n = numbers(v)?;
        let mut upper = if n.len() == 1 {
            n.clone()
        } else {
            n[..2].to_vec()
        };
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        return Ok(format!(">={v},<{}", join(&upper)));
    }
    if p.starts_with(['<', '>', '=', '!']) {
        return Ok(p.to_string());
    }
    if p.contains('*') {
        return Ok(format!("=={p}"));
    }
    numbers(p).map(|_| format!("=={p}"))
}

/// A poetry dependency (`name = "^1"` or `name = {version = "^1", extras = […]}`) as
/// a requirement, or why not.
fn requirement(name: &str, spec: &toml::Value) -> Result<String, String> {
    let (version, extras, markers) = match spec {
        toml::Value::String(s) => (s.as_str(), Vec::new(), None),
        toml::Value::Table(t) => {
            if ["git", "path", "url"].iter().any(|k| t.contains_key(*k)) {
                return Err("a git, path or URL dependency".into());
            }
            let extras = t
                .get("extras")
                .and_then(|e| e.as_array())
                .map(|a| a.iter().filter_map(|e| e.as_str()).collect::<Vec<_>>())
                .unwrap_or_default();
            let version = t.get("version").and_then(|v| v.as_str()).unwrap_or("*");
            (version, extras, t.get("markers").and_then(|m| m.as_str()))
        }
        _ => return Err("a list of alternatives".into()),
    };
    let mut req = name.to_string();
    if !extras.is_empty() {
        req.push_str(&format!("[{}]", extras.join(",")));
    }
    req.push_str(&constraint(version)?);
    if let Some(m) = markers {
        req.push_str(&format!("; {m}"));
    }
    Ok(req)
}

/// The test groups of poetry (else `dev`), then `dev-dependencies`.
pub fn groups(py: &toml::Table, c: &mut Collector) {
    let Some(poetry) = py.get("tool").and_then(|t| t.get("poetry")) else {
        return;
    };
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    if let Some(groups) = poetry.get("group").and_then(|g| g.as_table()) {
        let names: Vec<String> = groups.keys().cloned().collect();
        for name in test_names(&names) {
            if let Some(deps) = groups[&name].get("dependencies").and_then(|d| d.as_table()) {
                tables.push((format!("[tool.poetry.group.{name}.dependencies]"), deps));
            }
        }
    }
    if let Some(deps) = poetry.get("dev-dependencies").and_then(|d| d.as_table()) {
        tables.push(("[tool.poetry.dev-dependencies]".into(), deps));
    }
    for (table, deps) in tables {
        let source = format!("{table} in pyproject.toml");
        for (name, spec) in deps {
            if name == "python" {
                continue;
            }
            match requirement(name, spec) {
                Ok(req) => c.add(&req, &source),
                Err(reason) => c.note(format!("not installed: {name} from {source}: {reason}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_constraints_become_pep_440() {
        let cases = [
            ("^1.2.3", Ok(">=1.2.3,<2")),
            ("^1.2", Ok(">=1.2,<2")),
            ("^0.2.3", Ok(">=0.2.3,<0.3")),
            ("^0.0.3", Ok(">=0.0.3,<0.0.4")),
            ("^0", Ok(">=0,<1")),
            ("~1.2.3", Ok(">=1.2.3,<1.3")),
            ("~1.2", Ok(">=1.2,<1.3")),
            ("~1", Ok(">=1,<2")),
            ("~=1.4", Ok("~=1.4")),
            ("*", Ok("")),
            ("1.2.3", Ok("==1.2.3")),
            ("1.2.*", Ok("==1.2.*")),
            (">=1.0,<2.0", Ok(">=1.0,<2.0")),
            (">=1.0 <2.0", Ok(">=1.0,<2.0")),
            ("^1 || ^2", Err(())),
            ("^x", Err(())),
        ];
        for (c, want) in cases {
            match want {
                Ok(w) => assert_eq!(constraint(c).as_deref(), Ok(w), "{c}"),
                Err(()) => assert!(constraint(c).is_err(), "{c}"),
            }
        }
    }

    #[test]
    fn poetry_groups_are_read() {
        let py: toml::Table = "[tool.poetry.dependencies]\npython = \"^3.8\"\nrequests = \"^2\"\n[tool.poetry.group.test.dependencies]\npytest = \"^7.0\"\nhypothesis = {version = \"~6.1\", extras = [\"numpy\"]}\nlocal = {path = \"../x\"}\n[tool.poetry.group.docs.dependencies]\nsphinx = \"*\"\n[tool.poetry.dev-dependencies]\nmock = \"*\"\n".parse().expect("toml");
        let mut c = Collector::default();
        groups(&py, &mut c);
        let got: Vec<(&str, &str)> = c
            .setup
            .dependencies
            .iter()
            .map(|d| (d.requirement.as_str(), d.source.as_str()))
            .collect();
        let g = "[tool.poetry.group.test.dependencies] in pyproject.toml";
        assert_eq!(
            got,
            vec![
                ("hypothesis[numpy]>=6.1,<6.2", g),
                ("pytest>=7.0,<8", g),
                ("mock", "[tool.poetry.dev-dependencies] in pyproject.toml"),
            ]
        );
        assert!(c.setup.notes[0].contains("local"), "{:?}", c.setup.notes);
    }
}
