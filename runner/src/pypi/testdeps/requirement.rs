//! One requirement read from the author's files: checked before it may reach a
//! command line, and named for de-duplication.
//!
//! This is not a PEP 508 parser: pip parses the requirement; this only keeps out what
//! could make pip do something other than install a project from the index (options,
//! URLs, paths, editable installs) and what a shell or a template would read.

/// `req` trimmed of a trailing comment, when it is a requirement pip may be given:
/// a name first, then only the characters of version specifiers, extras and markers.
/// The error says why not.
pub fn check(req: &str) -> Result<String, String> {
    let req = match req.find(" #") {
        Some(at) => &req[..at],
        None => req,
    }
    .trim();
    if req.is_empty() {
        return Err("empty".into());
    }
    if req.starts_with('-') {
        return Err("an option (editable installs and pip options are not followed)".into());
    }
    if req.starts_with(['.', '/', '~']) || req.contains(['/', '\\']) {
        return Err("a path or URL (only projects from the index are installed)".into());
    }
    if req.contains('@') || req.contains("://") {
        return Err("a direct reference (only projects from the index are installed)".into());
    }
    if !req.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("does not start with a project name".into());
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '_'
                    | '.'
                    | '['
                    | ']'
                    | ','
                    | '<'
                    | '>'
                    | '='
                    | '!'
                    | '~'
                    | '*'
                    | ';'
                    | ' '
                    | '"'
                    | '\''
                    | '('
                    | ')'
                    | '+'
            )
    };
    if let Some(bad) = req.chars().find(|c| !allowed(*c)) {
        return Err(format!("has {bad:?}, which no requirement needs"));
    }
    if req.len() > 500 {
        return Err("longer than 500 characters".into());
    }
    Ok(req.to_string())
}

/// The project name a requirement starts with, normalized (PEP 503: `Foo_Bar` →
/// `foo-bar`).
pub fn normalized_name(req: &str) -> String {
    let name: String = req
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let mut out = String::new();
    for c in name.chars() {
        let c = if matches!(c, '_' | '.') { '-' } else { c };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// An extra's name as PEP 685 allows it (letters, digits, `._-`).
pub fn safe_extra(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether a marker clause is `extra == "NAME"` (either quote, either order).
fn extra_clause(clause: &str) -> Option<String> {
    let clause = clause.trim().trim_start_matches('(').trim_end_matches(')');
    let (left, right) = clause.split_once("==")?;
    let (left, right) = (left.trim(), right.trim());
    let value = if left == "extra" {
        right
    } else if right == "extra" {
        left
    } else {
        return None;
    };
    let value = value.trim_matches(|c| c == '"' || c == '\'');
    Some(value.to_string())
}

/// The extras named in `Requires-Dist` markers, in order of first mention.
pub fn declared_extras(requires_dist: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in requires_dist {
        let Some((_, marker)) = r.split_once(';') else {
            continue;
        };
        for clause in marker.split(" or ").flat_map(|c| c.split(" and ")) {
            if let Some(e) = extra_clause(clause).filter(|e| safe_extra(e)) {
                if !out.contains(&e) {
                    out.push(e);
                }
            }
        }
    }
    out
}

/// The requirements of `Requires-Dist` that come with `extra`, with the extra clause
/// taken out of their marker (other `and` clauses kept for pip to evaluate).
pub fn of_extra(requires_dist: &[String], extra: &str) -> Vec<String> {
    let norm = |s: &str| normalized_name(s);
    let mut out = Vec::new();
    for r in requires_dist {
        let Some((spec, marker)) = r.split_once(';') else {
            continue;
        };
        let is_ours = |c: &&str| extra_clause(c).is_some_and(|e| norm(&e) == norm(extra));
        if marker.contains(" or ") {
            // `extra == "a" or extra == "b"`: ours when one alternative names it; the
            // rest of such a marker is not kept (it rarely says more than the extras).
            if marker.split(" or ").any(|c| is_ours(&c)) {
                out.push(spec.trim().to_string());
            }
            continue;
        }
        let clauses: Vec<&str> = marker.split(" and ").collect();
        if !clauses.iter().any(is_ours) {
            continue;
        }
        let rest: Vec<&str> = clauses
            .iter()
            .filter(|c| !is_ours(c))
            .map(|c| c.trim())
            .collect();
        if rest.is_empty() {
            out.push(spec.trim().to_string());
        } else {
            out.push(format!("{}; {}", spec.trim(), rest.join(" and ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_index_requirements_pass() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("pytest>=7", Ok("pytest>=7")),
            ("  hypothesis[numpy] >=6 # why", Ok("hypothesis[numpy] >=6")),
            (
                "tomli; python_version < \"3.11\"",
                Ok("tomli; python_version < \"3.11\""),
            ),
            ("-e .", Err("an option")),
            ("--index-url=http://x/", Err("an option")),
            (".", Err("a path")),
            ("../other", Err("a path")),
            ("pkg @ https://x/p.whl", Err("a path")),
            ("pkg @ git+ssh", Err("a direct reference")),
            ("pkg$(id)", Err("has '$'")),
            ("pkg{{x}}", Err("has '{'")),
            ("", Err("empty")),
        ];
        for (req, want) in cases {
            let got = check(req);
            match want {
                Ok(w) => assert_eq!(got.as_deref(), Ok(*w), "{req}"),
                Err(w) => {
                    let e = got.expect_err(req);
                    assert!(e.starts_with(w), "{req}: {e}");
                }
            }
        }
    }

    #[test]
    fn names_are_normalized() {
        for (req, want) in [
            ("Foo_Bar>=1", "foo-bar"),
            ("zope.interface", "zope-interface"),
            ("a__b", "a-b"),
            ("x[y]", "x"),
        ] {
            assert_eq!(normalized_name(req), want, "{req}");
        }
    }

    #[test]
    fn an_extras_requirements_lose_only_the_extra_clause() {
        let rd: Vec<String> = [
            "requests",
            "pytest; extra == \"test\"",
            "tomli; python_version < \"3.11\" and extra == 'test'",
            "sphinx; extra == \"docs\"",
            "mock; extra == \"docs\" or extra == \"test\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            declared_extras(&rd),
            vec!["test".to_string(), "docs".to_string()]
        );
        assert_eq!(
            of_extra(&rd, "test"),
            vec![
                "pytest".to_string(),
                "tomli; python_version < \"3.11\"".to_string(),
                "mock".to_string()
            ]
        );
    }
}
