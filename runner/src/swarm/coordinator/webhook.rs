//! `POST /hooks/github`: GitHub's `push` and `pull_request` events of trusted projects
//! become runs.
//!
//! Checked in this order, each failure a clear 4xx that is also logged: the body is
//! JSON (400), its repository is on the trusted list with a secret (404), the
//! `X-Hub-Signature-256` HMAC matches that secret (401). `ping` is answered 200. A
//! delivery whose id, or whose body (by SHA-256), was received before is a replay:
//! answered 202 `{"duplicate": …}` so GitHub does not retry, and nothing is queued.
//! Other events and actions are ignored with 202.
//!
//! A `pull_request` passes the gate first ([`super::gate`]); for the run label, GitHub
//! is asked who added it ([`super::labeler`]). One the project does not trust, or a
//! label whose sender may not triage (or could not be checked), is answered 202
//! `{"waiting": …}`, and with `[project.github]` its head commit
//! gets a `pending` status in the [`github::GATE_CONTEXT`] saying why; a pull request from a
//! fork runs untrusted. The commit is fetched from the project's configured
//! `clone_url`, never from a URL in the payload, then enqueued like a submit; with
//! `[project.github]` the run reports back to the commit (see [`super::outbox`]).

use super::enqueue::{self, Origin};
use super::gate::{self, Gate, PullRequest};
use super::github;
use super::labeler;
use super::{sha256_hex, ApiError, Coordinator, Project};
use crate::run::prepare::Trust;
use crate::store::swarm::DeliverySeen;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The longest a clone may take.
const CLONE_TIMEOUT: Duration = Duration::from_secs(300);

/// The webhook's route.
pub fn router() -> Router<Arc<Coordinator>> {
    Router::new().route("/hooks/github", post(hook))
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` with `secret`.
pub fn signature_ok(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&sig).is_ok()
}

/// The commit an event asks to test, or why it asks for nothing.
pub fn commit_of(event: &str, payload: &serde_json::Value) -> Result<String, String> {
    let sha = match event {
        "push" => {
            if payload["deleted"].as_bool() == Some(true) {
                return Err("a deleted branch".into());
            }
            payload["after"].as_str()
        }
        "pull_request" => {
            let action = payload["action"].as_str().unwrap_or("");
            if !matches!(action, "opened" | "synchronize" | "reopened" | "labeled") {
                return Err(format!("pull_request action {action:?}"));
            }
            payload["pull_request"]["head"]["sha"].as_str()
        }
        other => return Err(format!("event {other:?}")),
    };
    match sha {
        Some(s) if is_sha(s) && s.bytes().any(|b| b != b'0') => Ok(s.to_string()),
        _ => Err("a payload without a commit".into()),
    }
}

/// Whether `s` is a full commit SHA (SHA-1 or SHA-256, hexadecimal).
pub(super) fn is_sha(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn hook(State(c): State<Arc<Coordinator>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&c, &headers, &body).await {
        Ok(response) => response,
        Err(e) => {
            let delivery = header(&headers, "x-github-delivery").unwrap_or("-");
            tracing::warn!("webhook delivery {delivery} refused: {}", e.message);
            e.into_response()
        }
    }
}

async fn handle(c: &Coordinator, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let event = header(headers, "x-github-event")
        .ok_or_else(|| ApiError::bad_request("no X-GitHub-Event header"))?
        .to_string();
    let payload: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the payload is not JSON: {e}")))?;
    let repository = payload["repository"]["full_name"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("the payload has no repository.full_name"))?;
    let project = c.config.project_for_repository(repository).ok_or_else(|| {
        ApiError::not_found(format!(
            "repository {repository} is not on this coordinator's trusted list"
        ))
    })?;
    let secret = project.webhook_secret().ok_or_else(|| {
        ApiError::not_found(format!(
            "project {} takes no webhooks: it has no webhook secret",
            project.name
        ))
    })?;
    let signature = header(headers, "x-hub-signature-256")
        .ok_or_else(|| ApiError::unauthorized("no X-Hub-Signature-256 header"))?;
    if !signature_ok(secret.as_bytes(), body, signature) {
        return Err(ApiError::unauthorized(format!(
            "X-Hub-Signature-256 does not match the body with project {}'s secret",
            project.name
        )));
    }
    if event == "ping" {
        return Ok((StatusCode::OK, Json(serde_json::json!({"ok": "pong"}))).into_response());
    }
    let delivery = header(headers, "x-github-delivery")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::bad_request("no X-GitHub-Delivery header"))?;
    let now = crate::time::timestamp(std::time::SystemTime::now());
    let seen = c
        .store
        .swarm_record_delivery(delivery, &event, repository, &now, &sha256_hex(body))
        .await?;
    let duplicate = match seen {
        DeliverySeen::New => None,
        DeliverySeen::SameId => Some(format!("delivery {delivery} was already received")),
        DeliverySeen::SameBody => Some(format!(
            "the body of delivery {delivery} was already received under another delivery id \
             (a replay)"
        )),
    };
    if let Some(why) = duplicate {
        tracing::warn!("webhook delivery {delivery} not taken: {why}");
        return Ok(answer(StatusCode::ACCEPTED, "duplicate", why));
    }
    let commit = match commit_of(&event, &payload) {
        Ok(sha) => sha,
        Err(why) => {
            return Ok(answer(
                StatusCode::ACCEPTED,
                "ignored",
                format!("ignored: {why}"),
            ))
        }
    };
    let mut admitted_by_label = false;
    let trust = if event == "pull_request" {
        let pr = PullRequest::from_payload(&payload);
        let mut decided = gate::decide(&project.pull_requests, &pr);
        if let Gate::CheckLabeler(trust) = decided {
            let sender = labeler::collaborator(c, project, repository, &pr.sender).await;
            if let Err(why) = &sender {
                tracing::warn!(
                    "who added the run label to {commit} of {}: {why}",
                    project.name
                );
            }
            let sender = sender.as_ref().map_err(String::as_str);
            decided = gate::after_label(&project.pull_requests, &pr, trust, sender);
        }
        match decided {
            Gate::Run(trust) => {
                admitted_by_label = pr.action == "labeled";
                trust
            }
            Gate::Wait(why) => {
                let about = format!("gate/{delivery}");
                let id = format!("{about}/waiting");
                let status = github::gate_waiting(&why);
                super::outbox::add_one(c, project, &about, &id, &commit, status).await?;
                tracing::info!("pull request at {commit} of {}: {why}", project.name);
                return Ok(answer(StatusCode::ACCEPTED, "waiting", why));
            }
            Gate::CheckLabeler(_) => {
                // after_label answers the question; reaching here is a bug: never run.
                let why = "the run label's sender was not checked".to_string();
                return Ok(answer(StatusCode::ACCEPTED, "waiting", why));
            }
            Gate::Ignore(why) => {
                return Ok(answer(
                    StatusCode::ACCEPTED,
                    "ignored",
                    format!("ignored: {why}"),
                ))
            }
        }
    } else {
        Trust::Trusted
    };
    let source = fetch(c, project, &commit).await?;
    let origin = Origin {
        kind: event,
        commit: Some(commit.clone()),
    };
    let submitted = enqueue::enqueue_as(c, project, &project.matrix, source, origin, trust).await?;
    if admitted_by_label {
        // Ends the gate's `pending` (if it said one): this commit was let in.
        let status = github::gate_admitted(&project.pull_requests.label, submitted.url.clone());
        let (about, id) = (
            &submitted.run_id,
            format!("{}/gate/admitted", submitted.run_id),
        );
        super::outbox::add_one(c, project, about, &id, &commit, status).await?;
    }
    Ok((StatusCode::CREATED, Json(submitted)).into_response())
}

/// A JSON answer `{key: message}`.
fn answer(code: StatusCode, key: &str, message: String) -> Response {
    (code, Json(serde_json::json!({ key: message }))).into_response()
}

/// The tree of `commit` from `project`'s clone URL, as tar.gz.
async fn fetch(c: &Coordinator, project: &Project, commit: &str) -> Result<Vec<u8>, ApiError> {
    let url = project
        .clone_url()
        .ok_or_else(|| ApiError::not_found(format!("project {} has no clone_url", project.name)))?;
    let dir = c
        .config
        .data_dir
        .join("tmp")
        .join(format!("clone-{}", super::random_id()));
    let result = clone_at(&url, commit, &dir).await;
    let packed = match result {
        Ok(()) => {
            let d = dir.clone();
            tokio::task::spawn_blocking(move || super::tarball::pack(&d))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))
                .and_then(|r| r.map_err(|e| ApiError::internal(e.to_string())))
        }
        Err(e) => Err(e),
    };
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!("cannot remove {}: {e}", dir.display());
    }
    packed
}

/// `git init` + shallow fetch of exactly `commit` + checkout.
async fn clone_at(url: &str, commit: &str, dir: &Path) -> Result<(), ApiError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ApiError::internal(format!("cannot make {}: {e}", dir.display())))?;
    let d = dir.to_string_lossy().to_string();
    git(&["init", "-q", &d]).await?;
    git(&["-C", &d, "fetch", "-q", "--depth", "1", url, commit]).await?;
    git(&[
        "-C",
        &d,
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "-q",
        "--detach",
        "FETCH_HEAD",
    ])
    .await
}

async fn git(args: &[&str]) -> Result<(), ApiError> {
    let run = tokio::process::Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(CLONE_TIMEOUT, run)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("git {} timed out", args.join(" ")),
            )
        })?
        .map_err(|e| ApiError::internal(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_githubs_example() {
        // The example in GitHub's "Validating webhook deliveries" documentation.
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_ok(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            sig
        ));
        assert!(!signature_ok(b"another secret", b"Hello, World!", sig));
        assert!(!signature_ok(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            sig
        ));
        assert!(!signature_ok(b"k", b"x", "sha1=00"));
        assert!(!signature_ok(b"k", b"x", "sha256=zz"));
    }

    #[test]
    fn events_name_their_commit() {
        let sha = "a".repeat(40);
        let cases = [
            ("push", serde_json::json!({"after": sha}), Ok(sha.clone())),
            (
                "push",
                serde_json::json!({"after": "0".repeat(40), "deleted": true}),
                Err(()),
            ),
            ("push", serde_json::json!({"after": "not a sha"}), Err(())),
            (
                "pull_request",
                serde_json::json!({"action": "opened", "pull_request": {"head": {"sha": sha}}}),
                Ok(sha.clone()),
            ),
            (
                "pull_request",
                serde_json::json!({"action": "closed", "pull_request": {"head": {"sha": sha}}}),
                Err(()),
            ),
            ("issues", serde_json::json!({}), Err(())),
        ];
        for (event, payload, want) in cases {
            assert_eq!(
                commit_of(event, &payload).map_err(|_| ()),
                want,
                "{event} {payload}"
            );
        }
    }
}
