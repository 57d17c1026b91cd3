//! Claims, heartbeats and releases: who holds which job until when.
//!
//! A claim is one call to the store ([`Store::swarm_claim`](crate::store::Store::swarm_claim)),
//! which takes the oldest job the agent can run through the store's claim writer: the
//! claims waiting at once are served together, in one transaction (the rules and the
//! design are in [`crate::store::swarm_claim`]). With nothing to take, the claim waits (long-poll)
//! until jobs become claimable: new runs, released leases and results that need
//! another agent wake it, in this process by [`Coordinator::queued`] and, on
//! PostgreSQL, from every coordinator on the database by `LISTEN`/`NOTIFY`
//! ([`listen`]). Leases expire silently, so a waiting claim also looks again every
//! [`FALLBACK_POLL`].

use super::{now_ms, random_id, ApiError, Coordinator};
use crate::store::swarm::AgentRow;
use crate::store::swarm_claim::{ClaimRequest, Claimed};
use crate::swarm::api::{Capabilities, Claim, JobSpec, LeaseState};
use std::sync::Arc;
use std::time::Duration;

/// The longest long-poll.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting claim looks again without being woken: for leases that expire.
pub const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// How long the listener waits before connecting again after losing PostgreSQL.
const RELISTEN: Duration = Duration::from_secs(1);

/// Whether an agent offering `caps` can run `job`: its Python, and every service. The
/// rule the store's claims apply in SQL; checked against them in debug builds.
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
            _ = tokio::time::timeout(FALLBACK_POLL.min(deadline - now), woken) => {}
        }
    }
}

async fn try_claim(
    c: &Coordinator,
    agent: &AgentRow,
    caps: &Capabilities,
) -> Result<Option<Claim>, ApiError> {
    let now = now_ms();
    let lease = random_id();
    let request = ClaimRequest {
        agent_id: agent.id.clone(),
        pythons: caps.pythons.clone(),
        services: caps.services.clone(),
        lease: lease.clone(),
        now,
        expires: now + lease_ms(c),
    };
    let Some(claimed) = c.store.swarm_claim(request).await? else {
        return Ok(None);
    };
    debug_assert!(
        fits(caps, &claimed.job.python, &claimed.job.services),
        "the store handed {} a job it cannot run: {:?}",
        agent.id,
        claimed.job
    );
    Ok(Some(issue(c, claimed, lease)))
}

/// Wakes this coordinator's waiting claims whenever any coordinator on the same
/// PostgreSQL says jobs became claimable; returns at once on SQLite. Runs for the
/// coordinator's life, connecting again when the connection drops.
pub async fn listen(c: Arc<Coordinator>) {
    loop {
        match c.store.swarm_queue_listener().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => loop {
                // `recv` reconnects by itself; an error is a failed reconnect.
                match listener.recv().await {
                    Ok(_) => c.queued.notify_waiters(),
                    Err(e) => {
                        tracing::warn!("queue wakeups from PostgreSQL stopped: {e}");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!("cannot listen for queue wakeups on PostgreSQL: {e}"),
        }
        // Claims meanwhile fall back to polling; wake them in case we missed a NOTIFY.
        c.queued.notify_waiters();
        tokio::time::sleep(RELISTEN).await;
    }
}

/// The signed spec of `job` under `lease`.
fn issue(c: &Coordinator, claimed: Claimed, lease: String) -> Claim {
    let Claimed {
        job,
        project,
        matrix_file,
        source_sha256,
        trust,
    } = claimed;
    let spec = JobSpec {
        source_path: format!("{}/runs/{}/source", crate::swarm::api::PREFIX, job.run_id),
        run_id: job.run_id,
        job_id: job.id.clone(),
        project,
        matrix_file,
        job_name: job.name,
        job_index: job.position,
        python: job.python,
        services: job.services,
        source_sha256,
        lease: lease.clone(),
        issued_at: crate::time::timestamp(std::time::SystemTime::now()),
        trust,
    };
    tracing::debug!("job {} leased as {lease}", job.id);
    Claim {
        lease,
        spec: c.key.sign(&spec),
        lease_seconds: c.config.lease_seconds,
    }
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
