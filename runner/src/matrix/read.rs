//! Reading typed values out of YAML nodes, with errors that name the key, say what was
//! expected and what was found, and point at file:line:column.
//!
//! Every section of the format (`spec`, `matrix_def`, `services`, `limits`) reads
//! through these, so the messages read alike everywhere.

use super::error::{Pos, SpecError};
use super::size::parse_size;
use super::spec::Spanned;
use super::suggest;
use super::value::Value;
use super::yaml::{Entry, Kind, Node, ScalarNode};
use crate::time::parse_duration;
use indexmap::IndexMap;
use std::path::Path;
use std::time::Duration;

/// Longest matrix value: versions, names and image references fit; every job
/// repeats its values, so a hostile megabyte string must not.
pub const MAX_VALUE_CHARS: usize = 256;

/// Longest matrix key, for the same reason.
pub const MAX_KEY_CHARS: usize = 64;

/// A YAML mapping as the builder made it.
pub type Map = IndexMap<String, Entry>;

/// Where a key of a matrix entry and its value were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAt {
    pub name: String,
    pub key_pos: Pos,
    pub value_pos: Pos,
}

/// Reads values of one file; carries the path every error names.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    pub file: &'a Path,
}

impl<'a> Reader<'a> {
    /// An error at `pos` in this file.
    pub fn err(&self, pos: Pos, message: impl Into<String>) -> SpecError {
        SpecError::at(self.file, pos, message)
    }

    /// Fails on the first key of `map` not in `allowed`, suggesting the nearest one.
    pub fn check_keys(&self, map: &Map, allowed: &[&str]) -> Result<(), SpecError> {
        match map.iter().find(|(key, _)| !allowed.contains(&key.as_str())) {
            None => Ok(()),
            Some((key, entry)) => Err(self.err(entry.key_pos, unknown_key(key, allowed))),
        }
    }

    /// The mapping in `node`; `what` names it in the error.
    pub fn map<'n>(&self, what: &str, node: &'n Node) -> Result<&'n Map, SpecError> {
        node.map()
            .ok_or_else(|| self.expected(node, what, "a mapping"))
    }

    /// The list in `node`.
    pub fn seq<'n>(&self, what: &str, node: &'n Node) -> Result<&'n [Node], SpecError> {
        node.seq()
            .ok_or_else(|| self.expected(node, what, "a list"))
    }

    /// A non-empty string. Numbers are accepted as the text they were written with
    /// (`name: 2024`), since YAML types them without the user asking.
    pub fn string(&self, what: &str, node: &Node) -> Result<Spanned<String>, SpecError> {
        match node.scalar() {
            Some(ScalarNode {
                value: Value::Str(_) | Value::Int(_) | Value::Float(_),
                text,
                ..
            }) if !text.trim().is_empty() => Ok(Spanned {
                value: text.clone(),
                pos: node.pos,
            }),
            Some(ScalarNode {
                value: Value::Str(_),
                ..
            }) => Err(self.err(node.pos, format!("`{what}` must not be empty"))),
            _ => Err(self.expected(node, what, "a string")),
        }
    }

    /// `true` or `false`.
    pub fn bool(&self, what: &str, node: &Node) -> Result<bool, SpecError> {
        match node.scalar().map(|s| &s.value) {
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(self.expected(node, what, "true or false")),
        }
    }

    /// A whole number between `min` and `max`.
    pub fn int(&self, what: &str, node: &Node, min: i64, max: i64) -> Result<i64, SpecError> {
        match node.scalar().map(|s| &s.value) {
            Some(Value::Int(i)) if (min..=max).contains(i) => Ok(*i),
            _ => Err(self.expected(node, what, &format!("a whole number from {min} to {max}"))),
        }
    }

    /// A number (whole or not) in `min..=max`.
    pub fn number(&self, what: &str, node: &Node, min: f64, max: f64) -> Result<f64, SpecError> {
        let x = match node.scalar().map(|s| &s.value) {
            Some(Value::Int(i)) => *i as f64,
            Some(Value::Float(x)) => *x,
            _ => f64::NAN,
        };
        if (min..=max).contains(&x) {
            Ok(x)
        } else {
            Err(self.expected(node, what, &format!("a number from {min} to {max}")))
        }
    }

    /// A duration (`15m`, `1h30m`, or whole seconds) longer than zero.
    pub fn duration(&self, what: &str, node: &Node) -> Result<Duration, SpecError> {
        let parsed = match node.scalar() {
            Some(ScalarNode {
                value: Value::Int(_) | Value::Str(_),
                text,
                ..
            }) => parse_duration(text),
            _ => None,
        };
        match parsed {
            Some(d) if d.is_zero() => {
                Err(self.err(node.pos, format!("`{what}` must be longer than 0s")))
            }
            Some(d) => Ok(d),
            None => Err(self.expected(node, what, "a duration like 15m or 1h30m")),
        }
    }

    /// A byte size (`2g`, `512m`, or whole bytes) of at least `min` bytes.
    pub fn size(
        &self,
        what: &str,
        node: &Node,
        min: u64,
        min_text: &str,
    ) -> Result<u64, SpecError> {
        let parsed = match node.scalar() {
            Some(ScalarNode {
                value: Value::Int(_) | Value::Float(_) | Value::Str(_),
                text,
                ..
            }) => parse_size(text),
            _ => None,
        };
        match parsed {
            Some(bytes) if bytes < min => {
                Err(self.err(node.pos, format!("`{what}` must be at least {min_text}")))
            }
            Some(bytes) => Ok(bytes),
            None => Err(self.expected(node, what, "a size like 2g or 512m")),
        }
    }

    /// A matrix value: a string, number or boolean, refusing the YAML float trap
    /// (unquoted `3.10` is the number 3.1) and values JSON can't carry.
    pub fn matrix_value(&self, what: &str, node: &Node) -> Result<Value, SpecError> {
        let Some(scalar) = node.scalar() else {
            return Err(self.expected(node, what, "a string, number or boolean"));
        };
        match &scalar.value {
            Value::Null => Err(self.expected(node, what, "a string, number or boolean")),
            Value::Float(x) if !x.is_finite() => {
                Err(self.expected(node, what, "a string or a finite number"))
            }
            Value::Float(x) if loses_digits(scalar) => Err(self.err(
                node.pos,
                format!(
                    "`{}` is read by YAML as the number {}; quote versions: \"{}\"",
                    scalar.text, x, scalar.text
                ),
            )),
            _ if scalar.text.chars().count() > MAX_VALUE_CHARS => Err(self.err(
                node.pos,
                format!("`{what}` values must be at most {MAX_VALUE_CHARS} characters long"),
            )),
            value => Ok(value.clone()),
        }
    }

    /// A matrix key (axis or include key): short, since every job repeats it.
    pub fn matrix_key(&self, key: &str, pos: Pos) -> Result<(), SpecError> {
        if key.chars().count() <= MAX_KEY_CHARS {
            return Ok(());
        }
        let short: String = key.chars().take(20).collect();
        Err(self.err(
            pos,
            format!("matrix key `{short}…` is longer than {MAX_KEY_CHARS} characters"),
        ))
    }

    /// A mapping of matrix values: an include, exclude, `when` or `allow-failure` entry.
    /// Returns the entry and, for each key, where the key and its value were written.
    pub fn combination(
        &self,
        what: &str,
        node: &Node,
    ) -> Result<(super::Combination, Vec<KeyAt>), SpecError> {
        let map = self.map(what, node)?;
        if map.is_empty() {
            return Err(self.err(
                node.pos,
                format!("`{what}` entry must name at least one key"),
            ));
        }
        let mut combination = super::Combination::new();
        let mut keys = Vec::with_capacity(map.len());
        for (key, entry) in map {
            self.matrix_key(key, entry.key_pos)?;
            let value = self.matrix_value(&format!("{what}.{key}"), &entry.value)?;
            combination.insert(key.clone(), value);
            keys.push(KeyAt {
                name: key.clone(),
                key_pos: entry.key_pos,
                value_pos: entry.value.pos,
            });
        }
        Ok((combination, keys))
    }

    /// An environment mapping: names to values, scalars kept as written (`PORT: 5432`,
    /// `DEBUG: true`); an empty string is a legitimate value, null is not.
    pub fn env(
        &self,
        what: &str,
        node: &Node,
    ) -> Result<IndexMap<String, Spanned<String>>, SpecError> {
        let map = self.map(what, node)?;
        let mut env = IndexMap::with_capacity(map.len());
        for (name, entry) in map {
            let valid = name.chars().next().is_some_and(|c| !c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(self.err(
                    entry.key_pos,
                    format!("`{what}` name `{name}` must be letters, digits and `_`, not starting with a digit"),
                ));
            }
            let value = match entry.value.scalar() {
                Some(s) if !is_null(&entry.value) => Spanned {
                    value: s.text.clone(),
                    pos: entry.value.pos,
                },
                _ => {
                    return Err(self.expected(&entry.value, &format!("{what}.{name}"), "a string"))
                }
            };
            env.insert(name.clone(), value);
        }
        Ok(env)
    }

    /// "`what` must be EXPECTED, found …".
    pub fn expected(&self, node: &Node, what: &str, expected: &str) -> SpecError {
        self.err(
            node.pos,
            format!("`{what}` must be {expected}, found {}", node.describe()),
        )
    }
}

/// "unknown key `x`; did you mean `y`?" or, with nothing near, the keys expected.
pub fn unknown_key(key: &str, allowed: &[&str]) -> String {
    match suggest::nearest(key, allowed.iter().copied()) {
        Some(near) => format!("unknown key `{key}`; did you mean `{near}`?"),
        None => format!(
            "unknown key `{key}`; expected one of {}",
            suggest::list(allowed.iter().copied())
        ),
    }
}

/// Whether a plain float was written with digits its number drops: `3.10` reads as
/// 3.1. Only the `digits.digits` form counts, so `1e3` (1000) is taken as meant.
fn loses_digits(scalar: &ScalarNode) -> bool {
    let text = scalar.text.trim();
    let version_like = text.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    });
    scalar.plain && version_like && scalar.value.text() != text
}

/// Whether `node` is YAML null: a key with nothing after it.
pub fn is_null(node: &Node) -> bool {
    matches!(
        node.kind,
        Kind::Scalar(ScalarNode {
            value: Value::Null,
            ..
        })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::yaml;

    fn value_node(text: &str) -> Node {
        let root = yaml::parse(&format!("v: {text}\n")).unwrap().unwrap();
        root.map().unwrap()["v"].value.clone()
    }

    #[test]
    fn floats_that_drop_digits_are_caught() {
        let cases = [
            ("3.10", true),
            ("4.20", true),
            ("3.100", true),
            ("3.11", false),
            ("3.9", false),
            ("5.0", false),
            ("1e3", false),
            ("\"3.10\"", false),
            ("'3.10'", false),
        ];
        for (text, lossy) in cases {
            let node = value_node(text);
            assert_eq!(loses_digits(node.scalar().unwrap()), lossy, "{text}");
        }
    }

    #[test]
    fn strings_accept_numbers_as_written() {
        let r = Reader {
            file: Path::new("f"),
        };
        let cases = [
            ("hello", Some("hello")),
            ("2024", Some("2024")),
            ("3.10", Some("3.10")),
            ("\"\"", None),
            ("true", None),
            ("~", None),
            ("[a]", None),
        ];
        for (text, want) in cases {
            let got = r.string("k", &value_node(text)).ok().map(|s| s.value);
            assert_eq!(got.as_deref(), want, "{text}");
        }
    }

    #[test]
    fn unknown_keys_suggest_or_list() {
        let allowed = ["image", "when", "port", "env"];
        assert_eq!(
            unknown_key("imgae", &allowed),
            "unknown key `imgae`; did you mean `image`?"
        );
        assert_eq!(
            unknown_key("volumes", &allowed),
            "unknown key `volumes`; expected one of `image`, `when`, `port`, `env`"
        );
    }
}
