//! The client side of `POST /api/v1/runs` (`ponyswarm submit`): find the tree that
//! holds a matrix file and its `source:`, pack it, and send it to a coordinator as a
//! new run of a project; and `POST /api/v1/runs/{run}/cancel` (`ponyswarm cancel`),
//! which the same tokens may call.

use super::api::{Cancelled, Submitted, PREFIX};
use super::coordinator::tarball::{self, TarballError};
use crate::matrix::{self, SpecError};
use std::path::{Path, PathBuf};

/// What to submit, and where.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    /// The matrix file; its source tree is sent with it.
    pub file: &'a Path,
    /// The coordinator's base URL.
    pub coordinator: &'a str,
    /// The project, as on the coordinator's trusted list.
    pub project: &'a str,
    /// A submit token the coordinator accepts.
    pub token: &'a str,
    /// The commit the tree is (a full SHA): the coordinator then posts the run's
    /// commit statuses to the project's repository, as for a webhook push.
    pub commit: Option<&'a str>,
}

/// Why a run could not be submitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The matrix file is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The matrix file or its source tree cannot be read or share no directory.
    #[error("{0}")]
    Tree(String),
    /// The tree cannot be packed.
    #[error("cannot pack {}: {source}", root.display())]
    Pack {
        /// The tree.
        root: PathBuf,
        /// Why.
        source: TarballError,
    },
    /// The coordinator's URL is not usable.
    #[error("--coordinator {url}: {reason}")]
    BadUrl {
        /// As given.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The HTTP client could not be made or the coordinator not reached.
    #[error("{0}")]
    Unreachable(String),
    /// The coordinator refused the run.
    #[error("{url}: {status}: {message}")]
    Refused {
        /// The runs endpoint.
        url: String,
        /// Its answer.
        status: reqwest::StatusCode,
        /// Its `error`, else its body.
        message: String,
    },
    /// The coordinator answered something other than the API's answer.
    #[error("{url} answered something else than the API's answer: {reason}")]
    BadAnswer {
        /// The runs endpoint.
        url: String,
        /// Why it does not read.
        reason: String,
    },
}

impl SubmitError {
    /// Whether the submitter is to fix it (the file, the tree, the URL, or a request
    /// the coordinator refused as bad) rather than the coordinator or the network.
    pub fn is_bad_input(&self) -> bool {
        match self {
            SubmitError::Spec(_)
            | SubmitError::Tree(_)
            | SubmitError::Pack { .. }
            | SubmitError::BadUrl { .. } => true,
            SubmitError::Refused { status, .. } => status.is_client_error(),
            SubmitError::Unreachable(_) | SubmitError::BadAnswer { .. } => false,
        }
    }
}

/// Packs the tree of `s.file` and posts it to the coordinator as a run of `s.project`.
pub async fn submit(s: &Submission<'_>) -> Result<Submitted, SubmitError> {
    let spec = matrix::load(s.file)?;
    let (root, matrix) = tree_of(s.file, &spec.source)?;
    let body = tarball::pack(&root).map_err(|source| SubmitError::Pack {
        root: root.clone(),
        source,
    })?;
    let client = crate::http::client(&Default::default())
        .map_err(|e| SubmitError::Unreachable(e.to_string()))?;
    let base = format!("{}{PREFIX}/runs", s.coordinator.trim_end_matches('/'));
    let mut params = vec![("project", s.project), ("matrix", matrix.as_str())];
    if let Some(commit) = s.commit {
        params.push(("commit", commit));
    }
    let url = url::Url::parse_with_params(&base, &params).map_err(|e| SubmitError::BadUrl {
        url: s.coordinator.to_string(),
        reason: e.to_string(),
    })?;
    let response = client
        .post(url)
        .bearer_auth(s.token)
        .header("content-type", "application/gzip")
        .body(body)
        .send()
        .await
        .map_err(|e| SubmitError::Unreachable(format!("cannot reach {base}: {e}")))?;
    answer(base, response).await
}

/// Cancels run `run` on `coordinator` with submit token `token`.
pub async fn cancel(coordinator: &str, token: &str, run: &str) -> Result<Cancelled, SubmitError> {
    let client = crate::http::client(&Default::default())
        .map_err(|e| SubmitError::Unreachable(e.to_string()))?;
    let mut url = url::Url::parse(coordinator).map_err(|e| SubmitError::BadUrl {
        url: coordinator.to_string(),
        reason: e.to_string(),
    })?;
    // As path segments, so a run id can never reach another path.
    url.path_segments_mut()
        .map_err(|()| SubmitError::BadUrl {
            url: coordinator.to_string(),
            reason: "cannot be a base URL".into(),
        })?
        .pop_if_empty()
        .extend(["api", "v1", "runs", run, "cancel"]);
    let shown = url.to_string();
    let response = client
        .post(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| SubmitError::Unreachable(format!("cannot reach {shown}: {e}")))?;
    answer(shown, response).await
}

/// The coordinator's answer as `T`, or why not.
async fn answer<T: serde::de::DeserializeOwned>(
    url: String,
    response: reqwest::Response,
) -> Result<T, SubmitError> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(String::from))
            .unwrap_or(text);
        return Err(SubmitError::Refused {
            url,
            status,
            message,
        });
    }
    serde_json::from_str(&text).map_err(|e| SubmitError::BadAnswer {
        url,
        reason: e.to_string(),
    })
}

/// The directory to send (the nearest holding both the matrix file and its `source:`)
/// and the matrix file's path inside it.
fn tree_of(file: &Path, source: &Path) -> Result<(PathBuf, String), SubmitError> {
    let abs = |p: &Path| {
        p.canonicalize()
            .map_err(|e| SubmitError::Tree(format!("cannot read {}: {e}", p.display())))
    };
    let file = abs(file)?;
    let source = abs(source)?;
    let mut root = source.clone();
    while !file.starts_with(&root) {
        root = root
            .parent()
            .ok_or_else(|| {
                SubmitError::Tree("the matrix file and its source share no directory".into())
            })?
            .to_path_buf();
    }
    let rel = file
        .strip_prefix(&root)
        .map_err(|e| SubmitError::Tree(e.to_string()))?
        .to_string_lossy()
        .into_owned();
    Ok((root, rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_holds_the_matrix_file_and_its_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        for d in ["ci", "src"] {
            std::fs::create_dir(root.join(d)).expect("dir");
        }
        std::fs::write(root.join("ci/ponyswarm.yaml"), "").expect("file");
        let cases = [
            (
                "ci/ponyswarm.yaml",
                "src",
                (root.clone(), "ci/ponyswarm.yaml"),
            ),
            (
                "ci/ponyswarm.yaml",
                "ci",
                (root.join("ci"), "ponyswarm.yaml"),
            ),
        ];
        for (file, source, (want_root, want_rel)) in cases {
            let (got_root, got_rel) = tree_of(&root.join(file), &root.join(source)).expect("tree");
            assert_eq!(
                (got_root, got_rel.as_str()),
                (want_root, want_rel),
                "{source}"
            );
        }
        let missing = tree_of(&root.join("ci/ponyswarm.yaml"), &root.join("gone"));
        assert!(matches!(missing, Err(SubmitError::Tree(_))));
    }
}
