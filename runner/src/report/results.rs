//! Reading `results.json` back into a [`RunResult`]: `ponyswarm report` on a run
//! directory or a CI artifact, without a store.
//!
//! The file is outside input (an artifact from another machine, possibly edited), so
//! every field is checked by serde and nothing here panics on it.
//!
//! Pure apart from [`load`], which reads the file.

use crate::outcome::{JobOutcome, RunInfo, RunResult, Status, Tests};
use crate::sandbox::changes::InstallChange;
use crate::store::codec::combination_from_json;
use crate::testresults::Failure;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// results.json files bigger than this are refused: logs are capped per job, so even a
/// thousand-job run is far below it.
pub const MAX_RESULTS_BYTES: u64 = 1 << 30;

/// Why a results.json could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_RESULTS_BYTES`].
    #[error("{0} is too large to be a results.json")]
    TooLarge(PathBuf),
    /// Not the results.json shape.
    #[error("not a results.json: {0}")]
    Shape(String),
}

/// Reads `path`: a results.json, or a run directory holding one.
pub fn load(path: &Path) -> Result<RunResult, ResultsError> {
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    };
    let read = |source| ResultsError::Read {
        path: file.clone(),
        source,
    };
    let size = std::fs::metadata(&file).map_err(read)?.len();
    if size > MAX_RESULTS_BYTES {
        return Err(ResultsError::TooLarge(file));
    }
    let bytes = std::fs::read(&file).map_err(read)?;
    parse(&bytes)
}

/// Parses results.json's bytes.
pub fn parse(bytes: &[u8]) -> Result<RunResult, ResultsError> {
    let file: File =
        serde_json::from_slice(bytes).map_err(|e| ResultsError::Shape(e.to_string()))?;
    let jobs = file
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, job)| {
            job.into_outcome()
                .map_err(|why| ResultsError::Shape(format!("jobs[{i}].matrix: {why}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(RunResult {
        run: file.run,
        jobs,
    })
}

// A mirror of `RunResult` whose matrix is plain JSON: `matrix::Value` has no
// `Deserialize` yet. Once it has, `RunResult` can derive it and this goes.
#[derive(Deserialize)]
struct File {
    run: RunInfo,
    jobs: Vec<Job>,
}

#[derive(Deserialize)]
struct Job {
    name: String,
    // An IndexMap keeps the axis order (a `serde_json::Value` would sort it).
    matrix: IndexMap<String, serde_json::Value>,
    status: Status,
    #[serde(default)]
    allowed_failure: bool,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    tests: Option<Tests>,
    #[serde(default)]
    failures: Vec<Failure>,
    #[serde(default)]
    test_command: Option<String>,
    #[serde(default)]
    detected: Option<String>,
    #[serde(default)]
    install_changes: Vec<InstallChange>,
    #[serde(default)]
    install_changes_omitted: usize,
    #[serde(default)]
    phases: IndexMap<String, f64>,
    #[serde(default)]
    images: IndexMap<String, String>,
    #[serde(default)]
    log: String,
    #[serde(default)]
    service_logs: IndexMap<String, String>,
}

impl Job {
    fn into_outcome(self) -> Result<JobOutcome, String> {
        let matrix = combination_from_json(self.matrix)?;
        Ok(JobOutcome {
            name: self.name,
            matrix,
            status: self.status,
            allowed_failure: self.allowed_failure,
            detail: self.detail,
            tests: self.tests,
            failures: self.failures,
            test_command: self.test_command,
            detected: self.detected,
            install_changes: self.install_changes,
            install_changes_omitted: self.install_changes_omitted,
            phases: self.phases,
            images: self.images,
            log: self.log,
            service_logs: self.service_logs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Value;
    use crate::outcome::Tests;
    use crate::report::synthetic::{fail, flagged_addition, SyntheticRun};
    use std::time::Duration;

    #[test]
    fn what_run_writes_reads_back_the_same() {
        let axes = [
            ("python", Value::Str("3.12".into())),
            ("django", Value::Float(5.1)),
            ("workers", Value::Int(2)),
        ];
        let run = SyntheticRun::new("r1", "demo")
            .job(&axes, Status::Failed, |job| {
                job.tests = Some(Tests::new(3, 1, 0, 0));
                fail(job, "t::a", "boom");
                flagged_addition(job, "/etc/x");
                job.record_phase("install", Duration::from_millis(1500));
                job.images.insert("python".into(), "sha256:abc".into());
                job.log = "\x1b[31mred\x1b[0m\n".into();
            })
            .finished_after(Duration::from_secs(5));
        let bytes = serde_json::to_vec(&run).expect("serializes");
        let back = parse(&bytes).expect("parses");
        assert_eq!(back, run);
        // IndexMap's `==` ignores order; the axis order matters to reports.
        let keys: Vec<&String> = back.jobs[0].matrix.keys().collect();
        assert_eq!(keys, ["python", "django", "workers"]);
    }

    #[test]
    fn bad_files_are_errors() {
        let run = r#""run": {"id": "r", "name": "n", "matrix_file": "f", "started": "s",
            "finished": null, "status": "passed", "exit_code": 0, "ponyswarm": "0"}"#;
        let cases = [
            ("", "EOF"),
            ("[]", "expected struct File"),
            (&format!("{{{run}, \"jobs\": [{{\"name\": \"j\", \"matrix\": {{\"a\": [1]}}, \"status\": \"passed\"}}]}}"), "jobs[0].matrix"),
            (&format!("{{{run}, \"jobs\": [{{\"name\": \"j\", \"matrix\": {{}}, \"status\": \"exploded\"}}]}}"), "unknown variant"),
        ];
        for (text, want) in cases {
            let err = parse(text.as_bytes()).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
