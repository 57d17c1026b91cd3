//! One slot of the agent: claim a job, check it, run it while heartbeating its lease,
//! post the signed result; again, until told to stop.
//!
//! Stopping has two steps (see [`super::Shutdown`]): `drain` stops claiming and lets
//! the running job finish and report; `abort` cancels the running job (its containers
//! are removed) and releases its lease so another agent gets it at once.

use super::client::ClientError;
use super::execute::{error_outcome, PhaseCell};
use super::session::{Session, SessionError};
use super::trust;
use super::Agent;
use crate::outcome::JobOutcome;
use crate::swarm::api::{Claim, JobResult, JobSpec};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a claim waits for a job before asking again.
const CLAIM_WAIT: Duration = Duration::from_secs(10);
/// How long a result is retried while the coordinator is unreachable.
const RESULT_PATIENCE: Duration = Duration::from_secs(600);

/// Runs slot `n` until `drain` (or a registration that cannot succeed).
pub async fn run_slot(agent: Arc<Agent>, n: u32) -> Result<(), SessionError> {
    let drain = agent.shutdown.drain.clone();
    let mut unreachable = false;
    while !drain.is_cancelled() {
        let session = match agent.sessions.current(&drain).await {
            Ok(s) => s,
            Err(SessionError::Stopped) => break,
            Err(e) => return Err(e),
        };
        // A claim in flight is finished, not dropped: the coordinator may already
        // have leased us a job, which is then released rather than left to expire.
        match agent.client.claim(&session.token, CLAIM_WAIT).await {
            Ok(None) => unreachable = false,
            Ok(Some(claim)) => {
                unreachable = false;
                if drain.is_cancelled() {
                    release(&agent, &session, &claim.lease, "stopping").await;
                    break;
                }
                handle(&agent, &session, claim).await;
            }
            Err(ClientError::Unauthorized { .. }) => {
                match agent.sessions.register(&drain, Some(&session)).await {
                    Ok(_) | Err(SessionError::Stopped) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => {
                if !unreachable {
                    eprintln!("agent slot {n}: {e}; retrying");
                    unreachable = true;
                }
                pause(&drain, Duration::from_secs(2)).await;
            }
        }
    }
    Ok(())
}

/// Checks, runs and reports one claimed job.
async fn handle(agent: &Agent, session: &Session, claim: Claim) {
    let spec = match trust::check_claim(&claim, &session.coordinator_key, &agent.offers) {
        Ok(spec) => spec,
        Err(refusal) => {
            println!("refused lease {}: {refusal}", claim.lease);
            release(agent, session, &claim.lease, "refused").await;
            return;
        }
    };
    println!("claimed lease {}: {}", claim.lease, spec.job_name);
    let job = agent.shutdown.abort.child_token();
    let ended = Ended::default();
    let phase = PhaseCell::default();
    phase.set("download");
    let beat = tokio::spawn(heartbeats(
        agent.client.clone(),
        session.token.clone(),
        claim.clone(),
        phase.clone(),
        job.clone(),
        ended.clone(),
    ));
    let outcome = match download(agent, session, &spec, &job).await {
        Ok(bytes) => agent.executor.run(&spec, bytes, job.clone(), &phase).await,
        Err(e) => error_outcome(&spec, format!("cannot download the source: {e}")),
    };
    beat.abort();
    if agent.shutdown.abort.is_cancelled() {
        release(agent, session, &claim.lease, &spec.job_name).await;
    } else if ended.lost.load(Ordering::SeqCst) {
        println!(
            "lease {} lost: not reporting {} ({})",
            claim.lease, spec.job_name, outcome.status
        );
    } else if ended.cancelled.load(Ordering::SeqCst) {
        // The job is decided as cancelled: a result would not count, so none is sent.
        println!(
            "lease {} cancelled: not reporting {} ({})",
            claim.lease, spec.job_name, outcome.status
        );
    } else {
        report(agent, session, &claim.lease, &spec, outcome).await;
    }
}

/// The source, retried while the coordinator is unreachable (until the job is cancelled).
async fn download(
    agent: &Agent,
    session: &Session,
    spec: &JobSpec,
    job: &CancellationToken,
) -> Result<Vec<u8>, ClientError> {
    let mut tries = 0;
    loop {
        match agent.client.source(&session.token, &spec.source_path).await {
            Err(e) if e.is_transient() && tries < 30 && !job.is_cancelled() => {
                tries += 1;
                pause(job, Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}

/// Why a job ended early, as the heartbeats learnt it.
#[derive(Debug, Clone, Default)]
struct Ended {
    /// The lease is lost (expired, or taken by another agent).
    lost: Arc<AtomicBool>,
    /// The coordinator cancelled the job (its run was cancelled).
    cancelled: Arc<AtomicBool>,
}

/// Heartbeats `claim`'s lease every third of its length, with the job's phase. A lost
/// lease or a cancel from the coordinator cancels the job, and says which in `ended`.
async fn heartbeats(
    client: super::client::Client,
    token: String,
    claim: Claim,
    phase: PhaseCell,
    job: CancellationToken,
    ended: Ended,
) {
    let period = Duration::from_millis(claim.lease_seconds.max(1) * 1000 / 3)
        .max(Duration::from_millis(300));
    loop {
        tokio::time::sleep(period).await;
        match client
            .heartbeat(&token, &claim.lease, Some(phase.get()))
            .await
        {
            Ok(state) if state.cancel => {
                println!("lease {}: the coordinator cancelled the job", claim.lease);
                ended.cancelled.store(true, Ordering::SeqCst);
                job.cancel();
                return;
            }
            Ok(_) => {}
            Err(ClientError::LeaseLost { .. }) => {
                println!("lease {}: lost, cancelling the job", claim.lease);
                ended.lost.store(true, Ordering::SeqCst);
                job.cancel();
                return;
            }
            // The coordinator restarting: the lease outlives a few missed beats.
            Err(e) => eprintln!("agent: heartbeat of lease {}: {e}", claim.lease),
        }
    }
}

/// Signs and posts the outcome, retrying while the coordinator is unreachable.
async fn report(
    agent: &Agent,
    session: &Session,
    lease: &str,
    spec: &JobSpec,
    outcome: JobOutcome,
) {
    let status = outcome.status;
    let result = JobResult {
        job_id: spec.job_id.clone(),
        lease: lease.to_string(),
        agent_id: session.agent_id.clone(),
        outcome,
    };
    let signed = agent.key.sign(&result);
    let give_up = tokio::time::Instant::now() + RESULT_PATIENCE;
    loop {
        match agent.client.result(&session.token, lease, &signed).await {
            Ok(ack) if ack.accepted => {
                println!(
                    "finished {}: {status} (accepted{})",
                    spec.job_name,
                    if ack.counted { ", counted" } else { "" }
                );
                return;
            }
            Ok(ack) => {
                let why = ack.reason.unwrap_or_default();
                println!("finished {}: {status} (rejected: {why})", spec.job_name);
                return;
            }
            Err(e)
                if e.is_transient()
                    && tokio::time::Instant::now() < give_up
                    && !agent.shutdown.abort.is_cancelled() =>
            {
                pause(&agent.shutdown.abort, Duration::from_secs(2)).await;
            }
            Err(e) => {
                println!("finished {}: {status} (not reported: {e})", spec.job_name);
                return;
            }
        }
    }
}

/// Gives `lease` back to the queue; `what` says which job, for the log.
async fn release(agent: &Agent, session: &Session, lease: &str, what: &str) {
    match agent.client.release(&session.token, lease).await {
        Ok(()) => println!("released lease {lease}: {what}"),
        Err(e) => {
            eprintln!("agent: could not release lease {lease} ({what}): {e}; it expires by itself")
        }
    }
}

/// Sleeps `d`, or less when `stop` fires.
async fn pause(stop: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}
