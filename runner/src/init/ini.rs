//! tox.ini's syntax: sections of `key = value` with indented continuation lines,
//! brace expansion (`py{39,311}-dj{42,50}`), and factor conditions (`dj42,dj50:`,
//! `py39-!dj42:`) at the start of a line.
//!
//! Pure: parses text.

use indexmap::IndexMap;

/// Sections in file order, each with its keys in file order.
pub type Ini = IndexMap<String, IndexMap<String, String>>;

/// Parses `text` as tox reads an INI file: `#` and `;` comment lines, inline ` #`
/// comments, values continued on indented lines.
pub fn parse(text: &str) -> Ini {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    let mut key: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let line = match trimmed.find(" #") {
            Some(i) => trimmed[..i].trim_end(),
            None => trimmed,
        };
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim().to_string());
            ini.entry(name.trim().to_string()).or_default();
            key = None;
            continue;
        }
        let Some(sec) = &section else { continue };
        let continued = raw.starts_with([' ', '\t']) && key.is_some();
        if continued {
            if let (Some(k), false) = (&key, line.is_empty()) {
                let value = ini[sec.as_str()]
                    .get_mut(k.as_str())
                    .expect("key was inserted");
                value.push('\n');
                value.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(['=', ':']).filter(|_| !line.is_empty()) {
            let k = k.trim().to_string();
            ini[sec.as_str()].insert(k.clone(), v.trim().to_string());
            key = Some(k);
        }
    }
    ini
}

/// The lines of a multi-line value, `\` continuations joined, blank lines dropped.
pub fn lines(value: &str) -> Vec<String> {
    super::steps::logical_lines(value)
}

/// Splits at top-level `sep` (not inside braces).
pub fn split_top(text: &str, seps: &[char]) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && seps.contains(&c) {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("never empty").push(c);
        }
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Every string `text` expands to: `a{1,2}b` → `a1b`, `a2b`.
pub fn expand_braces(text: &str) -> Vec<String> {
    let Some(open) = text.find('{') else {
        return vec![text.to_string()];
    };
    let Some(close) = text[open..].find('}').map(|i| i + open) else {
        return vec![text.to_string()];
    };
    let (head, alts, tail) = (&text[..open], &text[open + 1..close], &text[close + 1..]);
    let tails = expand_braces(tail);
    alts.split(',')
        .flat_map(|alt| {
            tails
                .iter()
                .map(move |t| format!("{head}{}{t}", alt.trim()))
        })
        .collect()
}

/// A factor condition: any of its terms; a term holds when all its factors do.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(pub Vec<Vec<Factor>>);

/// A factor in a condition, maybe negated (`!dj42`).
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub name: String,
    pub negated: bool,
}

/// Splits `dj42,dj50: Django` into its condition and the rest; `None` when the line
/// has no condition (`Django>=4.2`, `git+https://…`, `-rrequirements.txt`).
pub fn conditional(line: &str) -> Option<(Condition, String)> {
    let (cond, rest) = line.split_once(':')?;
    let factor_chars = |c: char| c.is_ascii_alphanumeric() || "!{},-_.".contains(c);
    if cond.is_empty()
        || cond.starts_with('-')
        || !cond.chars().all(factor_chars)
        || rest.starts_with("//")
    {
        return None;
    }
    let terms = split_top(cond, &[','])
        .iter()
        .flat_map(|t| expand_braces(t))
        .map(|term| {
            term.split('-')
                .filter(|f| !f.is_empty())
                .map(|f| Factor {
                    name: f.trim_start_matches('!').to_string(),
                    negated: f.starts_with('!'),
                })
                .collect()
        })
        .collect();
    Some((Condition(terms), rest.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_continuations() {
        let ini = parse(
            "[tox]\nenvlist = py{39,311}-dj{42,50}, lint\n; comment\n[testenv]\ndeps =\n    pytest  # runner\n    dj42: Django>=4.2,<5.0\ncommands = pytest {posargs}\n",
        );
        assert_eq!(ini["tox"]["envlist"], "py{39,311}-dj{42,50}, lint");
        assert_eq!(ini["testenv"]["deps"], "\npytest\ndj42: Django>=4.2,<5.0");
        assert_eq!(ini["testenv"]["commands"], "pytest {posargs}");
    }

    #[test]
    fn braces_expand_in_order() {
        let cases: [(&str, &[&str]); 3] = [
            (
                "py{39,311}-dj{42,50}",
                &["py39-dj42", "py39-dj50", "py311-dj42", "py311-dj50"],
            ),
            ("lint", &["lint"]),
            ("py3{9, 11}", &["py39", "py311"]),
        ];
        for (text, want) in cases {
            assert_eq!(expand_braces(text), want, "{text}");
        }
        assert_eq!(
            split_top("py{39,311}-dj42, lint\ndocs", &[',', '\n']),
            ["py{39,311}-dj42", "lint", "docs"]
        );
    }

    #[test]
    fn conditions_are_told_from_requirements() {
        let f = |name: &str, negated| Factor {
            name: name.into(),
            negated,
        };
        let cases = [
            (
                "dj42: Django>=4.2,<5.0",
                Some((vec![vec![f("dj42", false)]], "Django>=4.2,<5.0")),
            ),
            (
                "dj{42,50}: x",
                Some((vec![vec![f("dj42", false)], vec![f("dj50", false)]], "x")),
            ),
            (
                "py39-!pg: y",
                Some((vec![vec![f("py39", false), f("pg", true)]], "y")),
            ),
            ("Django>=4.2", None),
            ("git+https://example.org/x.git", None),
            ("-rrequirements.txt", None),
        ];
        for (line, want) in cases {
            let got = conditional(line).map(|(c, rest)| (c.0, rest));
            let want = want.map(|(c, rest)| (c, rest.to_string()));
            assert_eq!(got, want, "{line}");
        }
    }
}
