//! Job → JobPlan: which images, the env with service connection details filled in,
//! the files rendered from templates, the commands of each phase, the limits.
//!
//! Pure: templates are read by the caller and handed in; no Docker.

use crate::matrix::{Job, Limits};
use indexmap::IndexMap;
use serde::Serialize;
use std::time::Duration;

/// A service container a job starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicePlan {
    /// The key in `services:`, also the host name on the job's network.
    pub name: String,
    /// Catalog name or image reference.
    pub image: String,
    pub port: u16,
    /// Environment of the service container.
    pub env: Vec<(String, String)>,
}

/// Everything needed to run one job, decided before Docker is touched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobPlan {
    pub job: Job,
    /// Catalog name or image reference of the Python image.
    pub python_image: String,
    pub services: Vec<ServicePlan>,
    /// The job's environment: `env:` rendered, plus NAME_HOST, NAME_PORT, NAME_URL and
    /// for databases NAME_USER, NAME_PASSWORD, NAME_DB per service.
    pub env: IndexMap<String, String>,
    /// Files to write into the source tree before installing: relative path → content.
    pub files: IndexMap<String, String>,
    /// Install commands, rendered, run in order in the job's venv.
    pub install: Vec<String>,
    /// The test command, and how it was chosen.
    pub test: TestCommand,
    pub timeout: Duration,
    #[serde(skip)]
    pub limits: Limits,
}

/// The test command of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestCommand {
    pub command: String,
    /// `None` when the matrix file said `test:`; else what detection found and why.
    pub detected: Option<String>,
}
