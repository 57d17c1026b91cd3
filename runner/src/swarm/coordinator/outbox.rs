//! The coordinator's poster of commit statuses: a background task that adds to the
//! store's outbox what runs owe GitHub ([`super::github`]), then claims and posts the
//! due statuses one at a time with the report poster's retries and rate-limit waits.
//!
//! It wakes when a run is queued or a job decided, and every few seconds anyway, so a
//! status left behind by a coordinator that died (or by another one on the same
//! database) is posted by whichever looks next. A status that cannot be posted is
//! settled as failed and shown on the run page: it never fails the run.
//!
//! ## Shutdown
//! The task ends with the process. A post cut short leaves its claim to expire after
//! `lease_seconds`; the next poster posts it again (GitHub may then have it twice, the
//! one case where it can).

use super::github::{self, JobNow};
use super::{now_ms, random_id, ApiError, Coordinator, Project};
use crate::report::github::{GithubStatuses, PostFailure};
use crate::store::outbox::{OutboxRow, Target};
use crate::store::swarm::SwarmRunState;
use crate::store::StoreError;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How often the poster looks without being woken.
const POLL: Duration = Duration::from_secs(5);
/// Statuses read per look.
const BATCH: usize = 16;

/// Records that run `run_id` of `project` reports to `commit`, when the project has
/// GitHub access and a commit is known; then wakes the poster.
pub async fn track(
    c: &Coordinator,
    project: &Project,
    run_id: &str,
    commit: Option<&str>,
) -> Result<(), ApiError> {
    let (Some(_), Some(repository), Some(commit)) = (&project.github, &project.repository, commit)
    else {
        return Ok(());
    };
    c.store
        .outbox_track(&Target {
            run_id: run_id.to_string(),
            project: project.name.clone(),
            repository: repository.clone(),
            commit_sha: commit.to_string(),
        })
        .await?;
    c.outbox.notify_one();
    Ok(())
}

/// Adds one `status` of `project`'s `commit` to the outbox, under outbox id `id` and
/// `about` (a run id, or `gate/<delivery>` for a pull request that has no run), when
/// the project has GitHub access; then wakes the poster. Added twice, it is added once.
pub async fn add_one(
    c: &Coordinator,
    project: &Project,
    about: &str,
    id: &str,
    commit: &str,
    status: crate::report::github::CommitStatus,
) -> Result<(), ApiError> {
    let (Some(_), Some(repository)) = (&project.github, &project.repository) else {
        return Ok(());
    };
    let row = OutboxRow {
        id: id.to_string(),
        seq: now_ms().saturating_mul(1000),
        target: Target {
            run_id: about.to_string(),
            project: project.name.clone(),
            repository: repository.clone(),
            commit_sha: commit.to_string(),
        },
        status,
        delivery: crate::store::outbox::Delivery::Waiting,
        error: None,
    };
    c.store.outbox_add(&[row]).await?;
    c.outbox.notify_one();
    Ok(())
}

/// The poster's loop; runs until the process ends.
pub async fn run(c: Arc<Coordinator>) {
    let mut poster = Poster {
        me: random_id(),
        clients: HashMap::new(),
    };
    let mut starting = true;
    loop {
        if let Err(e) = fill(&c, std::mem::take(&mut starting)).await {
            tracing::warn!("commit statuses: cannot add what runs owe: {e}");
        }
        if let Err(e) = poster.post_due(&c).await {
            tracing::warn!("commit statuses: cannot post: {e}");
        }
        tokio::select! {
            _ = c.outbox.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Adds to the outbox what every open run owes now. `starting`: this coordinator has
/// just started, and finishes the runs a dead one decided but did not finish (done on
/// start only, so as not to race a live coordinator finishing the same run).
async fn fill(c: &Coordinator, starting: bool) -> Result<(), ApiError> {
    for target in c.store.outbox_open_targets().await? {
        // One run that cannot be read does not hold the others up.
        if let Err(e) = fill_run(c, &target, starting).await {
            tracing::warn!("commit statuses of run {}: {e}", target.run_id);
        }
    }
    Ok(())
}

/// Adds to the outbox what run `target` owes now.
async fn fill_run(c: &Coordinator, target: &Target, starting: bool) -> Result<(), ApiError> {
    let Some(swarm_run) = c.store.swarm_run(&target.run_id).await? else {
        return Ok(());
    };
    let mut result = c.store.load_run(&target.run_id).await?;
    if starting && swarm_run.state != SwarmRunState::Running && result.run.finished.is_none() {
        // Its coordinator died between deciding the last job and finishing the run.
        super::results::finish(c, &target.run_id).await?;
        result = c.store.load_run(&target.run_id).await?;
    }
    let jobs: Vec<JobNow> = c
        .store
        .swarm_jobs_of_run(&target.run_id)
        .await?
        .into_iter()
        .map(|j| JobNow {
            position: j.position,
            name: j.name,
            decided: j.status.is_some(),
        })
        .collect();
    let have: HashSet<String> = c
        .store
        .outbox_of_run(&target.run_id)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let due = github::due(&c.public_url, &result, &jobs, &have);
    let base = now_ms().saturating_mul(1000);
    let rows: Vec<OutboxRow> = due
        .owed
        .into_iter()
        .enumerate()
        .map(|(i, owed)| OutboxRow {
            id: owed.id,
            seq: base + i as i64,
            target: target.clone(),
            status: owed.status,
            delivery: crate::store::outbox::Delivery::Waiting,
            error: None,
        })
        .collect();
    if !rows.is_empty() {
        c.store.outbox_add(&rows).await?;
    }
    if due.complete {
        c.store.outbox_complete(&target.run_id).await?;
    }
    Ok(())
}

/// One coordinator's poster: its claim name and a client per commit.
struct Poster {
    /// Names this process's claims.
    me: String,
    /// (project, repository, commit) → its poster, so an App's token is reused.
    clients: HashMap<(String, String, String), Arc<GithubStatuses>>,
}

impl Poster {
    /// Posts every due status this coordinator can claim.
    async fn post_due(&mut self, c: &Coordinator) -> Result<(), StoreError> {
        loop {
            let next = c.store.outbox_next(now_ms(), BATCH).await?;
            if next.is_empty() {
                return Ok(());
            }
            let mut took = false;
            for row in next {
                let lease = lease(c);
                let now = now_ms();
                if !c
                    .store
                    .outbox_claim(&row.id, &self.me, now, now + lease)
                    .await?
                {
                    continue;
                }
                took = true;
                let error = match self.client(c, &row.target) {
                    Ok(client) => self
                        .post(c, &client, &row)
                        .await
                        .err()
                        .map(|f| f.to_string()),
                    Err(e) => Some(format!(
                        "commit status {:?} ({}) not posted: {e}",
                        row.status.context,
                        row.status.state.as_str()
                    )),
                };
                if let Some(e) = &error {
                    tracing::warn!("run {}: {e}", row.target.run_id);
                }
                if !c
                    .store
                    .outbox_settle(&row.id, &self.me, error.as_deref(), now_ms())
                    .await?
                {
                    tracing::warn!("commit status {} was taken over while posting", row.id);
                }
            }
            if !took {
                // Everything due is another poster's for now.
                return Ok(());
            }
        }
    }

    /// Posts `row`, renewing its claim while the poster retries or waits.
    async fn post(
        &self,
        c: &Coordinator,
        client: &GithubStatuses,
        row: &OutboxRow,
    ) -> Result<(), PostFailure> {
        let every = Duration::from_millis((lease(c) / 3).max(100) as u64);
        let post = client.post(&row.status);
        tokio::pin!(post);
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                done = &mut post => return done,
                _ = renew.tick() => {
                    match c.store.outbox_renew(&row.id, &self.me, now_ms() + lease(c)).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("lost the claim on commit status {}", row.id),
                        Err(e) => tracing::warn!("cannot renew the claim on {}: {e}", row.id),
                    }
                }
            }
        }
    }

    /// The poster for `target`'s commit, made once.
    fn client(&mut self, c: &Coordinator, target: &Target) -> Result<Arc<GithubStatuses>, String> {
        let key = (
            target.project.clone(),
            target.repository.clone(),
            target.commit_sha.clone(),
        );
        if let Some(client) = self.clients.get(&key) {
            return Ok(client.clone());
        }
        let access = c
            .config
            .project(&target.project)
            .and_then(|p| p.github.as_ref())
            .ok_or_else(|| {
                format!(
                    "project {} has no [project.github] in the configuration",
                    target.project
                )
            })?;
        let (owner, repo) = target
            .repository
            .split_once('/')
            .ok_or_else(|| format!("repository {:?} is not OWNER/REPO", target.repository))?;
        let api = c.config.github_api()?;
        let client =
            GithubStatuses::new(&api, access.credentials()?, owner, repo, &target.commit_sha)
                .map_err(|e| e.to_string())?;
        let client = Arc::new(client);
        if self.clients.len() >= 64 {
            // Old commits are rarely posted to again: start over rather than grow.
            self.clients.clear();
        }
        self.clients.insert(key, client.clone());
        Ok(client)
    }
}

/// How long a claim holds without renewal: the agents' lease time, in ms.
fn lease(c: &Coordinator) -> i64 {
    i64::try_from(c.config.lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
}
