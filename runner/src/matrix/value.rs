//! Matrix values with their YAML types kept: `12` stays a number, `"3.11"` a string.

use indexmap::IndexMap;
use serde::Serialize;
use std::fmt;

/// A scalar matrix value. Serializes to the JSON of the same type.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

impl fmt::Display for Value {
    /// How a value reads in job names, templates and env: `3.11`, `true`, `postgres`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}
