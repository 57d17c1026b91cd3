//! Factor conditions: `dj42,dj50: Django`, `py39-!dj42: x`, `py3{10,11}: y` at the start
//! of a line make the rest of it apply only to envs whose factors satisfy them.

use super::envlist::{expand_braces, split_top};

/// A factor condition: any of its terms; a term holds when all its factors do.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(pub Vec<Vec<Factor>>);

/// A factor in a condition, maybe negated (`!dj42`).
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// The factor's name, without `!`.
    pub name: String,
    /// Whether the factor must be absent (`!dj42`).
    pub negated: bool,
}

impl Condition {
    /// Splits `dj42,dj50: Django` into its condition and the rest (trimmed); `None` when
    /// the line has no condition (`Django>=4.2`, `git+https://…`, `-rrequirements.txt`,
    /// `pytest {posargs:tests}`).
    pub fn split(line: &str) -> Option<(Condition, &str)> {
        let (cond, rest) = line.split_once(':')?;
        let cond = cond.trim();
        let factor_chars = |c: char| c.is_ascii_alphanumeric() || "!{},-_.".contains(c);
        // `{env:X}` and `{posargs:…}` have a colon too, after an open brace.
        let unclosed = cond.contains('{') && !cond.contains('}');
        if cond.is_empty()
            || cond.starts_with('-')
            || !cond.chars().all(factor_chars)
            || unclosed
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
        Some((Condition(terms), rest.trim()))
    }

    /// Whether the condition holds for an env of `factors` (`py311-django42` has
    /// `py311` and `django42`).
    pub fn holds(&self, factors: &[&str]) -> bool {
        self.0.iter().any(|term| {
            term.iter()
                .all(|f| factors.contains(&f.name.as_str()) != f.negated)
        })
    }

    /// The part of `line` that applies to an env of `factors`: the line itself when it
    /// has no condition, the rest when its condition holds, else nothing.
    pub fn select<'a>(line: &'a str, factors: &[&str]) -> Option<&'a str> {
        match Condition::split(line) {
            None => Some(line),
            Some((c, rest)) => c.holds(factors).then_some(rest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("{posargs:tests}", None),
        ];
        for (line, want) in cases {
            let got = Condition::split(line).map(|(c, rest)| (c.0, rest.to_string()));
            let want = want.map(|(c, rest)| (c, rest.to_string()));
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn factor_conditions_select_lines() {
        let factors = ["py311", "django42"];
        let cases = [
            ("pytest", Some("pytest")),
            ("py311: tomli", Some("tomli")),
            ("py310: tomli", None),
            ("py310,py311: a", Some("a")),
            ("py3{10,11}: b", Some("b")),
            ("py311-django42: c", Some("c")),
            ("py311-django50: c", None),
            ("!pypy3: d", Some("d")),
            ("!py311: d", None),
            ("pytest {posargs:tests}", Some("pytest {posargs:tests}")),
        ];
        for (line, want) in cases {
            assert_eq!(Condition::select(line, &factors), want, "{line}");
        }
    }
}
