//! setup.cfg: `tests_require` of `[options]` and the test extras of
//! `[options.extras_require]`.
//!
//! Pure.

use super::{test_names, Collector};
use crate::tox::{lines, Ini};

/// A setuptools list value: one per line, or `;`-free comma-separated on one line.
fn items(value: &str) -> Vec<String> {
    let ls = lines(value);
    if ls.len() == 1 && !ls[0].contains(';') {
        // `a, b>=1` on one line; a version range `x>=1,<2` is kept whole when a
        // part does not start with a name.
        let mut out: Vec<String> = Vec::new();
        for part in ls[0].split(',') {
            let part = part.trim();
            match out.last_mut() {
                Some(last) if !part.starts_with(|c: char| c.is_ascii_alphanumeric()) => {
                    last.push(',');
                    last.push_str(part);
                }
                _ if part.is_empty() => {}
                _ => out.push(part.to_string()),
            }
        }
        return out;
    }
    ls
}

/// Reads setup.cfg's test requirements.
pub fn read(text: &str, c: &mut Collector) {
    let ini = Ini::parse(text);
    if let Some(v) = ini.get("options", "tests_require") {
        for req in items(v) {
            c.add(&req, "tests_require in setup.cfg");
        }
    }
    if let Some(extras) = ini.section("options.extras_require") {
        // In name order, as before the reader kept file order.
        let mut names: Vec<String> = extras.keys().cloned().collect();
        names.sort();
        for name in test_names(&names) {
            let source = format!("[options.extras_require] {name} in setup.cfg");
            for req in items(&extras[&name]) {
                c.add(&req, &source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_require_and_test_extras_are_read() {
        let mut c = Collector::default();
        read(
            "[metadata]\nname = p\n[options]\ntests_require = pytest, mock>=2,<3\n[options.extras_require]\ndocs = sphinx\ntesting =\n    freezegun\n    tomli; python_version < \"3.11\"\n",
            &mut c,
        );
        let got: Vec<(&str, &str)> = c
            .setup
            .dependencies
            .iter()
            .map(|d| (d.requirement.as_str(), d.source.as_str()))
            .collect();
        let x = "[options.extras_require] testing in setup.cfg";
        assert_eq!(
            got,
            vec![
                ("pytest", "tests_require in setup.cfg"),
                ("mock>=2,<3", "tests_require in setup.cfg"),
                ("freezegun", x),
                ("tomli; python_version < \"3.11\"", x),
            ]
        );
    }
}
