//! The coordinator's web pages: `/` lists runs, `/runs/{run}` shows a run's jobs with
//! their state (and why no agent takes a job that waits so), the agents that answered
//! and whether they agreed, and the commit
//! statuses owed to GitHub (those that could not be posted with why),
//! `/runs/{run}/jobs/{position}` leads to a job's page (what statuses link to), and
//! `/runs/{run}/report/…` serves the run's HTML report (written when the run finished,
//! or now if this coordinator has not got it, as with several on one PostgreSQL).
//!
//! Plain handlebars templates (`templates/serve-*.hbs`), embedded in the binary.

use super::{results, ApiError, Coordinator};
use crate::store::swarm::{SwarmJob, SwarmJobState, SwarmRunState};
use crate::swarm::api::JobResult;
use crate::swarm::quorum::Verdict;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use handlebars::Handlebars;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Component, PathBuf};
use std::sync::Arc;

/// The page templates, compiled once.
#[derive(Debug)]
pub struct Pages(Handlebars<'static>);

impl Pages {
    /// Compiles the templates.
    pub fn new() -> Result<Pages, ApiError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(false);
        for (name, text) in [
            (
                "serve-layout",
                include_str!("../../../../templates/serve-layout.hbs"),
            ),
            (
                "serve-index",
                include_str!("../../../../templates/serve-index.hbs"),
            ),
            (
                "serve-run",
                include_str!("../../../../templates/serve-run.hbs"),
            ),
        ] {
            hb.register_template_string(name, text)
                .map_err(|e| ApiError::internal(format!("template {name}: {e}")))?;
        }
        Ok(Pages(hb))
    }

    fn render(&self, name: &str, data: &serde_json::Value) -> Result<Html<String>, ApiError> {
        self.0
            .render(name, data)
            .map(Html)
            .map_err(|e| ApiError::internal(format!("page {name}: {e}")))
    }
}

/// The pages' routes.
pub fn router() -> Router<Arc<Coordinator>> {
    Router::new()
        .route("/", get(index))
        .route("/runs/{run}", get(run_page))
        .route("/runs/{run}/jobs/{position}", get(job_page))
        .route("/runs/{run}/report/", get(report_index))
        .route("/runs/{run}/report/{*path}", get(report_file))
}

async fn index(State(c): State<Arc<Coordinator>>) -> Result<Html<String>, ApiError> {
    let runs: Vec<_> = c
        .store
        .swarm_runs(100)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.run.id, "project": s.run.project, "origin": s.run.origin,
                "commit": s.run.commit_sha.map(|c| c.chars().take(12).collect::<String>()),
                "state": s.run.state, "finished": s.run.state != SwarmRunState::Running,
                "jobs": s.jobs, "decided": s.decided, "disputed": s.disputed,
            })
        })
        .collect();
    c.pages.render(
        "serve-index",
        &json!({"title": "ponyswarm coordinator", "runs": runs, "public_url": c.public_url}),
    )
}

async fn run_page(
    State(c): State<Arc<Coordinator>>,
    Path(run): Path<String>,
) -> Result<Html<String>, ApiError> {
    let r = c
        .store
        .swarm_run(&run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run {run} on this coordinator")))?;
    let waiting = c.store.swarm_stuck_of_run(&run).await?;
    let mut jobs = Vec::new();
    for job in c.store.swarm_jobs_of_run(&run).await? {
        jobs.push(job_view(&c, &job, &waiting).await?);
    }
    let statuses: Vec<_> = c
        .store
        .outbox_of_run(&run)
        .await?
        .into_iter()
        .map(|o| {
            json!({
                "context": o.status.context, "state": o.status.state.as_str(),
                "description": o.status.description, "delivery": o.delivery.as_str(),
                "error": o.error,
            })
        })
        .collect();
    let data = json!({
        "title": format!("run {}", r.id),
        "statuses": statuses,
        "finished": r.state != SwarmRunState::Running,
        "run": {
            "id": r.id, "project": r.project, "matrix_file": r.matrix_file,
            "origin": r.origin, "commit_sha": r.commit_sha, "quorum": r.quorum, "state": r.state,
        },
        "jobs": jobs,
    });
    c.pages.render("serve-run", &data)
}

/// Whether a job in `state` shows why no agent takes it: while it waits, and once it
/// ended for that reason (a reason kept from before an agent took it is stale).
pub(crate) fn says_why_waiting(state: SwarmJobState) -> bool {
    matches!(state, SwarmJobState::Queued | SwarmJobState::Unschedulable)
}

/// One job's row: its state, why no agent takes it (from `waiting`, by job id), and
/// every result received, by agent name.
async fn job_view(
    c: &Coordinator,
    job: &SwarmJob,
    waiting: &HashMap<String, String>,
) -> Result<serde_json::Value, ApiError> {
    let mut results = Vec::new();
    let mut detail = None;
    for r in c.store.swarm_results_of_job(&job.id).await? {
        let verdict = serde_json::from_str::<JobResult>(&r.payload)
            .map(|res| Verdict::of(&res.outcome).describe())
            .unwrap_or_else(|_| r.status.clone());
        results.push(json!({
            "agent": agent_name(c, &r.agent_id).await?,
            "status": r.status, "verdict": verdict, "counted": r.counted,
        }));
    }
    if job.state == SwarmJobState::Disagreed {
        detail = Some("the agents disagree: no result counts");
    } else if job.state == SwarmJobState::Flaky {
        detail = Some("flaky: the failing tests differ from run to run");
    } else if job.state == SwarmJobState::Cancelled {
        detail = Some("cancelled with its run");
    }
    let waiting = waiting.get(&job.id).filter(|_| says_why_waiting(job.state));
    let holder = match &job.agent_id {
        Some(id) if job.state == SwarmJobState::Leased => Some(agent_name(c, id).await?),
        _ => None,
    };
    Ok(json!({
        "position": job.position, "name": job.name, "python": job.python, "services": job.services,
        "state": job.state, "status": job.status, "phase": job.phase,
        "holder": holder, "results": results, "detail": detail, "waiting": waiting,
    }))
}

/// `name (id)` of an agent.
async fn agent_name(c: &Coordinator, id: &str) -> Result<String, ApiError> {
    Ok(match c.store.swarm_agent(id).await? {
        Some(a) => format!("{} ({id})", a.name),
        None => id.to_string(),
    })
}

/// A job's page, as commit statuses link to it: its page of the HTML report once the run
/// is finished, its row on the run page until then.
async fn job_page(
    State(c): State<Arc<Coordinator>>,
    Path((run, position)): Path<(String, usize)>,
) -> Result<Redirect, ApiError> {
    let job = c
        .store
        .swarm_jobs_of_run(&run)
        .await?
        .into_iter()
        .find(|j| j.position == position)
        .ok_or_else(|| ApiError::not_found(format!("run {run} has no job {position}")))?;
    let finished = c
        .store
        .swarm_run(&run)
        .await?
        .is_some_and(|r| r.state != SwarmRunState::Running);
    if finished {
        let result = c.store.load_run(&run).await?;
        let file = crate::report::pages::job_files(&result)
            .into_iter()
            .zip(&result.jobs)
            .find(|(_, o)| o.name == job.name)
            .map(|(file, _)| file);
        if let Some(file) = file {
            return Ok(Redirect::to(&format!("/runs/{run}/report/{file}")));
        }
    }
    Ok(Redirect::to(&format!("/runs/{run}#job-{position}")))
}

async fn report_index(
    State(c): State<Arc<Coordinator>>,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    serve_report(&c, &run, "index.html").await
}

async fn report_file(
    State(c): State<Arc<Coordinator>>,
    Path((run, path)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    serve_report(&c, &run, &path).await
}

/// A file of run `run`'s report; the report is written first if missing here.
async fn serve_report(c: &Coordinator, run: &str, rel: &str) -> Result<Response, ApiError> {
    let rel = safe(rel).ok_or_else(|| ApiError::not_found(format!("no {rel} in the report")))?;
    let finished = c
        .store
        .swarm_run(run)
        .await?
        .is_some_and(|r| r.state != SwarmRunState::Running);
    if !finished {
        return Err(ApiError::not_found(format!(
            "run {run} has no report yet: it is not finished"
        )));
    }
    let dir = c.report_dir(run);
    if !dir.join("index.html").is_file() {
        results::write_report(c, run).await?;
    }
    let path = dir.join(&rel);
    let path = if path.is_dir() {
        path.join("index.html")
    } else {
        path
    };
    let data = std::fs::read(&path)
        .map_err(|_| ApiError::not_found(format!("no {} in run {run}'s report", rel.display())))?;
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("js") => "text/javascript",
        _ => "application/octet-stream",
    };
    Ok(([(header::CONTENT_TYPE, kind)], data).into_response())
}

/// `rel` if it stays inside the report directory.
fn safe(rel: &str) -> Option<PathBuf> {
    let path = std::path::Path::new(rel);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| path.to_path_buf())
}
