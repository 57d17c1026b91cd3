//! Results that last: runs, jobs, failed tests, install changes and logs in a database, so
//! reports, comparisons with earlier runs and the swarm's coordinator read from one place.
//!
//! SQLite in `.ponyswarm/ponyswarm.db` by default, PostgreSQL when given a
//! `postgres://…` URL (`--database`, `PONYSWARM_DATABASE`). Both go through `sqlx::any`
//! with one set of portable migrations ([`migrations`]), applied on [`Store::open`]: one
//! code path, one schema, and the choice of database stays a URL.
//!
//! A job's outcome is written when the job ends ([`Store::record_job`]), so a crash loses
//! only the jobs still running; the next start marks those `interrupted`
//! ([`Store::mark_interrupted`]).
//!
//! I/O: this is the SQL edge. The spelling of values in columns is [`codec`] (pure).

pub(crate) mod codec;
mod migrations;
pub mod outbox;
mod owner;
mod pypi;
mod read;
pub mod swarm;
pub mod swarm_claim;
pub mod swarm_lifecycle;
mod url;
mod write;

pub use owner::RunOwner;
pub use pypi::{Checkpoint, QueueState, QueuedRelease, WatchedProject};
pub use read::{previous_run_of, RunSummary};
pub use url::{resolve_url, Backend, DEFAULT_URL, ENV_VAR};

use codec::CodecError;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::path::PathBuf;
use std::time::Duration;

/// What went wrong with the store, worded for the user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL {0}: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The SQLite file's directory could not be made.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be reached or opened.
    #[error("cannot open the database {url}: {source}")]
    Open {
        /// The URL, password hidden.
        url: String,
        /// Why not.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date (a newer ponyswarm wrote it, or a
    /// migration failed half-way).
    #[error("cannot update the database schema: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// `load_run` of an id the store does not have.
    #[error("no run {0} in the store")]
    NoSuchRun(String),
    /// `begin_run` with an id the store already has.
    #[error("run {0} is already in the store")]
    DuplicateRun(String),
    /// A query failed: the database went away, the disk is full, a lock timed out.
    #[error("the database failed: {0}")]
    Query(#[from] sqlx::Error),
    /// The claim writer failed a claim (see [`swarm_claim`]).
    #[error("the claim writer failed: {0}")]
    ClaimWriter(String),
    /// A row this version cannot read back.
    #[error("run {run}, job {job:?}: {source}")]
    Corrupt {
        /// The run.
        run: String,
        /// The job, when the row is a job's.
        job: Option<String>,
        /// What is wrong with it.
        #[source]
        source: CodecError,
    },
}

/// The results database. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    owner: RunOwner,
    /// For connections outside the pool (PostgreSQL's LISTEN).
    url: url::Secret,
    /// The claim writer, started on the first claim.
    claims: swarm_claim::ClaimWriter,
}

impl Store {
    /// Opens (creating when missing) the database at `url` and applies the migrations
    /// it lacks. A `sqlite:` file's directory is created too.
    ///
    /// `url`: `sqlite://PATH` (relative to the working directory), `sqlite::memory:`,
    /// a bare file path (taken as SQLite), or `postgres://USER:PASS@HOST:PORT/DB`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let backend = Backend::of(url)?;
        let url = url::prepare(url, backend)?;
        sqlx::any::install_default_drivers();
        let options = match backend {
            // One connection: writers in one process queue here instead of hitting
            // SQLite's busy lock, and an in-memory database stays one database.
            Backend::Sqlite => AnyPoolOptions::new().max_connections(1),
            Backend::Postgres => AnyPoolOptions::new().max_connections(8),
        };
        let options = match backend {
            // Another process (a second coordinator, `ponyswarm report`) holding the
            // lock is waited for rather than failed; NORMAL is durable with WAL against
            // crashes of this process and spares an fsync per commit.
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .map_err(|source| StoreError::Open {
                url: url::redact(&url),
                source,
            })?;
        if backend == Backend::Sqlite {
            // WAL: a report can read while a run writes; it persists in the file. Only
            // an optimisation: a read-only file may refuse it, and an in-memory
            // database stays in "memory" mode.
            if let Err(e) = sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
            {
                tracing::debug!("SQLite stays in its journal mode: {e}");
            }
        }
        migrations::run(&pool).await.map_err(StoreError::Migrate)?;
        let claims = swarm_claim::ClaimWriter::new(backend, &url, &pool).map_err(|source| {
            StoreError::Open {
                url: url::redact(&url),
                source,
            }
        })?;
        Ok(Store {
            pool,
            backend,
            owner: RunOwner::current(),
            url: url::Secret(url),
            claims,
        })
    }

    /// Opens the store `--database` names, else `PONYSWARM_DATABASE`'s, else the default
    /// SQLite file (see [`resolve_url`]).
    pub async fn open_default(flag: Option<&str>) -> Result<Store, StoreError> {
        let env = std::env::var(ENV_VAR).ok();
        Store::open(&resolve_url(flag, env.as_deref())).await
    }

    /// Records runs begun from now on as `owner`'s instead of this process's: for an
    /// agent running on behalf of another, and for tests of [`Store::mark_interrupted`].
    pub fn with_owner(mut self, owner: RunOwner) -> Store {
        self.owner = owner;
        self
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for queries in flight.
    pub async fn close(&self) {
        self.claims.close().await;
        self.pool.close().await;
    }
}
