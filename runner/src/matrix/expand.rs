//! Matrix expansion with GitHub Actions semantics.

use super::error::SpecError;
use super::spec::Spec;
use super::Job;

/// Expands `spec` into its jobs.
pub fn expand(spec: &Spec) -> Result<Vec<Job>, SpecError> {
    let _ = spec;
    Ok(Vec::new())
}
