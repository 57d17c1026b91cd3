//! Jobs no live agent can take: why (said on the run page and in the API), and, after
//! the coordinator's `unschedulable_after`, giving up on them as `unschedulable` so
//! their run can finish.
//!
//! An agent is live when it called the coordinator within [`live_window`]: a claim's
//! long poll or a heartbeat comes at least that often from a running agent. The reason
//! is [`why_stuck`], pure; [`run`] is the thin loop that looks at the waiting jobs, on
//! every coordinator (the store's conditional updates keep them from deciding twice).

use super::queue::{fits, MAX_WAIT};
use super::{now_ms, ApiError, Coordinator};
use crate::outcome::{JobOutcome, Status};
use crate::store::swarm::AgentRow;
use crate::swarm::api::Capabilities;
use std::time::Duration;

/// How recently an agent must have called to count as live: a lease, plus the longest
/// long poll (an idle agent is seen when each long poll starts).
pub fn live_window(lease_seconds: u64) -> Duration {
    Duration::from_secs(lease_seconds) + MAX_WAIT
}

/// How often the waiting jobs are looked at: a quarter of the wait allowed, so a job
/// is given up within a quarter more than `unschedulable_after`, between 100 ms and 5 s.
pub fn sweep_period(unschedulable_after: Duration) -> Duration {
    (unschedulable_after / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// Why no agent of `live` (id, offers) can take a job needing `python` and `services`
/// that the agents in `answered` already posted a result for; `None` when one can.
pub fn why_stuck(
    python: &str,
    services: &[String],
    answered: &[String],
    live: &[(String, Capabilities)],
) -> Option<String> {
    let online = match live.len() {
        0 => return Some("no agent online".into()),
        1 => "1 agent online".to_string(),
        n => format!("{n} agents online"),
    };
    let fitting: Vec<&String> = live
        .iter()
        .filter(|(_, caps)| fits(caps, python, services))
        .map(|(id, _)| id)
        .collect();
    let needs = if services.is_empty() {
        format!("python {python}")
    } else {
        format!("python {python} with {}", services.join(" and "))
    };
    if !fitting.is_empty() {
        if fitting.iter().any(|id| !answered.contains(id)) {
            return None;
        }
        // A quorum, or an error retried elsewhere, needs an agent that has not answered.
        return Some(format!(
            "every agent that offers {needs} has already answered this job; {online}"
        ));
    }
    let with_python: Vec<&Capabilities> = live
        .iter()
        .map(|(_, caps)| caps)
        .filter(|caps| caps.pythons.iter().any(|p| p == python))
        .collect();
    if with_python.is_empty() {
        return Some(format!("no agent offers python {python}; {online}"));
    }
    let missing: Vec<&str> = services
        .iter()
        .filter(|s| !with_python.iter().any(|c| c.services.contains(s)))
        .map(String::as_str)
        .collect();
    Some(if missing.is_empty() {
        format!("no agent offers {needs} together; {online}")
    } else {
        format!(
            "no agent offers python {python} with {}; {online}",
            missing.join(" and ")
        )
    })
}

/// Looks at the waiting jobs every [`sweep_period`] until the coordinator stops.
pub async fn run(c: std::sync::Arc<Coordinator>) {
    let period = sweep_period(c.config.unschedulable_after);
    loop {
        if let Err(e) = sweep(&c).await {
            tracing::warn!("jobs no agent can take: {e}");
        }
        tokio::select! {
            _ = c.stopping.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
    }
}

/// Notes why each waiting job is stuck, and gives up on those stuck too long.
async fn sweep(c: &Coordinator) -> Result<(), ApiError> {
    let now = now_ms();
    let window = i64::try_from(live_window(c.config.lease_seconds).as_millis()).unwrap_or(0);
    let live: Vec<(String, Capabilities)> = c
        .store
        .swarm_live_agents(now - window)
        .await?
        .into_iter()
        .filter_map(|a: AgentRow| {
            // Written by the coordinator from a Capabilities: skipped if edited by hand.
            let caps = serde_json::from_str(&a.capabilities).ok()?;
            Some((a.id, caps))
        })
        .collect();
    let after = i64::try_from(c.config.unschedulable_after.as_millis()).unwrap_or(i64::MAX);
    // What no live agent offers, whoever answered: only jobs needing it, jobs some agent
    // answered and jobs marked stuck can be stuck or need their mark cleared.
    let unmet: Vec<_> = c
        .store
        .swarm_waiting_needs(now)
        .await?
        .into_iter()
        .filter(|n| why_stuck(&n.python, &n.services, &[], &live).is_some())
        .collect();
    for job in c.store.swarm_waiting_jobs(now, &unmet).await? {
        let why = why_stuck(&job.python, &job.services, &job.answered, &live);
        match (why, job.stuck_since) {
            (None, None) => {}
            (None, Some(_)) => c.store.swarm_set_stuck(&job.id, None).await?,
            (Some(why), since) => {
                let since = since.unwrap_or(now);
                if job.stuck_reason.as_deref() != Some(why.as_str()) || job.stuck_since.is_none() {
                    c.store
                        .swarm_set_stuck(&job.id, Some((since, &why)))
                        .await?;
                }
                if now.saturating_sub(since) >= after {
                    give_up(c, &job.id, &job.run_id, &why, now, since).await?;
                }
            }
        }
    }
    Ok(())
}

/// Ends job `id` as `unschedulable`, records its outcome, and finishes its run if that
/// was its last open job.
async fn give_up(
    c: &Coordinator,
    id: &str,
    run_id: &str,
    why: &str,
    now: i64,
    since: i64,
) -> Result<(), ApiError> {
    // Not the project's fault: the swarm could not run it, as an `error` says.
    let status = Status::Error;
    if !c
        .store
        .swarm_give_up(id, status.as_str(), now, since)
        .await?
    {
        return Ok(());
    }
    let Some(job) = c.store.swarm_job(id).await? else {
        return Ok(());
    };
    let waited = crate::time::human_duration(Duration::from_millis(
        u64::try_from(now - since).unwrap_or(0),
    ));
    let mut outcome = JobOutcome::new(&job.name, Default::default(), status);
    outcome.detail = Some(format!("unschedulable: {why} (waited {waited})"));
    outcome.allowed_failure = job.allowed_failure;
    c.store.record_job(run_id, &outcome).await?;
    tracing::info!("job {id} unschedulable: {why}");
    if c.store.swarm_finish_if_done(run_id).await? {
        super::results::finish(c, run_id).await?;
    }
    c.outbox.notify_one();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(pythons: &[&str], services: &[&str]) -> Capabilities {
        Capabilities {
            pythons: pythons.iter().map(|s| s.to_string()).collect(),
            services: services.iter().map(|s| s.to_string()).collect(),
            slots: 1,
        }
    }

    /// Python, services, agents that answered, live agents, the reason wanted.
    type Case<'a> = (
        &'a str,
        Vec<String>,
        Vec<String>,
        &'a [(String, Capabilities)],
        Option<&'a str>,
    );

    #[test]
    fn the_reason_names_what_no_live_agent_offers() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let two = vec![
            ("a".to_string(), caps(&["3.11", "3.13"], &["redis"])),
            ("b".to_string(), caps(&["3.11"], &["postgres"])),
        ];
        let cases: [Case; 8] = [
            ("3.11", s(&[]), s(&[]), &two, None),
            ("3.11", s(&[]), s(&["a"]), &two, None),
            ("3.9", s(&[]), s(&[]), &two, Some("no agent offers python 3.9; 2 agents online")),
            ("3.9", s(&[]), s(&[]), &[], Some("no agent online")),
            ("3.13", s(&["postgres"]), s(&[]), &two,
             Some("no agent offers python 3.13 with postgres; 2 agents online")),
            ("3.11", s(&["postgres", "redis"]), s(&[]), &two,
             Some("no agent offers python 3.11 with postgres and redis together; 2 agents online")),
            ("3.13", s(&[]), s(&["a"]), &two,
             Some("every agent that offers python 3.13 has already answered this job; 2 agents online")),
            ("3.13", s(&["mariadb"]), s(&[]), &two[..1],
             Some("no agent offers python 3.13 with mariadb; 1 agent online")),
        ];
        for (python, services, answered, live, want) in cases {
            assert_eq!(
                why_stuck(python, &services, &answered, live).as_deref(),
                want,
                "{python} {services:?} answered by {answered:?}"
            );
        }
    }

    #[test]
    fn sweeps_come_often_enough_for_the_wait_but_not_too_often() {
        let cases = [
            (Duration::from_secs(3600), Duration::from_secs(5)),
            (Duration::from_secs(2), Duration::from_millis(500)),
            (Duration::from_millis(100), Duration::from_millis(100)),
        ];
        for (after, want) in cases {
            assert_eq!(sweep_period(after), want, "{after:?}");
        }
        assert_eq!(live_window(60), Duration::from_secs(120));
    }
}
