//! Draft → the text of `ponyswarm.yaml`: every value quoted (so `3.10` stays 3.10),
//! a header saying where it came from, and what could not be translated as comments.
//!
//! Pure: builds a string.

use super::draft::{Draft, Entry};
use std::fmt::Write;

/// The matrix file for `draft`.
pub fn matrix_file(draft: &Draft) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by `ponyswarm init` from {}.", draft.origin);
    out.push_str("# Check it with `ponyswarm plan ponyswarm.yaml`.\n");
    if !draft.notes.is_empty() {
        out.push_str("#\n# Not translated:\n");
        for note in &draft.notes {
            let _ = writeln!(out, "# - {}", note.replace('\n', " "));
        }
    }
    let _ = writeln!(out, "name: {}", q(&draft.name));
    if let Some(python) = &draft.python {
        let _ = writeln!(out, "python: {}", q(python));
    }
    out.push_str("matrix:\n");
    for (axis, values) in &draft.axes {
        let list: Vec<String> = values.iter().map(|v| q(v)).collect();
        let _ = writeln!(out, "  {}: [{}]", key(axis), list.join(", "));
    }
    entries(&mut out, "  ", "exclude", &draft.exclude);
    entries(&mut out, "  ", "include", &draft.include);
    if !draft.services.is_empty() {
        out.push_str("services:\n");
        for (name, s) in &draft.services {
            let mut parts = vec![format!("image: {}", q(&s.image))];
            if let Some(port) = s.port {
                parts.push(format!("port: {port}"));
            }
            if let Some(when) = &s.when {
                parts.push(format!("when: {}", flow(when)));
            }
            if !s.env.is_empty() {
                parts.push(format!("env: {}", flow(&s.env)));
            }
            let _ = writeln!(out, "  {}: {{{}}}", key(name), parts.join(", "));
        }
    }
    if !draft.env.is_empty() {
        out.push_str("env:\n");
        for (k, v) in &draft.env {
            let _ = writeln!(out, "  {}: {}", key(k), q(v));
        }
    }
    if !draft.install.is_empty() {
        out.push_str("install:\n");
        for line in &draft.install {
            let _ = writeln!(out, "  - {}", q(line));
        }
    }
    if let Some(test) = &draft.test {
        let _ = writeln!(out, "test: {}", q(test));
    }
    if draft.fail_fast {
        out.push_str("fail-fast: true\n");
    }
    if let Some(n) = draft.max_parallel {
        let _ = writeln!(out, "max-parallel: {n}");
    }
    if let Some(m) = draft.timeout_minutes {
        let _ = writeln!(out, "timeout: {m}m");
    }
    match draft.allow_failure.as_slice() {
        [] => {}
        [one] => {
            let _ = writeln!(out, "allow-failure: {}", flow(one));
        }
        many => entries(&mut out, "", "allow-failure", many),
    }
    out
}

fn entries(out: &mut String, indent: &str, key: &str, list: &[Entry]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{key}:");
    for e in list {
        let _ = writeln!(out, "{indent}  - {}", flow(e));
    }
}

/// `{key: "value", …}` with every key and value quoted.
fn flow(entry: &Entry) -> String {
    let parts: Vec<String> = entry
        .iter()
        .map(|(k, v)| format!("{}: {}", key(k), q(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// A mapping key: plain when it is a plain name (`python`, `DJANGO_SETTINGS`), else
/// quoted.
fn key(s: &str) -> String {
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off"
        );
    if plain {
        s.to_string()
    } else {
        q(s)
    }
}

/// A YAML double-quoted scalar: JSON's string syntax is a subset of it.
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::draft::Service;
    use crate::matrix::{expand, Spec};
    use std::path::Path;

    fn entry(pairs: &[(&str, &str)]) -> Entry {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn written_file_parses_and_expands_as_drafted() {
        let mut draft = Draft {
            origin: "tox.ini".into(),
            name: "demo".into(),
            ..Draft::default()
        };
        draft
            .axes
            .insert("python".into(), vec!["3.9".into(), "3.11".into()]);
        draft
            .axes
            .insert("database".into(), vec!["sqlite".into(), "postgres".into()]);
        draft
            .exclude
            .push(entry(&[("python", "3.9"), ("database", "postgres")]));
        draft
            .include
            .push(entry(&[("python", "3.13"), ("database", "sqlite")]));
        draft.services.insert(
            "postgres".into(),
            Service {
                image: "postgres".into(),
                port: None,
                when: Some(entry(&[("database", "postgres")])),
                env: Default::default(),
            },
        );
        draft.env.insert("DB".into(), "{{matrix.database}}".into());
        draft
            .install
            .push(r#"pip install "Django>=4.2,<5.0" 'x: y'"#.into());
        draft.test = Some("python -m pytest".into());
        draft.note("tox env `lint` has commands of its own");
        let text = matrix_file(&draft);
        let spec = Spec::parse(Path::new("/p/ponyswarm.yaml"), &text).expect(&text);
        let jobs = expand(&spec).unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "demo (3.9, sqlite)",
                "demo (3.11, sqlite)",
                "demo (3.11, postgres)",
                "demo (3.13, sqlite)"
            ]
        );
        assert_eq!(jobs[2].services, ["postgres"]);
        assert_eq!(
            spec.install[0].value,
            r#"pip install "Django>=4.2,<5.0" 'x: y'"#
        );
        assert!(text.contains("# - tox env `lint` has commands of its own"));
    }
}
