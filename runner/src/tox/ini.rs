//! The INI dialect of `tox.ini` and `setup.cfg` (Python's configparser): `[section]`,
//! `key = value` or `key: value`, indented lines continuing the value before them,
//! `#` and `;` comment lines, inline ` #` comments.

use indexmap::IndexMap;

/// A section's keys, in file order.
pub type Section = IndexMap<String, String>;

/// Sections in file order, each a map of key → value (continuation lines joined with
/// `\n`, each line trimmed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ini {
    sections: IndexMap<String, Section>,
}

impl Ini {
    /// Reads `text`. Keys are lowercased, as configparser does. Lines that are none of
    /// the above are ignored: configparser would refuse them, but a best-effort reading
    /// is what the callers want. A section named twice is read as one.
    pub fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        let mut section: Option<String> = None;
        let mut key: Option<String> = None;
        for raw in text.lines() {
            let trimmed = raw.trim();
            if trimmed.starts_with(['#', ';']) {
                continue;
            }
            let line = match trimmed.find(" #") {
                Some(i) => trimmed[..i].trim_end(),
                None => trimmed,
            };
            let Some(sec) = ini.current(&section) else {
                if let Some(name) = header(line) {
                    section = Some(name.to_string());
                    ini.sections.entry(name.to_string()).or_default();
                }
                continue;
            };
            // An indented line continues the value before it; after a header, where
            // there is none, it is a key of its own (configparser's rule).
            if raw.starts_with([' ', '\t']) {
                if let Some(value) = key.as_ref().and_then(|k| sec.get_mut(k)) {
                    if !line.is_empty() {
                        if !value.is_empty() {
                            value.push('\n');
                        }
                        value.push_str(line);
                    }
                    continue;
                }
            }
            if let Some(name) = header(line) {
                section = Some(name.to_string());
                ini.sections.entry(name.to_string()).or_default();
                key = None;
            } else if let Some((k, v)) = line.split_once(['=', ':']) {
                let k = k.trim().to_ascii_lowercase();
                sec.insert(k.clone(), v.trim().to_string());
                key = Some(k);
            }
        }
        ini
    }

    fn current(&mut self, section: &Option<String>) -> Option<&mut Section> {
        self.sections.get_mut(section.as_deref()?)
    }

    /// The section named `name`, if any.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.get(name)
    }

    /// `key` of section `name`.
    pub fn get(&self, name: &str, key: &str) -> Option<&str> {
        self.section(name)?.get(key).map(String::as_str)
    }
}

/// `name` of a `[name]` line.
fn header(line: &str) -> Option<&str> {
    line.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

/// The logical lines of a multi-line value: lines ending in `\` joined with the next
/// (as tox does), blank and `#` lines dropped, each trimmed.
pub fn lines(value: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in value.lines() {
        let line = raw.trim();
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let done = std::mem::take(&mut current);
        let done = done.trim();
        if !done.is_empty() && !done.starts_with('#') {
            lines.push(done.to_string());
        }
    }
    let rest = current.trim();
    if !rest.is_empty() {
        lines.push(rest.to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_continuations() {
        let ini = Ini::parse(
            "[tox]\nenvlist = py{39,311}-dj{42,50}, lint\n; comment\n[testenv]\ndeps =\n    pytest  # runner\n    dj42: Django>=4.2,<5.0\ncommands = pytest {posargs}\n",
        );
        assert_eq!(
            ini.get("tox", "envlist"),
            Some("py{39,311}-dj{42,50}, lint")
        );
        assert_eq!(
            ini.get("testenv", "deps"),
            Some("pytest\ndj42: Django>=4.2,<5.0")
        );
        assert_eq!(ini.get("testenv", "commands"), Some("pytest {posargs}"));
    }

    #[test]
    fn values_continue_on_indented_lines() {
        let ini = Ini::parse(
            "# top\n[testenv]\ndeps =\n    pytest\n    # a comment\n    py311: tomli\ncommands = pytest {posargs}\n\n[options]\ntests_require: a\n  b\n",
        );
        assert_eq!(ini.get("testenv", "deps"), Some("pytest\npy311: tomli"));
        assert_eq!(ini.get("testenv", "commands"), Some("pytest {posargs}"));
        assert_eq!(ini.get("options", "tests_require"), Some("a\nb"));
        assert_eq!(ini.get("missing", "deps"), None);
    }

    #[test]
    fn an_indented_key_after_a_header_is_a_key() {
        let ini = Ini::parse("[testenv]\n  Deps = a\n  b\n[testenv]\nextras = x\n");
        assert_eq!(ini.get("testenv", "deps"), Some("a\nb"));
        assert_eq!(ini.get("testenv", "extras"), Some("x"));
    }

    #[test]
    fn lines_join_backslash_continuations() {
        let cases: [(&str, &[&str]); 3] = [
            ("\npytest\n\n  mock \n", &["pytest", "mock"]),
            ("pytest \\\n  -x\nflake8", &["pytest -x", "flake8"]),
            ("# c\na", &["a"]),
        ];
        for (value, want) in cases {
            assert_eq!(lines(value), want, "{value:?}");
        }
    }
}
