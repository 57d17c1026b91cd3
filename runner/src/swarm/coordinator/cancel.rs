//! Cancelling a run: its queued jobs end `cancelled` at once; its running jobs end
//! `cancelled` too, and their agents learn it from the answer to their next heartbeat,
//! stop the job's containers and post nothing (a result that still comes is taken but
//! never counted: the job is decided). The run ends `cancelled`, with its report.

use super::{results, ApiError, Coordinator};
use crate::outcome::{JobOutcome, Status};
use crate::store::swarm::SwarmJobState;
use crate::swarm::api::Cancelled;

/// Cancels run `run_id`; a run already over is answered as it is, unchanged.
pub async fn cancel(c: &Coordinator, run_id: &str) -> Result<Cancelled, ApiError> {
    let Some(count) = c.store.swarm_cancel_run(run_id).await? else {
        let run =
            c.store.swarm_run(run_id).await?.ok_or_else(|| {
                ApiError::not_found(format!("no run {run_id} on this coordinator"))
            })?;
        return Ok(Cancelled {
            run_id: run.id,
            state: run.state.as_str().into(),
            queued: 0,
            running: 0,
        });
    };
    // The store call above moved the run out of `running`, so only this call gets here.
    for job in c.store.swarm_jobs_of_run(run_id).await? {
        if job.state == SwarmJobState::Cancelled {
            let mut outcome = JobOutcome::new(&job.name, Default::default(), Status::Cancelled);
            outcome.detail = Some("the run was cancelled".into());
            outcome.allowed_failure = job.allowed_failure;
            c.store.record_job(run_id, &outcome).await?;
        }
    }
    results::finish(c, run_id).await?;
    c.outbox.notify_one();
    tracing::info!(
        "run {run_id} cancelled: {} queued and {} running jobs",
        count.queued,
        count.running
    );
    Ok(Cancelled {
        run_id: run_id.to_string(),
        state: crate::store::swarm::SwarmRunState::Cancelled
            .as_str()
            .into(),
        queued: count.queued,
        running: count.running,
    })
}
