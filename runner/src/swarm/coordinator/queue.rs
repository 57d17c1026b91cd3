//! Claims, heartbeats and releases: who holds which job until when.
//!
//! A claim picks the oldest claimable job (queued, or leased with the lease expired)
//! whose Python the agent offers and whose services it offers all of, and takes it with
//! one conditional UPDATE; losing that race to another agent (or another coordinator
//! on the same PostgreSQL) just moves on to the next candidate. With nothing to take,
//! the claim waits (long-poll), woken by new jobs here and polling the database for
//! those of other coordinators and for leases that expire.

use super::{now_ms, random_id, ApiError, Coordinator};
use crate::store::swarm::{AgentRow, SwarmJob};
use crate::swarm::api::{Capabilities, Claim, JobSpec, LeaseState};
use std::time::Duration;

/// The longest long-poll.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting claim looks at the database again.
const POLL: Duration = Duration::from_millis(250);
/// Candidates looked at per attempt.
const CANDIDATES: usize = 64;

/// Whether an agent offering `caps` can run `job`: its Python, and every service.
pub fn fits(caps: &Capabilities, python: &str, services: &[String]) -> bool {
    caps.pythons.iter().any(|p| p == python)
        && services
            .iter()
            .all(|s| caps.services.iter().any(|o| o == s))
}

/// A job for `agent`, waiting up to `wait` for one; `None` when none came.
pub async fn claim(
    c: &Coordinator,
    agent: &AgentRow,
    wait: Duration,
) -> Result<Option<Claim>, ApiError> {
    let caps: Capabilities = serde_json::from_str(&agent.capabilities).map_err(|e| {
        ApiError::internal(format!("agent {}: unreadable capabilities: {e}", agent.id))
    })?;
    let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
    loop {
        // Registered before looking, so a job queued meanwhile still wakes us.
        let woken = c.queued.notified();
        if let Some(claim) = try_claim(c, agent, &caps).await? {
            return Ok(Some(claim));
        }
        let now = tokio::time::Instant::now();
        // Shutting down: answer now rather than hold the server's exit for the poll.
        if now >= deadline || c.stopping.is_cancelled() {
            return Ok(None);
        }
        tokio::select! {
            _ = c.stopping.cancelled() => return Ok(None),
            _ = tokio::time::timeout(POLL.min(deadline - now), woken) => {}
        }
    }
}

async fn try_claim(
    c: &Coordinator,
    agent: &AgentRow,
    caps: &Capabilities,
) -> Result<Option<Claim>, ApiError> {
    let now = now_ms();
    let candidates = c.store.swarm_candidates(&agent.id, now, CANDIDATES).await?;
    for job in candidates
        .iter()
        .filter(|j| fits(caps, &j.python, &j.services))
    {
        let lease = random_id();
        let expires = now + lease_ms(c);
        if c.store
            .swarm_take(&job.id, &lease, &agent.id, now, expires)
            .await?
        {
            return Ok(Some(issue(c, job, lease).await?));
        }
    }
    Ok(None)
}

/// The signed spec of `job` under `lease`.
async fn issue(c: &Coordinator, job: &SwarmJob, lease: String) -> Result<Claim, ApiError> {
    let run =
        c.store.swarm_run(&job.run_id).await?.ok_or_else(|| {
            ApiError::internal(format!("job {} has no run {}", job.id, job.run_id))
        })?;
    let spec = JobSpec {
        run_id: run.id.clone(),
        job_id: job.id.clone(),
        project: run.project,
        matrix_file: run.matrix_file,
        job_name: job.name.clone(),
        job_index: job.position,
        python: job.python.clone(),
        services: job.services.clone(),
        source_path: format!("{}/runs/{}/source", crate::swarm::api::PREFIX, run.id),
        source_sha256: run.source_sha256,
        lease: lease.clone(),
        issued_at: crate::time::timestamp(std::time::SystemTime::now()),
    };
    tracing::info!("job {} leased as {lease}", job.id);
    Ok(Claim {
        lease,
        spec: c.key.sign(&spec),
        lease_seconds: c.config.lease_seconds,
    })
}

/// Extends `agent`'s `lease`; `cancel` when its run was cancelled; 409 when it is lost
/// (expired, released, or decided).
pub async fn heartbeat(
    c: &Coordinator,
    agent: &AgentRow,
    lease: &str,
    phase: Option<&str>,
) -> Result<LeaseState, ApiError> {
    let now = now_ms();
    if c.store
        .swarm_heartbeat(lease, &agent.id, now, now + lease_ms(c), phase)
        .await?
    {
        Ok(LeaseState {
            expires_in_seconds: c.config.lease_seconds,
            cancel: false,
        })
    } else if c.store.swarm_lease_cancelled(lease, &agent.id).await? {
        // The run was cancelled while the job ran: the agent stops it and reports nothing.
        Ok(LeaseState {
            expires_in_seconds: 0,
            cancel: true,
        })
    } else {
        Err(ApiError::conflict(format!(
            "lease {lease} is lost (expired, released or not yours): stop the job"
        )))
    }
}

/// Gives `agent`'s `lease` up: the job goes back to the queue.
pub async fn release(c: &Coordinator, agent: &AgentRow, lease: &str) -> Result<(), ApiError> {
    if c.store.swarm_release(lease, &agent.id).await? {
        c.queued.notify_waiters();
        Ok(())
    } else {
        Err(ApiError::conflict(format!(
            "lease {lease} is not held by agent {}",
            agent.id
        )))
    }
}

fn lease_ms(c: &Coordinator) -> i64 {
    i64::try_from(c.config.lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_fit_agents_that_offer_everything_they_need() {
        let caps = Capabilities {
            pythons: vec!["3.11".into(), "3.13".into()],
            services: vec!["postgres".into()],
            slots: 1,
        };
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = [
            ("3.11", s(&[]), true),
            ("3.13", s(&["postgres"]), true),
            ("3.9", s(&[]), false),
            ("3.11", s(&["postgres", "redis"]), false),
            ("3.11", s(&["mariadb"]), false),
        ];
        for (python, services, want) in cases {
            assert_eq!(
                fits(&caps, python, &services),
                want,
                "{python} {services:?}"
            );
        }
    }
}
