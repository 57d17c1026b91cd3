//! A small reader for the INI dialect of `tox.ini` and `setup.cfg` (Python's
//! configparser): `[section]`, `key = value` or `key: value`, indented lines continuing
//! the value before them, `#` and `;` comment lines.
//!
//! Pure.

use std::collections::BTreeMap;

/// Sections in file order, each a map of key → value (continuation lines joined with
/// `\n`, each line trimmed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ini {
    sections: Vec<(String, BTreeMap<String, String>)>,
}

impl Ini {
    /// Reads `text`; lines that are none of the above are ignored, as configparser
    /// would refuse them but a best-effort reading is what the caller wants.
    pub fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        let mut key: Option<String> = None;
        for raw in text.lines() {
            let trimmed = raw.trim();
            let continues = raw.starts_with([' ', '\t']) && !trimmed.is_empty();
            if trimmed.starts_with(['#', ';']) {
                continue;
            }
            if continues {
                if let (Some(k), Some((_, section))) = (&key, ini.sections.last_mut()) {
                    if let Some(v) = section.get_mut(k) {
                        if !v.is_empty() {
                            v.push('\n');
                        }
                        v.push_str(trimmed);
                    }
                }
                continue;
            }
            if trimmed.is_empty() {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                ini.sections
                    .push((name.trim().to_string(), BTreeMap::new()));
                key = None;
                continue;
            }
            let at = trimmed.find(['=', ':']);
            if let (Some(at), Some((_, section))) = (at, ini.sections.last_mut()) {
                let k = trimmed[..at].trim().to_ascii_lowercase();
                section.insert(k.clone(), trimmed[at + 1..].trim().to_string());
                key = Some(k);
            }
        }
        ini
    }

    /// The section named `name`, if any.
    pub fn section(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    /// `key` of section `name`.
    pub fn get(&self, name: &str, key: &str) -> Option<&str> {
        self.section(name)?.get(key).map(String::as_str)
    }
}

/// The non-empty lines of a multi-line value.
pub fn lines(value: &str) -> impl Iterator<Item = &str> {
    value.lines().map(str::trim).filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
