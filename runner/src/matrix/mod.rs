//! The matrix file (`ponyswarm.yaml`): parsing with positions kept, validation, and
//! expansion into jobs with GitHub Actions semantics.
//!
//! The parts, in the order a file goes through them: `yaml` (a positioned tree),
//! `read` (typed values with errors that say what was expected), the sections (`spec`,
//! `matrix_def`, `services`, `limits`, checked against the catalog by `images`), then
//! `expand`.
//!
//! Pure: no I/O beyond reading the file in [`load`]; no Docker.

mod ceiling;
mod error;
mod expand;
mod images;
mod limits;
mod matrix_def;
mod read;
mod services;
mod size;
mod spec;
mod suggest;
mod value;
// Also read by `init`, which parses workflows with the same stack.
pub(crate) mod yaml;

pub use ceiling::{Ceiling, CEILING_KEYS};
pub use error::{Pos, SpecError};
pub use expand::{combinations, expand, MAX_CELLS, MAX_JOBS};
pub use limits::Limits;
pub use matrix_def::{MatrixDef, MAX_AXES};
pub use read::{MAX_KEY_CHARS, MAX_VALUE_CHARS};
pub use services::{ServiceSpec, MAX_SERVICES};
pub use size::parse_size;
pub use spec::{Spanned, Spec, MAX_FILE_BYTES};
pub use value::{matches, Combination, Value};
pub use yaml::MAX_DEPTH;

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
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| SpecError::io(path, e))?;
    // One byte past the limit is enough to know the file is too large, without
    // reading all of a file that might be endless (`/dev/zero`).
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SpecError::io(path, e))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(SpecError::whole_file(
            path,
            format!("the file is larger than {} KiB", MAX_FILE_BYTES >> 10),
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| SpecError::whole_file(path, "the file is not UTF-8 text"))?;
    Spec::parse(path, &text)
}
