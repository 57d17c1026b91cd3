//! Signed results: checked against the agent's registered key and its lease, kept as
//! received, decided by quorum, recorded in the store, and the run finished (with its
//! HTML report) when its last job is decided.
//!
//! An `error` result (ponyswarm's or Docker's fault, not the project's) does not decide
//! the job: it goes back to the queue for another agent, until the coordinator's
//! `error_retries` are spent; then the error counts. Errors never vote in a quorum.
//!
//! Idempotent: a repeat of a result already taken is answered as the first time; a
//! late result (its lease expired) still counts while the job is undecided, and is
//! taken but not counted once it is decided.

use super::{now_ms, ApiError, Coordinator};
use crate::outcome::{JobOutcome, Status};
use crate::store::swarm::{AgentRow, SwarmJob, SwarmJobState, SwarmResult};
use crate::swarm::api::{JobResult, ResultAck, Signed};
use crate::swarm::quorum::{self, Decision, Received, Verdict};
use crate::swarm::sign;

/// Takes `signed`, a result `agent` posted for `lease`.
pub async fn receive(
    c: &Coordinator,
    agent: &AgentRow,
    lease: &str,
    signed: Signed,
) -> Result<ResultAck, ApiError> {
    let result: JobResult = sign::verify(&signed, &agent.public_key).map_err(|e| {
        ApiError::forbidden(format!(
            "result for lease {lease}: {e} with the key agent {} registered",
            agent.id
        ))
    })?;
    let context = c
        .store
        .swarm_lease_context(lease)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no lease {lease}")))?;
    let job_id = context.job.id.clone();
    if context.holder != agent.id || result.agent_id != agent.id {
        return Err(ApiError::forbidden(format!(
            "lease {lease} was given to another agent than {}",
            agent.id
        )));
    }
    if result.lease != lease || result.job_id != job_id {
        return Err(ApiError::bad_request(format!(
            "the signed result names lease {} and job {}, but lease {lease} is for job {job_id}",
            result.lease, result.job_id
        )));
    }
    if let Some(earlier) = &context.earlier {
        return repeat(earlier, &signed);
    }
    let job = context.job;
    let decided = job.state.is_decided();
    let row = SwarmResult {
        lease_id: lease.to_string(),
        job_id: job_id.clone(),
        agent_id: agent.id.clone(),
        payload: signed.payload.clone(),
        signature: signed.signature.clone(),
        status: result.outcome.status.as_str().to_string(),
        counted: false,
        received: now_ms(),
    };
    if !c.store.swarm_add_result(&row).await? {
        // Sent twice at once: the other request stored it.
        let earlier = c.store.swarm_result(lease).await?;
        return earlier.map_or_else(
            || Err(ApiError::internal("the result vanished")),
            |e| repeat(&e, &signed),
        );
    }
    if decided {
        return Ok(ResultAck {
            accepted: true,
            counted: false,
            reason: Some(format!("job {job_id} was already decided ({})", job.state)),
        });
    }
    decide(c, &job, context.quorum, lease).await
}

/// The answer to a result sent again: the same, if it is the same.
fn repeat(earlier: &SwarmResult, signed: &Signed) -> Result<ResultAck, ApiError> {
    if earlier.payload != signed.payload {
        return Err(ApiError::conflict(format!(
            "a different result was already received for lease {}",
            earlier.lease_id
        )));
    }
    Ok(ResultAck {
        accepted: true,
        counted: earlier.counted,
        reason: (!earlier.counted).then(|| "a repeat of a result already received".to_string()),
    })
}

/// Decides `job`, whose run wants `quorum` agents to agree, from every result it has,
/// after the one under `lease` arrived.
async fn decide(
    c: &Coordinator,
    job: &SwarmJob,
    quorum: u32,
    lease: &str,
) -> Result<ResultAck, ApiError> {
    // Each result with its agent's key and operator: they decide who counts as distinct.
    let rows = c.store.swarm_results_from(&job.id).await?;
    let errors = rows
        .iter()
        .filter(|r| r.result.status == Status::Error.as_str())
        .count();
    let this = rows.iter().map(|r| &r.result).find(|r| r.lease_id == lease);
    if this.is_some_and(|r| r.status == Status::Error.as_str()) {
        if !error_counts(errors, c.config.error_retries) {
            // Ours or Docker's fault, not the project's: another agent tries (the claim
            // skips agents that answered the job already).
            c.store.swarm_requeue(&job.id, lease).await?;
            c.queued.notify_waiters();
            return Ok(ResultAck {
                accepted: true,
                counted: false,
                reason: Some(format!(
                    "an error is retried on another agent (retry {errors} of {})",
                    c.config.error_retries
                )),
            });
        }
        return decide_error(c, job, lease, this).await;
    }
    let mut outcomes: Vec<(String, JobOutcome)> = Vec::new();
    let mut received: Vec<Received> = Vec::new();
    for from in &rows {
        let r = &from.result;
        // Verified when received: only our own rows, so a bad one is skipped, not fatal.
        match serde_json::from_str::<JobResult>(&r.payload) {
            // Errors retried elsewhere say nothing about the project: no vote.
            Ok(res) if res.outcome.status == Status::Error => {}
            Ok(res) => {
                received.push(Received {
                    agent: r.agent_id.clone(),
                    // An agent row is never deleted; if one were, its id stands in for its key.
                    key: from.key.clone().unwrap_or_else(|| r.agent_id.clone()),
                    operator: from.operator.clone(),
                    verdict: Verdict::of(&res.outcome),
                });
                outcomes.push((r.lease_id.clone(), res.outcome));
            }
            Err(e) => tracing::error!("result {} of job {}: {e}", r.lease_id, job.id),
        }
    }
    if outcomes.is_empty() {
        return Err(ApiError::internal(format!(
            "job {} has no readable result",
            job.id
        )));
    }
    let decision = quorum::decide(quorum, &received);
    let (state, outcome, counted) = match &decision {
        Decision::Pending { have, need } => {
            c.store.swarm_requeue(&job.id, lease).await?;
            c.queued.notify_waiters();
            return Ok(ResultAck {
                accepted: true,
                counted: false,
                reason: Some(format!(
                    "waiting for agreement: {have} of {need} agents agree so far"
                )),
            });
        }
        Decision::Agreed { results } => {
            let leases: Vec<String> = results.iter().map(|&i| outcomes[i].0.clone()).collect();
            (SwarmJobState::Done, outcomes[results[0]].1.clone(), leases)
        }
        Decision::Disagreed | Decision::Flaky => {
            let mut o = outcomes[outcomes.len() - 1].1.clone();
            let flaky = decision == Decision::Flaky;
            o.status = if flaky { Status::Failed } else { Status::Error };
            o.detail = Some(format!(
                "{}: {}",
                if flaky { "flaky" } else { "agents disagree" },
                quorum::describe(&received)
            ));
            (
                if flaky {
                    SwarmJobState::Flaky
                } else {
                    SwarmJobState::Disagreed
                },
                o,
                Vec::new(),
            )
        }
    };
    settle(c, job, lease, state, outcome, counted).await
}

/// Whether an `error` result counts, with `errors` error results of the job received
/// (this one included) and `retries` allowed: only once the retries are spent.
pub fn error_counts(errors: usize, retries: u32) -> bool {
    errors > usize::try_from(retries).unwrap_or(usize::MAX)
}

/// Decides `job` as the `error` under `lease` (`this`) says: its retries are spent.
async fn decide_error(
    c: &Coordinator,
    job: &SwarmJob,
    lease: &str,
    this: Option<&SwarmResult>,
) -> Result<ResultAck, ApiError> {
    let outcome = this
        .and_then(|r| serde_json::from_str::<JobResult>(&r.payload).ok())
        .map(|r| r.outcome)
        .ok_or_else(|| ApiError::internal(format!("job {}: unreadable result", job.id)))?;
    let counted = vec![lease.to_string()];
    settle(c, job, lease, SwarmJobState::Done, outcome, counted).await
}

/// Records `job` decided as `state` with `outcome`, the results under `counted` being
/// the ones that counted, and finishes its run if that was its last open job.
async fn settle(
    c: &Coordinator,
    job: &SwarmJob,
    lease: &str,
    state: SwarmJobState,
    mut outcome: JobOutcome,
    counted: Vec<String>,
) -> Result<ResultAck, ApiError> {
    outcome.name = job.name.clone();
    outcome.allowed_failure = job.allowed_failure;
    // Decided, recorded and the run finished if this was its last open job, at once.
    let Some(finished) = c
        .store
        .swarm_settle(&job.id, &job.run_id, state, &counted, &outcome)
        .await?
    else {
        return Ok(ResultAck {
            accepted: true,
            counted: false,
            reason: Some(format!("job {} was decided meanwhile", job.id)),
        });
    };
    tracing::info!("job {} decided: {state}, {}", job.id, outcome.status);
    if finished {
        finish(c, &job.run_id).await?;
    }
    // The job's status (and the run's summary) may be owed to GitHub now.
    c.outbox.notify_one();
    let is_counted = counted.iter().any(|l| l == lease);
    Ok(ResultAck {
        accepted: true,
        counted: is_counted,
        reason: (!is_counted).then(|| format!("job decided as {state}")),
    })
}

/// Finishes run `run_id` in the store and writes its HTML report.
pub async fn finish(c: &Coordinator, run_id: &str) -> Result<(), ApiError> {
    let mut result = c.store.load_run(run_id).await?;
    result.finish(std::time::SystemTime::now());
    c.store.finish_run(&result.run).await?;
    write_report(c, run_id).await?;
    tracing::info!("run {run_id} finished: {}", result.run.status);
    Ok(())
}

/// (Re)writes run `run_id`'s HTML report into its report directory.
pub async fn write_report(c: &Coordinator, run_id: &str) -> Result<std::path::PathBuf, ApiError> {
    let result = c.store.load_run(run_id).await?;
    let previous = c.store.previous_run(&result.run.name, run_id).await?;
    let dir = c.report_dir(run_id);
    let site = crate::report::write_html(&result, previous.as_ref(), &dir)
        .map_err(|e| ApiError::internal(format!("cannot write the report of run {run_id}: {e}")))?;
    Ok(site.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_counts_only_once_its_retries_are_spent() {
        let cases = [
            (1, 0, true),
            (1, 2, false),
            (2, 2, false),
            (3, 2, true),
            (4, 2, true),
        ];
        for (errors, retries, counts) in cases {
            assert_eq!(
                error_counts(errors, retries),
                counts,
                "{errors} of {retries}"
            );
        }
    }
}
