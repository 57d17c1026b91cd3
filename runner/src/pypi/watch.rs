//! Following an index's new uploads and handing each release, once, to a processor
//! (`ponyswarm pypi watch` tests it).
//!
//! Two feeds: the serial-numbered changelog ([`changelog`], XML-RPC, what bandersnatch
//! follows), which misses nothing between polls; else the latest-updates RSS feed
//! ([`rss`]), which only holds the newest items. Either way the feed only says *that*
//! a release appeared; the processor asks the JSON API for what it is. Or, for named
//! projects only ([`WatchOptions::projects`]), no feed at all: each project's page is
//! polled ([`projects`]), which any index or mirror serves.
//!
//! Exactly once: each release seen is recorded in the store's queue in the same
//! transaction that moves the checkpoint (see [`crate::store::Store::enqueue_releases`]),
//! and taken from there for processing; a restart resumes from the checkpoint and the
//! queue. A release being processed when the process dies is processed again at the
//! next start (it cannot be known to be finished).
//!
//! Politeness: one feed request per poll interval, conditional requests for the feed
//! (ETag / Last-Modified), retries honouring `Retry-After`, a growing pause after
//! failed polls, and at most `jobs` releases processed at once.

pub mod changelog;
pub mod projects;
pub mod rss;
pub mod xml;

use super::index::retry::{self, Backoff};
use super::index::{Index, IndexError};
use super::normalize;
use crate::store::{Checkpoint, QueueState, Store, StoreError};
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What went wrong watching, worded for the user.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index's URL is unusable.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The feed could not be read.
    #[error("cannot follow {url}: {reason}")]
    Feed {
        /// The feed's URL.
        url: String,
        /// Why not.
        reason: String,
    },
}

/// Where a watcher without a checkpoint starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From now: only uploads after the first poll are processed.
    Latest,
    /// From this changelog serial (for an RSS-only index: everything the feed holds).
    Serial(i64),
}

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Between two polls of the feed. Default 60 s: PyPI's feeds change by the second,
    /// but a watcher that tests every release cannot keep up anyway.
    pub poll_interval: Duration,
    /// Only projects whose normalized name matches one of these (all when empty).
    pub filters: Vec<glob::Pattern>,
    /// Releases processed at once. Default 1.
    pub jobs: usize,
    /// The pause after failed polls (doubling with each, up to its cap).
    pub backoff: Backoff,
    /// Where to start without a checkpoint.
    pub start: Start,
    /// Follow only these projects (normalized names), by polling each one's page
    /// instead of the index's feed (see [`projects`]). All projects when empty.
    pub projects: Vec<String>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll_interval: Duration::from_secs(60),
            filters: Vec::new(),
            jobs: 1,
            backoff: Backoff::default(),
            start: Start::Latest,
            projects: Vec::new(),
        }
    }
}

/// A release the feed announced: what the processor gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    /// The project's normalized name.
    pub name: String,
    /// The version.
    pub version: String,
}

/// How processing a release ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Done: not to be processed again.
    Done,
    /// It could not be done (the index or Docker failed); recorded, not retried.
    Failed(String),
    /// Stopped half-way (shutdown): queued again for the next start.
    Interrupted,
}

/// Watches `index` until `cancel`, handing each new release to `process`, at most
/// `opts.jobs` at once. On cancel, no new release is taken and the ones in progress
/// are waited for (`process` should watch the same token if it can stop early).
pub async fn watch<P, F>(
    index: &Index,
    store: &Store,
    opts: &WatchOptions,
    process: P,
    cancel: CancellationToken,
) -> Result<(), WatchError>
where
    P: Fn(Announced) -> F + Send + Sync + 'static,
    F: Future<Output = Processed> + Send + 'static,
{
    let key = index.url().to_string();
    let requeued = store.requeue_running_releases(&key).await?;
    if requeued > 0 {
        tracing::info!("{requeued} releases left running by an earlier watcher are queued again");
    }
    let mut feed = Feed::open(index, store, opts).await?;
    let process = Arc::new(process);
    let mut tasks = JoinSet::new();
    let mut failures = 0u32;
    let mut next_poll = Instant::now();
    loop {
        if Instant::now() >= next_poll {
            let wait = match feed.poll(index, store, opts).await {
                Ok(()) => {
                    failures = 0;
                    opts.poll_interval
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    failures += 1;
                    opts.backoff.delay(failures - 1).max(opts.poll_interval)
                }
            };
            next_poll = Instant::now() + wait;
        }
        while tasks.len() < opts.jobs.max(1) {
            let Some((name, version)) = store.claim_release(&key).await? else {
                break;
            };
            let job = Announced { name, version };
            tasks.spawn(process_one(
                store.clone(),
                key.clone(),
                job,
                process.clone(),
            ));
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(next_poll) => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => reap(done),
        }
    }
    while let Some(done) = tasks.join_next().await {
        reap(done);
    }
    Ok(())
}

async fn process_one<P, F>(store: Store, key: String, job: Announced, process: Arc<P>)
where
    P: Fn(Announced) -> F,
    F: Future<Output = Processed>,
{
    let (name, version) = (job.name.clone(), job.version.clone());
    let (state, detail) = match process(job).await {
        Processed::Done => (QueueState::Done, None),
        Processed::Failed(why) => (QueueState::Failed, Some(why)),
        Processed::Interrupted => (QueueState::Queued, None),
    };
    if let Err(e) = store
        .finish_release(&key, &name, &version, state, detail.as_deref())
        .await
    {
        tracing::error!("{name} {version}: cannot record its end: {e}");
    }
}

fn reap(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!("a release's processing panicked: {e}");
    }
}

/// The feed being followed, and where it stands.
enum Feed {
    Changelog {
        serial: i64,
    },
    Rss {
        /// Unix time of the newest item seen.
        since: Option<i64>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// The pages of `WatchOptions::projects`; their state is in the store per project.
    Projects,
}

const CHANGELOG: &str = "changelog";
const RSS: &str = "rss";

impl Feed {
    /// The feed of the checkpoint; without one, the changelog when the index has it,
    /// else the RSS feed, starting as `opts.start` says.
    async fn open(index: &Index, store: &Store, opts: &WatchOptions) -> Result<Feed, WatchError> {
        if !opts.projects.is_empty() {
            return Ok(Feed::Projects);
        }
        let key = index.url().to_string();
        if let Some(cp) = store.pypi_checkpoint(&key).await? {
            let bad = |reason: &str| WatchError::Feed {
                url: key.clone(),
                reason: format!("the stored checkpoint {:?} {reason}", cp.position),
            };
            return match cp.source.as_str() {
                CHANGELOG => Ok(Feed::Changelog {
                    serial: cp.position.parse().map_err(|_| bad("is not a serial"))?,
                }),
                _ => Ok(Feed::Rss {
                    since: cp.position.parse().ok(),
                    etag: None,
                    last_modified: None,
                }),
            };
        }
        match last_serial(index).await {
            Ok(latest) => {
                let serial = match opts.start {
                    Start::Latest => latest,
                    Start::Serial(s) => s,
                };
                let cp = checkpoint(CHANGELOG, serial.to_string());
                store
                    .enqueue_releases(&key, &[], QueueState::Queued, Some(&cp))
                    .await?;
                Ok(Feed::Changelog { serial })
            }
            Err(NoChangelog::Missing(why)) => {
                tracing::info!("{key} has no changelog ({why}): following its RSS feed");
                let mut feed = Feed::Rss {
                    since: None,
                    etag: None,
                    last_modified: None,
                };
                if opts.start == Start::Latest {
                    feed.poll_rss(index, store, opts, QueueState::Skipped)
                        .await?;
                }
                Ok(feed)
            }
            Err(NoChangelog::Failed(e)) => Err(e),
        }
    }

    /// Reads what is new and records it.
    async fn poll(
        &mut self,
        index: &Index,
        store: &Store,
        opts: &WatchOptions,
    ) -> Result<(), WatchError> {
        match self {
            Feed::Changelog { serial } => {
                *serial = poll_changelog(index, store, opts, *serial).await?;
                Ok(())
            }
            Feed::Rss { .. } => self.poll_rss(index, store, opts, QueueState::Queued).await,
            Feed::Projects => projects::poll(index, store, opts).await,
        }
    }

    async fn poll_rss(
        &mut self,
        index: &Index,
        store: &Store,
        opts: &WatchOptions,
        state: QueueState,
    ) -> Result<(), WatchError> {
        let Feed::Rss {
            since,
            etag,
            last_modified,
        } = self
        else {
            return Ok(());
        };
        let url = index.join("rss/updates.xml")?;
        let feed_err = |reason: String| WatchError::Feed {
            url: url.to_string(),
            reason,
        };
        let response = retry::send(
            || {
                let mut req = index.client().get(url.clone());
                if let Some(tag) = etag.as_deref() {
                    req = req.header(IF_NONE_MATCH, tag);
                }
                if let Some(date) = last_modified.as_deref() {
                    req = req.header(IF_MODIFIED_SINCE, date);
                }
                req
            },
            &opts.backoff,
        )
        .await
        .map_err(|e| feed_err(e.to_string()))?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(());
        }
        if !response.status().is_success() {
            return Err(feed_err(format!("answered {}", response.status())));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (new_etag, new_modified) = (header(ETAG), header(LAST_MODIFIED));
        let body = response.text().await.map_err(|e| feed_err(e.to_string()))?;
        let items = rss::parse(&body).map_err(feed_err)?;
        // `>=`: items of the checkpoint's second may be new; the queue drops repeats.
        // The feed is newest first; queue in upload order.
        let fresh = items
            .iter()
            .rev()
            .filter(|i| match (i.published, *since) {
                (Some(p), Some(s)) => p >= s,
                _ => true,
            })
            .map(|i| (i.name.as_str(), i.version.as_str()));
        let releases = wanted(fresh, &opts.filters);
        let newest = items.iter().filter_map(|i| i.published).max().max(*since);
        let cp = newest.map(|n| checkpoint(RSS, n.to_string()));
        let cp = cp.unwrap_or_else(|| checkpoint(RSS, String::new()));
        store
            .enqueue_releases(index.url().as_str(), &releases, state, Some(&cp))
            .await?;
        *since = newest;
        *etag = new_etag;
        *last_modified = new_modified;
        Ok(())
    }
}

fn checkpoint(source: &str, position: String) -> Checkpoint {
    Checkpoint {
        source: source.into(),
        position,
    }
}

/// The (normalized name, version) pairs that pass the filters, first occurrence kept.
fn wanted<'a>(
    releases: impl Iterator<Item = (&'a str, &'a str)>,
    filters: &[glob::Pattern],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, version) in releases {
        let name = normalize(name);
        let passes = filters.is_empty() || filters.iter().any(|f| f.matches(&name));
        let pair = (name, version.to_string());
        if passes && !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

enum NoChangelog {
    /// The index has no changelog API: follow the RSS feed.
    Missing(String),
    /// The index could not be asked.
    Failed(WatchError),
}

async fn xmlrpc(index: &Index, body: String, backoff: &Backoff) -> Result<String, NoChangelog> {
    let url = index
        .join("pypi")
        .map_err(|e| NoChangelog::Failed(e.into()))?;
    let failed = |reason: String| {
        NoChangelog::Failed(WatchError::Feed {
            url: url.to_string(),
            reason,
        })
    };
    let response = retry::send(
        || {
            index
                .client()
                .post(url.clone())
                .header(CONTENT_TYPE, "text/xml")
                .body(body.clone())
        },
        backoff,
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        return Err(NoChangelog::Missing(format!("{url} answered {status}")));
    }
    if !status.is_success() {
        return Err(failed(format!("answered {status}")));
    }
    response.text().await.map_err(|e| failed(e.to_string()))
}

async fn last_serial(index: &Index) -> Result<i64, NoChangelog> {
    let body = xmlrpc(
        index,
        changelog::call("changelog_last_serial", &[]),
        &Backoff::default(),
    )
    .await?;
    changelog::parse_last_serial(&body).map_err(NoChangelog::Missing)
}

/// Records the releases announced after `serial`; returns the new last serial.
async fn poll_changelog(
    index: &Index,
    store: &Store,
    opts: &WatchOptions,
    serial: i64,
) -> Result<i64, WatchError> {
    let body = xmlrpc(
        index,
        changelog::call("changelog_since_serial", &[serial]),
        &opts.backoff,
    )
    .await
    .map_err(|e| match e {
        NoChangelog::Failed(e) => e,
        NoChangelog::Missing(reason) => WatchError::Feed {
            url: index.url().to_string(),
            reason,
        },
    })?;
    let entries = changelog::parse_since(&body).map_err(|reason| WatchError::Feed {
        url: format!("{}pypi", index.url()),
        reason,
    })?;
    let last = entries
        .iter()
        .map(|e| e.serial)
        .max()
        .unwrap_or(serial)
        .max(serial);
    let announced = entries
        .iter()
        .filter(|e| e.announces_release())
        .filter_map(|e| Some((e.name.as_str(), e.version.as_deref()?)));
    let releases = wanted(announced, &opts.filters);
    if last != serial || !releases.is_empty() {
        let cp = checkpoint(CHANGELOG, last.to_string());
        store
            .enqueue_releases(
                index.url().as_str(),
                &releases,
                QueueState::Queued,
                Some(&cp),
            )
            .await?;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_keep_matching_projects_once() {
        let pattern = |p: &str| glob::Pattern::new(p).expect("a valid glob");
        let announced = [
            ("Pony_A", "1.0"),
            ("pony-a", "1.0"),
            ("other", "2.0"),
            ("pony-b", "0.1"),
        ];
        let all = wanted(announced.iter().copied(), &[]);
        assert_eq!(all.len(), 3, "{all:?}");
        let ponies = wanted(announced.iter().copied(), &[pattern("pony-*")]);
        assert_eq!(
            ponies,
            vec![
                ("pony-a".to_string(), "1.0".to_string()),
                ("pony-b".to_string(), "0.1".to_string())
            ]
        );
        let none = wanted(announced.iter().copied(), &[pattern("zebra*")]);
        assert!(none.is_empty());
    }
}
