//! The matrix file (`ponyswarm.yaml`): parsing with positions kept, validation, and
//! expansion into jobs with GitHub Actions semantics.
//!
//! Pure: no I/O beyond reading the file in [`load`]; no Docker.

mod duration;
mod error;
mod expand;
mod spec;
mod value;
mod yaml;

pub use duration::parse_duration;
pub use error::{Pos, SpecError};
pub use expand::expand;
pub use spec::{Limits, MatrixDef, ServiceSpec, Spanned, Spec};
pub use value::{Combination, Value};

use serde::Serialize;

/// One expanded job: a combination of matrix values and what it selects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Position in expansion order, from 0.
    pub index: usize,
    /// `"<spec name> (v1, v2, …)"`, unique within a run.
    pub name: String,
    /// The job's matrix values in axis order, YAML types kept.
    pub matrix: Combination,
    /// The interpreter: the `python` axis value, else the spec's `python:`.
    pub python: String,
    /// Names (keys of `services:`) of the services this job starts.
    pub services: Vec<String>,
    /// Whether `allow-failure` matches this job.
    pub allow_failure: bool,
}

/// Reads, parses and validates a matrix file.
pub fn load(path: &std::path::Path) -> Result<Spec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError::io(path, e))?;
    Spec::parse(path, &text)
}
