//! Matrix values with their YAML types kept: `12` stays a number, `"3.11"` a string.
//!
//! Matching (exclude, include, `when`, `allow-failure`) compares values by their text
//! form, not their YAML type, so an unquoted `3.9` in an `exclude` entry still removes
//! the combinations whose axis says `"3.9"`. GitHub Actions coerces the same way, and a
//! user who quotes one side but not the other means the same thing.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A scalar matrix value. Serializes to the JSON of the same type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// One combination of axis values, in axis order.
pub type Combination = IndexMap<String, Value>;

impl Value {
    /// The text form used for matching, job names, templates and env (see [`fmt::Display`]).
    pub fn text(&self) -> String {
        self.to_string()
    }

    /// Whether `self` and `other` read the same: `3.9` matches `"3.9"`, `12` matches `"12"`.
    pub fn same_text(&self, other: &Value) -> bool {
        // Same types compare without building text: expansion makes millions of
        // these for a big matrix.
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (Value::Str(s), v) | (v, Value::Str(s)) => v.text() == *s,
            _ => self.text() == other.text(),
        }
    }
}

/// Whether every key of `partial` is in `combination` with a value of the same text: the
/// "partial match" of `exclude`, `when` and `allow-failure`.
pub fn matches(partial: &Combination, combination: &Combination) -> bool {
    partial.iter().all(|(key, want)| {
        combination
            .get(key)
            .is_some_and(|have| have.same_text(want))
    })
}

impl fmt::Display for Value {
    /// How a value reads in job names, templates and env: `3.11`, `true`, `postgres`.
    ///
    /// A whole float keeps its `.0` (`5.0`, not `5`), so `django: [5.0]` reads as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 => {
                write!(f, "{x:.1}")
            }
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_of_each_type() {
        let cases = [
            (Value::Null, ""),
            (Value::Bool(true), "true"),
            (Value::Int(12), "12"),
            (Value::Float(3.11), "3.11"),
            (Value::Float(5.0), "5.0"),
            (Value::Float(1e20), "100000000000000000000"),
            (Value::Str("pypy3".into()), "pypy3"),
        ];
        for (value, text) in cases {
            assert_eq!(value.text(), text, "{value:?}");
        }
    }

    #[test]
    fn values_match_by_text_across_types() {
        let cases = [
            (Value::Float(3.9), Value::Str("3.9".into()), true),
            (Value::Int(12), Value::Str("12".into()), true),
            (Value::Bool(true), Value::Str("true".into()), true),
            (Value::Float(3.1), Value::Str("3.10".into()), false),
            (Value::Str("a".into()), Value::Str("b".into()), false),
        ];
        for (a, b, same) in cases {
            assert_eq!(a.same_text(&b), same, "{a:?} vs {b:?}");
            assert_eq!(b.same_text(&a), same, "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn partial_match_needs_every_key() {
        let combo: Combination = [
            ("python".to_string(), Value::Str("3.9".into())),
            ("db".to_string(), Value::Str("postgres".into())),
        ]
        .into_iter()
        .collect();
        let partial = |pairs: &[(&str, Value)]| -> Combination {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        assert!(matches(&partial(&[]), &combo));
        assert!(matches(&partial(&[("python", Value::Float(3.9))]), &combo));
        assert!(!matches(
            &partial(&[
                ("python", Value::Float(3.9)),
                ("db", Value::Str("mariadb".into()))
            ]),
            &combo
        ));
        assert!(!matches(&partial(&[("extra", Value::Bool(true))]), &combo));
    }

    #[test]
    fn json_keeps_yaml_types() {
        let combo: Combination = [
            ("django".to_string(), Value::Int(12)),
            ("python".to_string(), Value::Str("3.11".into())),
            ("ratio".to_string(), Value::Float(1.5)),
            ("experimental".to_string(), Value::Bool(true)),
            ("nothing".to_string(), Value::Null),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            serde_json::to_string(&combo).unwrap(),
            r#"{"django":12,"python":"3.11","ratio":1.5,"experimental":true,"nothing":null}"#
        );
    }
}
