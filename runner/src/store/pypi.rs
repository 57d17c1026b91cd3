//! The PyPI watcher's checkpoint and queue, and saved release reports, in the store.
//!
//! The queue is what makes the watcher exactly-once: a release (per index) is inserted
//! the first time it is seen and never again, in the same transaction that moves the
//! checkpoint past it, so a restart neither misses nor repeats it. A release taken for
//! testing is `running`; if the process dies then, the next start puts it back
//! ([`Store::requeue_running_releases`]): it is tested again rather than lost.

use super::{Store, StoreError};
use crate::pypi::quality::Score;
use crate::time::timestamp;
use sqlx::Row;
use std::time::SystemTime;

/// Where a watcher stopped reading an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// `changelog` (position: the last serial) or `rss` (position: the newest item's
    /// publication time).
    pub source: String,
    /// The position, as that source spells it.
    pub position: String,
}

/// A release's state in the watcher's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Seen, not yet taken.
    Queued,
    /// Being tested.
    Running,
    /// Tested.
    Done,
    /// Testing it failed (ponyswarm's or the index's fault, not the release's).
    Failed,
    /// Seen but not to be tested: it was already in the feed when the watcher first
    /// started.
    Skipped,
}

impl QueueState {
    fn as_str(self) -> &'static str {
        match self {
            QueueState::Queued => "queued",
            QueueState::Running => "running",
            QueueState::Done => "done",
            QueueState::Failed => "failed",
            QueueState::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> Option<QueueState> {
        [
            Self::Queued,
            Self::Running,
            Self::Done,
            Self::Failed,
            Self::Skipped,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One row of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRelease {
    /// The project's normalized name.
    pub name: String,
    /// The version.
    pub version: String,
    /// Where it stands.
    pub state: QueueState,
    /// Why it failed, when it did.
    pub detail: Option<String>,
}

/// A project `pypi watch --project` follows on one index: how it was last read, and
/// what it had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchedProject {
    /// The project's normalized name.
    pub name: String,
    /// The API last asked: `json` or `simple` (the validators below are that URL's).
    pub api: String,
    /// The `ETag` of the last full answer, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The `Last-Modified` of the last full answer, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// The versions seen so far.
    pub versions: Vec<String>,
}

impl Store {
    /// The checkpoint of the watcher of `index`, if it ever ran.
    pub async fn pypi_checkpoint(&self, index: &str) -> Result<Option<Checkpoint>, StoreError> {
        let row = sqlx::query("SELECT source, position FROM pypi_checkpoints WHERE index_url = $1")
            .bind(index)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Checkpoint {
            source: r.get(0),
            position: r.get(1),
        }))
    }

    /// Records the `releases` (name, version) of `index` not seen before, in `state`
    /// (`Queued`, or `Skipped`), and moves the checkpoint, in one transaction. Returns
    /// how many were new.
    pub async fn enqueue_releases(
        &self,
        index: &str,
        releases: &[(String, String)],
        state: QueueState,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<usize, StoreError> {
        let now = timestamp(SystemTime::now());
        let mut tx = self.pool.begin().await?;
        let added = insert_new_releases(&mut tx, index, releases, state, &now).await?;
        if let Some(cp) = checkpoint {
            let updated = sqlx::query(
                "UPDATE pypi_checkpoints SET source = $1, position = $2, updated = $3 \
                 WHERE index_url = $4",
            )
            .bind(&cp.source)
            .bind(&cp.position)
            .bind(&now)
            .bind(index)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                sqlx::query(
                    "INSERT INTO pypi_checkpoints (index_url, source, position, updated) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(index)
                .bind(&cp.source)
                .bind(&cp.position)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Takes the oldest queued release of `index` for testing (it becomes `running`);
    /// `None` when the queue is empty. Safe with several watchers on one PostgreSQL:
    /// a release another took first is skipped.
    pub async fn claim_release(&self, index: &str) -> Result<Option<(String, String)>, StoreError> {
        loop {
            let row = sqlx::query(
                "SELECT name, version FROM pypi_queue WHERE index_url = $1 AND state = $2 \
                 ORDER BY seq LIMIT 1",
            )
            .bind(index)
            .bind(QueueState::Queued.as_str())
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let (name, version): (String, String) = (row.get(0), row.get(1));
            let taken = self
                .set_release_state(
                    index,
                    &name,
                    &version,
                    QueueState::Queued,
                    QueueState::Running,
                    None,
                )
                .await?;
            if taken {
                return Ok(Some((name, version)));
            }
        }
    }

    /// Marks a `running` release `done` or `failed` (with why).
    pub async fn finish_release(
        &self,
        index: &str,
        name: &str,
        version: &str,
        state: QueueState,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_release_state(index, name, version, QueueState::Running, state, detail)
            .await?;
        Ok(())
    }

    /// Puts back the releases of `index` left `running` by a process that died; returns
    /// how many. Call it once, before watching.
    pub async fn requeue_running_releases(&self, index: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE pypi_queue SET state = $1, updated = $2 WHERE index_url = $3 AND state = $4",
        )
        .bind(QueueState::Queued.as_str())
        .bind(timestamp(SystemTime::now()))
        .bind(index)
        .bind(QueueState::Running.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The queue of `index`, first seen first.
    pub async fn queued_releases(&self, index: &str) -> Result<Vec<QueuedRelease>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, version, state, detail FROM pypi_queue WHERE index_url = $1 ORDER BY seq",
        )
        .bind(index)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let state: String = r.get(2);
                QueuedRelease {
                    name: r.get(0),
                    version: r.get(1),
                    // An unknown state (a newer ponyswarm's) reads as not to be touched.
                    state: QueueState::parse(&state).unwrap_or(QueueState::Failed),
                    detail: r.get(3),
                }
            })
            .collect())
    }

    async fn set_release_state(
        &self,
        index: &str,
        name: &str,
        version: &str,
        from: QueueState,
        to: QueueState,
        detail: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pypi_queue SET state = $1, updated = $2, detail = $3 \
             WHERE index_url = $4 AND name = $5 AND version = $6 AND state = $7",
        )
        .bind(to.as_str())
        .bind(timestamp(SystemTime::now()))
        .bind(detail)
        .bind(index)
        .bind(name)
        .bind(version)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// What the watcher of `index` last knew of project `name`, if it followed it.
    pub async fn watched_project(
        &self,
        index: &str,
        name: &str,
    ) -> Result<Option<WatchedProject>, StoreError> {
        let row = sqlx::query(
            "SELECT api, etag, last_modified, versions FROM pypi_projects \
             WHERE index_url = $1 AND name = $2",
        )
        .bind(index)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            let versions: String = r.get(3);
            WatchedProject {
                name: name.to_string(),
                api: r.get(0),
                etag: r.get(1),
                last_modified: r.get(2),
                versions: versions.lines().map(str::to_string).collect(),
            }
        }))
    }

    /// Records what a poll of `project` found and queues its `releases` not seen before
    /// in `state`, in one transaction (so a restart neither misses nor repeats one).
    /// Returns how many were new.
    pub async fn record_watched_project(
        &self,
        index: &str,
        project: &WatchedProject,
        releases: &[(String, String)],
        state: QueueState,
    ) -> Result<usize, StoreError> {
        let now = timestamp(SystemTime::now());
        let mut tx = self.pool.begin().await?;
        let added = insert_new_releases(&mut tx, index, releases, state, &now).await?;
        sqlx::query("DELETE FROM pypi_projects WHERE index_url = $1 AND name = $2")
            .bind(index)
            .bind(&project.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO pypi_projects \
             (index_url, name, api, etag, last_modified, versions, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(index)
        .bind(&project.name)
        .bind(&project.api)
        .bind(project.etag.as_deref())
        .bind(project.last_modified.as_deref())
        .bind(project.versions.join("\n"))
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Saves the report of `name` `version` (its JSON), replacing an earlier one.
    pub async fn save_release_report(
        &self,
        name: &str,
        version: &str,
        json: &str,
        score: Option<&Score>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM pypi_reports WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO pypi_reports (name, version, created, score, score_max, report) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(version)
        .bind(timestamp(SystemTime::now()))
        .bind(score.map(|s| i64::from(s.total)))
        .bind(score.map(|s| i64::from(s.max)))
        .bind(json)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The saved report (JSON) of `name` `version`, if any.
    pub async fn load_release_report(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT report FROM pypi_reports WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }
}

/// Inserts the `releases` of `index` not in the queue yet, in `state`; returns how many.
async fn insert_new_releases(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    index: &str,
    releases: &[(String, String)],
    state: QueueState,
    now: &str,
) -> Result<usize, StoreError> {
    let mut added = 0;
    for (name, version) in releases {
        let seen = sqlx::query(
            "SELECT 1 FROM pypi_queue WHERE index_url = $1 AND name = $2 AND version = $3",
        )
        .bind(index)
        .bind(name)
        .bind(version)
        .fetch_optional(&mut **tx)
        .await?;
        if seen.is_some() {
            continue;
        }
        sqlx::query(
            "INSERT INTO pypi_queue (index_url, name, version, seq, state, queued, updated) \
             SELECT $1, $2, $3, COALESCE(MAX(seq), 0) + 1, $4, $5, $5 FROM pypi_queue",
        )
        .bind(index)
        .bind(name)
        .bind(version)
        .bind(state.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        added += 1;
    }
    Ok(added)
}
