//! Env lists: `py{39,311}-dj{42,50}, lint` — top-level splitting and brace expansion.

/// Splits at top-level `seps` (not inside braces); parts trimmed, empty ones dropped.
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
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Every string `text` expands to, as tox expands env names: `a{1,2}b` → `a1b`, `a2b`.
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

/// The env names of an `envlist` value, in order: entries split at top-level commas
/// and newlines, each brace-expanded.
pub fn env_names(envlist: &str) -> Vec<String> {
    split_top(envlist, &[',', '\n'])
        .iter()
        .flat_map(|e| expand_braces(e))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn env_names_expand_braces() {
        assert_eq!(
            env_names("py{310,311}-django{42,50}, lint\n  docs"),
            vec![
                "py310-django42",
                "py310-django50",
                "py311-django42",
                "py311-django50",
                "lint",
                "docs"
            ]
        );
    }
}
