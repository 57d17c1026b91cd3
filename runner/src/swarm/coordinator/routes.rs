//! The HTTP API v1 (paths and bodies in [`crate::swarm::api`]): authentication by
//! bearer token, then a call into [`super::queue`], [`super::results`] or
//! [`super::enqueue`].
//!
//! The caller is authenticated from the headers by an extractor ([`Caller`],
//! [`Registrar`], [`Submitter`]) placed before the body's: axum runs extractors in
//! order, so a stranger's body is never read, and a caller's only up to the route's
//! cap ([`super::admission`]).

use super::admission::{body_limit, RESULT_BODY, SOURCE_BODY};
use super::enqueue::{self, Origin};
use super::{random_id, sha256_hex, ApiError, Coordinator};
use crate::store::swarm::{AgentRow, SwarmJobState, SwarmRunState};
use crate::swarm::api::{
    Cancelled, ClaimRequest, Heartbeat, Info, JobState, RegisterRequest, RegisterResponse,
    RunState, Signed, PREFIX,
};
use crate::swarm::sign;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;

type Shared = State<Arc<Coordinator>>;

/// The OpenAPI description of these routes.
const OPENAPI: &str = include_str!("../openapi.json");

/// The API's routes.
pub fn router() -> Router<Arc<Coordinator>> {
    Router::new()
        .route(&format!("{PREFIX}/openapi.json"), get(openapi))
        .route(&format!("{PREFIX}/info"), get(info))
        .route(&format!("{PREFIX}/agents"), post(register))
        .route(&format!("{PREFIX}/claims"), post(claim))
        .route(
            &format!("{PREFIX}/leases/{{lease}}/heartbeat"),
            post(heartbeat),
        )
        .route(
            &format!("{PREFIX}/leases/{{lease}}/result"),
            post(result).layer(body_limit(RESULT_BODY)),
        )
        .route(&format!("{PREFIX}/leases/{{lease}}/release"), post(release))
        .route(
            &format!("{PREFIX}/runs"),
            post(submit).layer(body_limit(SOURCE_BODY)),
        )
        .route(&format!("{PREFIX}/runs/{{run}}"), get(run_state))
        .route(&format!("{PREFIX}/runs/{{run}}/source"), get(source))
        .route(&format!("{PREFIX}/runs/{{run}}/cancel"), post(cancel))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn info(State(c): Shared) -> Json<Info> {
    Json(Info {
        version: env!("CARGO_PKG_VERSION").into(),
        api: 1,
        coordinator_key: c.key.public_hex(),
    })
}

/// The bearer token of `headers`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Whether `given` is one of `tokens`; compared as hashes, so the time taken says
/// nothing about how much of a token matched.
fn one_of(tokens: &[String], given: Option<&str>) -> bool {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return false;
    };
    let given = sha256_hex(given.as_bytes());
    tokens
        .iter()
        .filter(|t| !t.is_empty())
        .fold(false, |found, t| {
            found | (sha256_hex(t.as_bytes()) == given)
        })
}

/// The agent whose token `headers` carry.
async fn agent(c: &Coordinator, headers: &HeaderMap) -> Result<AgentRow, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized("no agent token: send Authorization: Bearer <token>")
    })?;
    let row = c
        .agent_by_token(&sha256_hex(token.as_bytes()))
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown agent token: register again"))?;
    // Every authenticated call says the agent is alive, for the jobs no agent can take.
    c.seen(&row.id);
    Ok(row)
}

/// The calling agent, known by its token before the body is read.
struct Caller(AgentRow);

impl FromRequestParts<Arc<Coordinator>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        c: &Arc<Coordinator>,
    ) -> Result<Caller, ApiError> {
        agent(c, &parts.headers).await.map(Caller)
    }
}

/// A caller holding one of the `agent_tokens`: who runs the agent, as the hash of
/// that token.
struct Registrar {
    operator: String,
}

impl FromRequestParts<Arc<Coordinator>> for Registrar {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        c: &Arc<Coordinator>,
    ) -> Result<Registrar, ApiError> {
        match bearer(&parts.headers).filter(|t| one_of(&c.config.agent_tokens, Some(t))) {
            Some(token) => Ok(Registrar {
                operator: sha256_hex(token.as_bytes()),
            }),
            None => Err(ApiError::unauthorized(
                "registration needs one of the coordinator's agent_tokens as the bearer token",
            )),
        }
    }
}

/// A caller holding one of the `submit_tokens`: it may submit and cancel runs.
struct Submitter;

impl FromRequestParts<Arc<Coordinator>> for Submitter {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        c: &Arc<Coordinator>,
    ) -> Result<Submitter, ApiError> {
        if one_of(&c.config.submit_tokens, bearer(&parts.headers)) {
            Ok(Submitter)
        } else {
            Err(ApiError::unauthorized(
                "submitting and cancelling need one of the coordinator's submit_tokens as \
                 the bearer token",
            ))
        }
    }
}

async fn register(
    State(c): Shared,
    Registrar { operator }: Registrar,
    Json(req): Json<RegisterRequest>,
) -> Result<Json<RegisterResponse>, ApiError> {
    let operator = Some(operator);
    sign::public_key(&req.public_key)
        .map_err(|e| ApiError::bad_request(format!("public_key: {e}")))?;
    let token = random_id() + &random_id();
    let row = AgentRow {
        id: format!("agent-{}", &random_id()[..12]),
        name: req.name,
        public_key: req.public_key.trim().to_string(),
        token_hash: sha256_hex(token.as_bytes()),
        capabilities: serde_json::to_string(&req.capabilities)
            .map_err(|e| ApiError::internal(e.to_string()))?,
        registered: crate::time::timestamp(std::time::SystemTime::now()),
        operator,
    };
    let id = c.store.swarm_register_agent(&row).await?;
    c.forget_agent(&id);
    tracing::info!("agent {} registered as {id}", row.name);
    Ok(Json(RegisterResponse {
        agent_id: id,
        agent_token: token,
        coordinator_key: c.key.public_hex(),
        lease_seconds: c.config.lease_seconds,
    }))
}

async fn claim(
    State(c): Shared,
    Caller(agent): Caller,
    Json(req): Json<ClaimRequest>,
) -> Result<Response, ApiError> {
    let wait = Duration::from_secs(req.wait_seconds);
    Ok(match super::queue::claim(&c, &agent, wait).await? {
        Some(claim) => Json(claim).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn heartbeat(
    State(c): Shared,
    Path(lease): Path<String>,
    Caller(agent): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    // An empty body is an empty heartbeat.
    let beat: Heartbeat = if body.iter().all(u8::is_ascii_whitespace) {
        Heartbeat::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("heartbeat body: {e}")))?
    };
    let state = super::queue::heartbeat(&c, &agent, &lease, beat.phase.as_deref()).await?;
    Ok(Json(state).into_response())
}

async fn result(
    State(c): Shared,
    Path(lease): Path<String>,
    Caller(agent): Caller,
    Json(signed): Json<Signed>,
) -> Result<Response, ApiError> {
    let ack = super::results::receive(&c, &agent, &lease, signed).await?;
    Ok(Json(ack).into_response())
}

async fn release(
    State(c): Shared,
    Path(lease): Path<String>,
    Caller(agent): Caller,
) -> Result<StatusCode, ApiError> {
    super::queue::release(&c, &agent, &lease).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn source(
    State(c): Shared,
    Path(run): Path<String>,
    _: Caller,
) -> Result<Response, ApiError> {
    let (data, sha) = c
        .store
        .swarm_source(&run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run {run}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::HeaderName::from_static("x-ponyswarm-sha256"), sha),
        ],
        data,
    )
        .into_response())
}

/// `?project=P&matrix=PATH&commit=SHA`: with a commit, a project with GitHub access
/// posts the run's statuses to that commit of its configured repository.
#[derive(Debug, serde::Deserialize)]
struct SubmitQuery {
    project: String,
    matrix: Option<String>,
    commit: Option<String>,
}

async fn submit(
    State(c): Shared,
    _: Submitter,
    Query(q): Query<SubmitQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let project = c.config.project(&q.project).ok_or_else(|| {
        ApiError::forbidden(format!(
            "project {:?} is not on this coordinator's trusted list",
            q.project
        ))
    })?;
    let matrix = q.matrix.unwrap_or_else(|| project.matrix.clone());
    if let Some(commit) = q.commit.as_deref().filter(|c| !super::webhook::is_sha(c)) {
        return Err(ApiError::bad_request(format!(
            "commit {commit:?} is not a full commit SHA (40 or 64 hexadecimal digits)"
        )));
    }
    let origin = Origin {
        kind: "submit".into(),
        commit: q.commit,
    };
    let submitted = enqueue::enqueue(&c, project, &matrix, body.to_vec(), origin).await?;
    Ok((StatusCode::CREATED, Json(submitted)).into_response())
}

/// Cancelling is for whoever may submit: the same tokens.
async fn cancel(
    State(c): Shared,
    Path(run): Path<String>,
    _: Submitter,
) -> Result<Json<Cancelled>, ApiError> {
    Ok(Json(super::cancel::cancel(&c, &run).await?))
}

async fn run_state(State(c): Shared, Path(run): Path<String>) -> Result<Json<RunState>, ApiError> {
    let swarm_run = c
        .store
        .swarm_run(&run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run {run} on this coordinator")))?;
    let jobs = c.store.swarm_jobs_of_run(&run).await?;
    let mut waiting = c.store.swarm_stuck_of_run(&run).await?;
    let mut states = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let mut agents: Vec<String> = c
            .store
            .swarm_results_of_job(&job.id)
            .await?
            .into_iter()
            .map(|r| r.agent_id)
            .collect();
        agents.dedup();
        states.push(JobState {
            job_id: job.id.clone(),
            name: job.name.clone(),
            state: job.state.as_str().into(),
            status: job.status.clone(),
            agents,
            waiting: waiting
                .remove(&job.id)
                .filter(|_| super::pages::says_why_waiting(job.state)),
        });
    }
    let state = if swarm_run.state != SwarmRunState::Running {
        swarm_run.state.as_str()
    } else if jobs.iter().any(|j| j.state != SwarmJobState::Queued) {
        "running"
    } else {
        "queued"
    };
    Ok(Json(RunState {
        run_id: swarm_run.id,
        project: swarm_run.project,
        state: state.into(),
        jobs: states,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_description_is_json_and_documents_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let routes = [
            ("get", "/openapi.json"),
            ("get", "/info"),
            ("post", "/agents"),
            ("post", "/claims"),
            ("post", "/leases/{lease}/heartbeat"),
            ("post", "/leases/{lease}/result"),
            ("post", "/leases/{lease}/release"),
            ("post", "/runs"),
            ("get", "/runs/{run}"),
            ("get", "/runs/{run}/source"),
            ("post", "/runs/{run}/cancel"),
        ];
        for (method, path) in routes {
            let full = format!("{PREFIX}{path}");
            assert!(doc["paths"][&full][method].is_object(), "{method} {full}");
        }
        assert!(doc["paths"]["/hooks/github"]["post"].is_object());
    }

    #[test]
    fn tokens_match_exactly() {
        let tokens = vec!["abc".to_string(), String::new()];
        assert!(one_of(&tokens, Some("abc")));
        assert!(!one_of(&tokens, Some("ab")));
        assert!(
            !one_of(&tokens, Some("")),
            "an empty configured token opens nothing"
        );
        assert!(!one_of(&tokens, None));
    }
}
