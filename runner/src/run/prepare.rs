//! The prepare phase: fill a wheelhouse (a Docker volume of wheels) with everything a
//! job's install commands need, so install and tests can run with the network off.
//!
//! A wheelhouse is keyed by (Python image id, install commands, dependency files of the
//! source, trust of the origin, the cutoff it is resolved as of) and reused by later
//! runs of the same trust and cutoff ([`WheelhouseScope`]): a second run of the same
//! matrix fetches nothing. Jobs of one run with the same key share one prepare.
//!
//! Two containers fill it, and the project's code never meets the network:
//! - the **fetch** container holds no source; it sits behind the egress door
//!   (`sandbox::door`: an internal network whose only way out is a proxy allowing the
//!   index hosts) and runs only `pip download`, binary-only where wheels exist;
//! - the **build** container has no network at all; it holds the source and runs
//!   `pip download --no-index` of the install commands (which runs the project's
//!   build backend for its metadata) and `pip wheel --no-index` for the sdists among
//!   the downloads. What it misses it names, the fetch container fetches, and again
//!   (`fetch::MAX_ROUNDS`). Where the environment will install every line with uv,
//!   the first round is uv's real install of those lines into a throwaway venv,
//!   offline (`Filling::checked_with_uv`): much faster, and pip's rounds run only
//!   when it misses something.
//!
//! Neither mounts the wheelhouse's volume. They write to a scratch volume of their
//! fill, a tmpfs of `limits.wheelhouse` (the kernel refuses a write past it, whoever
//! makes it), under a read-only root with tmpfs work areas. Once the fill is complete
//! and both are removed, the keeper ([`super::keeper`]), a container running only
//! ponyswarm's own commands, copies it into the volume, hashing every file into a
//! manifest written before the completion marker; a wheelhouse whose files no longer
//! match its manifest is emptied and filled again, with a warning in the log. A fill
//! that hits the cap is [`PrepareError::Full`]: the job ends `limit-exceeded`, and
//! nothing of it reaches the volume. Untrusted origins ([`Trust::Untrusted`]) have
//! keys of their own, so what their build code leaves in a wheelhouse never reaches a
//! trusted run.

use super::fetch::{
    filtered_by_cutoff, index_options, missing_requirements, requirements_file,
    static_requirements, uv_compile_command, uv_index_env, MAX_ROUNDS,
};
use super::keeper::Keeping;
use super::layout::{side_area, HOME, WORK};
use super::once_per_key::OncePerKey;
use crate::logcap::LogBuffer;
use crate::run::pip::{
    build_requires, download_args, referenced_files, same_project, setup_requires, RewriteError,
};
use crate::run::uv;
use crate::sandbox::container::{Container, ContainerError, Exec, ExecEnd, ExecLimits, Tracker};
use crate::sandbox::door::{allowed_hosts, operator_index, upstream, Door, DoorSpec};
use crate::sandbox::egress::Egress;
use crate::sandbox::images::ImageOptions;
use crate::sandbox::labels;
use crate::sandbox::policy::{NetworkAccess, PolicyError, SandboxBuilder};
use crate::untar::human_bytes;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptions;
use bollard::Docker;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// Where the wheelhouse is mounted (in a fill's containers: the scratch).
pub const WHEELS: &str = "/wheels";
/// Where the keeper mounts the scratch, read-only.
const SCRATCH: &str = "/scratch";
/// Label on wheelhouse volumes: the key. They carry no run label, so `ponyswarm
/// clean` keeps them unless asked to remove everything.
pub const WHEELHOUSE_LABEL: &str = "io.ponyswarm.wheelhouse";
/// Changes to how a wheelhouse is filled invalidate every earlier one.
const RECIPE: &str = "ponyswarm-wheelhouse-v5";

/// Most bytes of the prepare log kept (and of one step's output): the project's build
/// code runs here and may print without end; the middle is cut, as in a job's log.
pub const MAX_PREPARE_LOG: usize = 4 << 20;

/// Whether a file at the top of the source tree is a dependency file (part of the key).
fn is_dependency_file(name: &str) -> bool {
    matches!(name, "pyproject.toml" | "setup.py" | "setup.cfg")
        || (name.starts_with("requirements") && name.ends_with(".txt"))
}

/// Whose code a prepare runs, as far as wheelhouses are concerned. Travels in the
/// swarm's signed job specs and the store as `trusted` / `untrusted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// The project's own matrix run by its maintainers (the CLI's `run`, pushes).
    #[default]
    Trusted,
    /// Code from outside: a PyPI release under test, a pull request from outside the
    /// repository. Its wheelhouses are its own (another key): build code that plants
    /// a wheel there plants it only for runs of the same origin.
    Untrusted,
}

impl Trust {
    /// `trusted` or `untrusted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Trusted => "trusted",
            Trust::Untrusted => "untrusted",
        }
    }

    /// The trust spelt `text`.
    pub fn parse(text: &str) -> Option<Trust> {
        [Trust::Trusted, Trust::Untrusted]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// Which wheelhouses a run may share: only those of the same trust and the same
/// cutoff. Everything that looks a wheelhouse up by key (the prepare, the warm lookup
/// of `run::environment`, the environment key) goes through [`WheelhouseScope::key`],
/// so that an untrusted run never finds a trusted run's wheelhouse or environment
/// image, nor the other way round, and a run resolved as of one date never finds
/// another's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WheelhouseScope {
    /// Whose code the prepares run.
    pub trust: Trust,
    /// The cutoff the dependencies are resolved as of (RFC 3339); `None`: today.
    pub cutoff: Option<String>,
}

impl WheelhouseScope {
    /// The wheelhouse key of these in this scope (see [`key_for`]).
    pub fn key(
        &self,
        image_id: &str,
        install: &[String],
        source: &Path,
        files: &[(String, String)],
    ) -> String {
        key_for(
            self.trust,
            self.cutoff.as_deref(),
            image_id,
            install,
            source,
            files,
        )
    }
}

/// The wheelhouse key: a hash of the trust, the cutoff the dependencies are resolved
/// as of (see [`Wheelhouses::resolved_as_of`]), the image id, the install commands
/// and the dependency files (read from `source`, overridden by `files` of the same
/// path).
pub fn key_for(
    trust: Trust,
    cutoff: Option<&str>,
    image_id: &str,
    install: &[String],
    source: &Path,
    files: &[(String, String)],
) -> String {
    let mut names: Vec<String> = std::fs::read_dir(source)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| is_dependency_file(n))
        .collect();
    names.extend(
        files
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| is_dependency_file(p)),
    );
    names.extend(referenced_files(install));
    names.sort();
    names.dedup();
    let mut h = Sha256::new();
    for part in [RECIPE, trust.as_str(), image_id] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // Absent from the keys of today's resolution, so they stay what they were.
    if let Some(cutoff) = cutoff {
        h.update(b"as-of\0");
        h.update(cutoff.as_bytes());
        h.update([0]);
    }
    for command in install {
        h.update(command.as_bytes());
        h.update([0]);
    }
    for name in names {
        let content = match files.iter().find(|(p, _)| *p == name) {
            Some((_, c)) => c.as_bytes().to_vec(),
            // Within the tree and capped: the names come from the matrix.
            None => crate::tree_file::read(source, &name).unwrap_or_default(),
        };
        h.update(name.as_bytes());
        h.update([0]);
        h.update(&content);
        h.update([0]);
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// The volume holding the wheelhouse of `key`.
pub fn volume_name(key: &str) -> String {
    format!("ponyswarm-wheels-{key}")
}

/// A ready wheelhouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wheelhouse {
    /// The volume to mount read-only at [`WHEELS`].
    pub volume: String,
    /// Whether it was already complete (filled by an earlier run or job): nothing was
    /// fetched.
    pub cached: bool,
    /// What the prepare printed.
    pub log: String,
    /// How long the prepare took.
    pub duration: Duration,
    /// What it holds, as a digest of its wheels' names and sizes written when it was
    /// completed (empty for a wheelhouse of an older ponyswarm): a wheelhouse removed
    /// and filled again may hold other wheels.
    pub content: String,
}

/// Why a wheelhouse could not be filled.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PrepareError {
    /// pip could not fetch or build what the install commands ask for: the job's
    /// install fails (`install-failed`).
    #[error("fetching dependencies failed: {step}")]
    Fetch {
        /// The step that failed.
        step: String,
        /// What the prepare printed.
        log: String,
    },
    /// An install command cannot be read.
    #[error(transparent)]
    Rewrite(#[from] RewriteError),
    /// The wheels fetched and built did not fit in `limits.wheelhouse`
    /// (`limit-exceeded`).
    #[error("the wheelhouse reached its cap of {} (limits.wheelhouse) at: {step}", human_bytes(*.cap))]
    Full {
        /// The cap, bytes.
        cap: u64,
        /// The step that ran out of room.
        step: String,
        /// What the prepare printed.
        log: String,
    },
    /// The prepare ran out of time.
    #[error("fetching dependencies took too long")]
    Timeout {
        /// What the prepare printed.
        log: String,
    },
    /// Docker failed (`error`).
    #[error("{0}")]
    Docker(String),
}

impl PrepareError {
    /// The error with the egress door's log added to its log: its refusals explain
    /// many a failed fetch.
    fn with_door_log(self, door: &str) -> Self {
        let add = |log: String| format!("{log}--- egress door (last lines) ---\n{door}");
        match self {
            PrepareError::Fetch { step, log } => PrepareError::Fetch {
                step,
                log: add(log),
            },
            PrepareError::Timeout { log } => PrepareError::Timeout { log: add(log) },
            PrepareError::Full { cap, step, log } => PrepareError::Full {
                cap,
                step,
                log: add(log),
            },
            other => other,
        }
    }
}

impl From<ContainerError> for PrepareError {
    fn from(e: ContainerError) -> Self {
        PrepareError::Docker(e.to_string())
    }
}

impl From<PolicyError> for PrepareError {
    fn from(e: PolicyError) -> Self {
        PrepareError::Docker(e.to_string())
    }
}

/// What a prepare needs to know about a job.
#[derive(Debug, Clone)]
pub struct PrepareRequest {
    /// The Python image to fetch with (the job's).
    pub image: String,
    /// Its id, part of the key.
    pub image_id: String,
    /// The interpreter command in the image (`python3.11`, `pypy3`).
    pub python: String,
    /// The rendered install commands.
    pub install: Vec<String>,
    /// The source tree.
    pub source: std::path::PathBuf,
    /// The rendered `files:`.
    pub files: Vec<(String, String)>,
    /// Limits for the prepare container.
    pub limits: crate::matrix::Limits,
    /// Time allowed for the whole prepare.
    pub timeout: Duration,
}

/// The run's wheelhouses: one prepare per key, however many jobs ask.
#[derive(Clone)]
pub struct Wheelhouses {
    docker: Docker,
    tracker: Tracker,
    egress: Egress,
    images: ImageOptions,
    scope: WheelhouseScope,
    owner: crate::sandbox::policy::Owner,
    slots: OncePerKey<Result<Wheelhouse, PrepareError>>,
}

impl Wheelhouses {
    /// Wheelhouses for a run; `owner` labels the prepare containers, `images` makes
    /// the egress door's image when missing.
    pub fn new(
        docker: &Docker,
        tracker: &Tracker,
        egress: Egress,
        images: ImageOptions,
        owner: crate::sandbox::policy::Owner,
    ) -> Self {
        Wheelhouses {
            docker: docker.clone(),
            tracker: tracker.clone(),
            egress,
            images,
            scope: WheelhouseScope::default(),
            owner,
            slots: OncePerKey::default(),
        }
    }

    /// Whose code the run's prepares run (builder style; default trusted): part of
    /// every key.
    pub fn trust(mut self, trust: Trust) -> Self {
        self.scope.trust = trust;
        self
    }

    /// Resolve as of `cutoff` (RFC 3339; builder style; default `None`, today): only
    /// files the index says were uploaded before it are fetched, so a wheelhouse
    /// holds the versions a resolver chose then. pip itself, which the jobs' venvs
    /// get, is today's: it is ponyswarm's tool, not the project's. Part of every key.
    pub fn resolved_as_of(mut self, cutoff: Option<String>) -> Self {
        self.scope.cutoff = cutoff;
        self
    }

    /// The scope of the run's wheelhouse keys (its trust and cutoff), for the lookups
    /// that must find the wheelhouses this run would fill and no others.
    pub fn scope(&self) -> &WheelhouseScope {
        &self.scope
    }

    /// The wheelhouse for `req`, filled if needed. Concurrent callers with the same
    /// key wait for one prepare; all but the one that filled it see `cached`.
    pub async fn get(&self, req: &PrepareRequest) -> Result<Wheelhouse, PrepareError> {
        let key = self
            .scope
            .key(&req.image_id, &req.install, &req.source, &req.files);
        let (result, first) = self.slots.get_or_init(&key, || self.fill(&key, req)).await;
        match result {
            Ok(w) if !first => Ok(Wheelhouse {
                cached: true,
                log: format!(
                    "wheelhouse {} shared with another job of this run\n",
                    w.volume
                ),
                duration: Duration::ZERO,
                ..w
            }),
            other => other,
        }
    }

    async fn fill(&self, key: &str, req: &PrepareRequest) -> Result<Wheelhouse, PrepareError> {
        let started = Instant::now();
        let deadline = started + req.timeout;
        let volume = volume_name(key);
        self.create_volume(&volume, key).await?;
        let base = format!("ponyswarm-{}-prep-{key}", self.owner.run);
        let scratch = format!("{base}-scratch");
        self.create_scratch(&scratch, req.limits.wheelhouse).await?;
        let mut log = String::new();
        // The door opens while the keeper checks the wheelhouse: a wheelhouse kept by
        // an earlier run but missing its environment is rare, a cold one is not.
        let (keeper, door) = tokio::join!(
            self.keeper(req, &volume, &scratch, &base),
            self.open_door(req, &base)
        );
        let result = match (keeper, door) {
            (Ok(keeper), Ok(door)) => {
                let r = self
                    .fill_with(&keeper, door, &mut log, deadline, req, &scratch, &base)
                    .await;
                let _ = keeper.remove().await;
                r
            }
            (Ok(keeper), Err(e)) => {
                let _ = keeper.remove().await;
                Err(e)
            }
            (Err(e), Ok(door)) => {
                let _ = door.close().await;
                Err(e)
            }
            (Err(e), Err(_)) => Err(e),
        };
        // Every container that mounted it is gone: its memory goes with it.
        let _ = (self.docker)
            .remove_volume(&scratch, None::<RemoveVolumeOptions>)
            .await;
        let (cached, content) = result?;
        Ok(Wheelhouse {
            volume,
            cached,
            log,
            duration: started.elapsed(),
            content,
        })
    }

    /// The keeper: the one container with the wheelhouse's volume mounted writable,
    /// the scratch beside it read-only. It runs nothing but ponyswarm's own commands
    /// (checking the wheelhouse, copying a completed fill in), so no code of the
    /// project or its dependencies ever writes to the volume.
    async fn keeper(
        &self,
        req: &PrepareRequest,
        volume: &str,
        scratch: &str,
        base: &str,
    ) -> Result<Container, PrepareError> {
        let config = SandboxBuilder::new(&req.image)
            .command(vec!["sleep".into(), "infinity".into()])
            .working_dir("/")
            .network(NetworkAccess::None)
            .volume(volume, WHEELS, true)
            .volume(scratch, SCRATCH, false)
            // Only the upload below writes to it (the volume's owner), and only
            // ponyswarm's own commands run here.
            .writable_root()
            .memory_limit(req.limits.memory)
            .cpu_limit(req.limits.cpus)
            .pids_limit(req.limits.pids)
            .labels(self.owner.labels())
            .build()?;
        let keeper =
            Container::create(&self.docker, &self.tracker, &format!("{base}-keep"), config).await?;
        // A new volume's root belongs to root; a directory entry owned by uid 1000
        // extracted over it hands it to the sandbox user.
        let started = async {
            keeper.upload("/", owned_dir_tar("wheels")).await?;
            keeper.start().await
        };
        match started.await {
            Ok(()) => Ok(keeper),
            Err(e) => {
                let _ = keeper.remove().await;
                Err(e.into())
            }
        }
    }

    /// Uses the wheelhouse when it is complete and intact; otherwise fills the
    /// scratch behind the door and, the fill's containers gone, has the keeper copy
    /// it into the volume.
    #[allow(clippy::too_many_arguments)]
    async fn fill_with(
        &self,
        keeper: &Container,
        door: Door,
        log: &mut String,
        deadline: Instant,
        req: &PrepareRequest,
        scratch: &str,
        base: &str,
    ) -> Result<(bool, String), PrepareError> {
        let mut keep = Keeping {
            keeper,
            deadline,
            log,
        };
        let verified = match keep.verified().await {
            Ok(None) => None,
            done => Some(done),
        };
        if let Some(done) = verified {
            let _ = door.close().await;
            return done.map(|content| (true, content.unwrap_or_default()));
        }
        let partial = format!(".partial-{}", self.owner.run);
        let (filled, leftovers) = self
            .fill_behind_door(
                &door,
                &mut *keep.log,
                deadline,
                req,
                scratch,
                base,
                &partial,
            )
            .await;
        let cap = req.limits.wheelhouse;
        // The fill's containers are stopped: their removal, and the door's, go on
        // while the keeper copies.
        let cleanup = async {
            futures_util::future::join_all(leftovers.into_iter().map(Container::remove)).await;
            let _ = door.close().await;
        };
        let kept = async {
            match filled {
                Ok(()) => keep.publish(&partial, cap).await.map(|c| (false, c)),
                Err(PrepareError::Fetch { step, log }) => match keep.scratch_full(&log).await {
                    true => Err(PrepareError::Full { cap, step, log }),
                    false => Err(PrepareError::Fetch { step, log }),
                },
                Err(e) => Err(e),
            }
        };
        tokio::join!(cleanup, kept).1
    }

    /// Opens the egress door of a fill: the proxy allowing the index hosts the install
    /// commands name, and the operator's.
    async fn open_door(&self, req: &PrepareRequest, base: &str) -> Result<Door, PrepareError> {
        let image =
            crate::sandbox::images::ensure(&self.docker, crate::catalog::DOOR, &self.images)
                .await
                .map_err(|e| PrepareError::Docker(format!("egress door image: {e}")))?;
        let (_, index_hosts) = operator_index(&self.egress);
        let mut allow = allowed_hosts(&req.install);
        allow.extend(index_hosts);
        let spec = DoorSpec {
            image: image.reference,
            name: format!("{base}-net"),
            labels: self.owner.labels(),
            allow,
            upstream: upstream(&self.egress),
        };
        Door::open(&self.docker, &self.tracker, &spec)
            .await
            .map_err(|e| PrepareError::Docker(e.to_string()))
    }

    /// Starts the fetch (behind `door`) and build containers (the scratch at
    /// [`WHEELS`] in both) and fills `partial` in the scratch. Both containers are
    /// killed before it returns, and handed back for removal: nothing of theirs still
    /// runs when the keeper copies.
    #[allow(clippy::too_many_arguments)]
    async fn fill_behind_door(
        &self,
        door: &Door,
        log: &mut String,
        deadline: Instant,
        req: &PrepareRequest,
        scratch: &str,
        base: &str,
        partial: &str,
    ) -> (Result<(), PrepareError>, Vec<Container>) {
        let (mut index_env, _) = operator_index(&self.egress);
        if self.scope.cutoff.is_some() {
            index_env.extend(uv_index_env(&index_env));
        }
        let network = NetworkAccess::Internal {
            network: door.network().to_string(),
            aliases: Vec::new(),
        };
        let (build_name, fetch_name) = (format!("{base}-build"), format!("{base}-fetch"));
        // The build container: no network; the source goes in.
        let (build, fetch) = tokio::join!(
            self.container(req, scratch, &build_name, NetworkAccess::None, vec![]),
            self.container(
                req,
                scratch,
                &fetch_name,
                network,
                door.env().into_iter().chain(index_env).collect(),
            )
        );
        let result = match (&build, &fetch) {
            (Ok(build), Ok(fetch)) => {
                let r = match tokio::try_join!(build.start(), fetch.start()) {
                    Ok(_) => {
                        let mut filling = Filling {
                            fetch,
                            build,
                            deadline,
                            log: std::mem::take(log),
                            cutoff: self.scope.cutoff.clone(),
                            fetch_venv: BAKED_PREP_VENV,
                            build_venv: BAKED_PREP_VENV,
                        };
                        let r = filling.run(req, &format!("{WHEELS}/{partial}")).await;
                        *log = filling.log;
                        r
                    }
                    Err(e) => Err(e.into()),
                };
                match r {
                    Err(e) => Err(e.with_door_log(&door.log_tail(20).await)),
                    ok => ok,
                }
            }
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        let made: Vec<Container> = [build, fetch].into_iter().flatten().collect();
        let killed = futures_util::future::join_all(made.iter().map(|c| c.kill())).await;
        // One that cannot be killed is removed (with force) before anything is kept.
        let mut left = Vec::new();
        for (container, killed) in made.into_iter().zip(killed) {
            match killed {
                Ok(()) => left.push(container),
                Err(e) => {
                    if container.remove().await.is_err() {
                        return (Err(PrepareError::Docker(e.to_string())), left);
                    }
                }
            }
        }
        (result, left)
    }

    /// A fill container of `req`'s image with the scratch mounted writable at
    /// [`WHEELS`], confined as an environment build is: read-only root, the source
    /// in a work area of `limits.disk`, the home a small tmpfs, and `/tmp` as large
    /// as the wheelhouse and the home together (pip downloads and builds there
    /// first, and the prepare venv lives there).
    async fn container(
        &self,
        req: &PrepareRequest,
        scratch: &str,
        name: &str,
        network: NetworkAccess,
        proxy_env: Vec<String>,
    ) -> Result<Container, PrepareError> {
        let online = network != NetworkAccess::None;
        let home = side_area(req.limits.disk);
        let tmp = req.limits.wheelhouse.saturating_add(home);
        // The work area is added to the limit by the builder; the scratch and `/tmp`
        // are tmpfs too, so they are added here: what is written is held in memory.
        let memory = (req.limits.memory)
            .saturating_add(req.limits.wheelhouse)
            .saturating_add(tmp);
        let mut builder = SandboxBuilder::new(&req.image)
            .command(vec!["sleep".into(), "infinity".into()])
            .working_dir(WORK)
            .network(network)
            .volume(scratch, WHEELS, true)
            .work_area(WORK, req.limits.disk)
            .scratch(HOME, home)
            .tmp_size(Some(tmp))
            .memory_limit(memory)
            .cpu_limit(req.limits.cpus)
            .pids_limit(req.limits.pids)
            .labels(self.owner.labels());
        if online {
            // The CA bundle still matters: TLS runs end to end through the door.
            builder = builder
                .binds(self.egress.binds())
                .env(self.egress.ca_env().into_iter().chain(proxy_env));
        }
        let config = builder.build()?;
        Ok(Container::create(&self.docker, &self.tracker, name, config).await?)
    }

    /// The scratch a fill writes to: a volume on a tmpfs of `cap` bytes owned by the
    /// sandbox user, so the kernel refuses a write past the cap whoever makes it.
    async fn create_scratch(&self, name: &str, cap: u64) -> Result<(), PrepareError> {
        let request = crate::sandbox::policy::tmpfs_volume(name, cap, self.owner.labels());
        self.docker
            .create_volume(request)
            .await
            .map(drop)
            .map_err(|e| PrepareError::Docker(format!("docker: create volume {name}: {e}")))
    }

    async fn create_volume(&self, volume: &str, key: &str) -> Result<(), PrepareError> {
        let labels = HashMap::from([
            (labels::MANAGED.to_string(), "1".to_string()),
            (WHEELHOUSE_LABEL.to_string(), key.to_string()),
        ]);
        let request = VolumeCreateRequest {
            name: Some(volume.to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        // Creating an existing volume returns it: a wheelhouse from an earlier run.
        self.docker
            .create_volume(request)
            .await
            .map(drop)
            .map_err(|e| PrepareError::Docker(format!("docker: create volume {volume}: {e}")))
    }
}

/// A tar holding one directory entry, owned by the sandbox user.
pub(super) fn owned_dir_tar(
    name: &str,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mode(0o755);
    let bytes = tar
        .append_data(&mut h, format!("{name}/"), std::io::empty())
        .and_then(|()| tar.into_inner());
    futures_util::stream::once(async move { bytes.map(bytes::Bytes::from) })
}

/// One prepare in progress in its two containers.
struct Filling<'a> {
    /// Behind the egress door, no source.
    fetch: &'a Container,
    /// No network, the source.
    build: &'a Container,
    deadline: Instant,
    log: String,
    /// Resolve as of this instant (RFC 3339); `None`: today.
    cutoff: Option<String>,
    /// The prepare venv of each container ([`BAKED_PREP_VENV`] or
    /// [`MADE_PREP_VENV`]), known once [`Self::run`] has set them up.
    fetch_venv: &'static str,
    build_venv: &'static str,
}

/// Where the fetch container writes what uv resolves as of a cutoff, and reads the
/// pins back from.
const AS_OF_INPUT: &str = "/tmp/ponyswarm-as-of.in";
const AS_OF_PINS: &str = "/tmp/ponyswarm-as-of.txt";

/// The venv pip runs from during prepare, baked into ponyswarm's Python images
/// (`images/*/Dockerfile`): no fill pays for ensurepip (seconds per container, tens
/// on a busy machine), and under the fill containers' read-only root no build code
/// can change the pip that runs after it.
const BAKED_PREP_VENV: &str = "/opt/ponyswarm-prepare";
/// Where a fill makes its prepare venv, with ensurepip, when its image has none baked
/// in (a Python image from elsewhere).
const MADE_PREP_VENV: &str = "/tmp/prepare-venv";

/// The shell line that finds the prepare venv or makes one, printing which
/// ([`prepare_venv_of`] reads it back).
fn prepare_venv_command(python: &str) -> String {
    format!(
        "if [ -x {BAKED_PREP_VENV}/bin/python ]; then \
         echo 'ponyswarm: prepare venv {BAKED_PREP_VENV} (baked into the image)'; \
         else {python} -m venv {MADE_PREP_VENV} && \
         echo 'ponyswarm: prepare venv {MADE_PREP_VENV} (made with ensurepip)'; fi"
    )
}

/// The prepare venv [`prepare_venv_command`] said it found or made.
fn prepare_venv_of(output: &str) -> &'static str {
    if output.contains(&format!("prepare venv {BAKED_PREP_VENV} ")) {
        BAKED_PREP_VENV
    } else {
        MADE_PREP_VENV
    }
}

/// Which of the two containers runs a step.
#[derive(Clone, Copy)]
enum Side {
    Fetch,
    Build,
}

impl Filling<'_> {
    /// Fills `partial`, a directory of the scratch, with the wheels the install
    /// commands need; the keeper publishes it ([`Keeping::publish`]).
    async fn run(&mut self, req: &PrepareRequest, partial: &str) -> Result<(), PrepareError> {
        let downloads = downloads(req)?;
        let source = crate::run::source::tar_stream(
            req.source.clone(),
            "src",
            req.files.clone(),
            Vec::new(),
        );
        let started = Instant::now();
        let venv = prepare_venv_command(&req.python);
        let setup = format!("rm -rf {partial} && mkdir -p {partial} && {venv}");
        // One container each, so at once, the source's upload beside them: where the
        // image has no prepare venv, ensurepip takes seconds (tens on a busy machine).
        let (setup, venv) = (pip_shell(&setup), pip_shell(&venv));
        let (fetch_venv, build_venv) = tokio::join!(self.exec_on(Side::Fetch, &setup), async {
            self.build.upload("/work", source).await?;
            self.exec_on(Side::Build, &venv).await
        });
        self.fetch_venv = prepare_venv_of(&self.must_have("venv (fetch)", fetch_venv?)?);
        self.build_venv = prepare_venv_of(&self.must_have("venv (build)", build_venv?)?);
        self.log.push_str(&format!(
            "ponyswarm: source and venvs took {:.1}s\n",
            started.elapsed().as_secs_f64()
        ));
        let index = index_options(&req.install);
        // What is known without running the project's code, in one resolution.
        let read = |path: &str| read_source(req, path);
        let mut tools = build_requires(pyproject(req).as_deref());
        let setup = |f: &str| read_source(req, f);
        for r in setup_requires(setup("setup.py").as_deref(), setup("setup.cfg").as_deref()) {
            if !tools.iter().any(|t| same_project(t, &r)) {
                tools.push(r);
            }
        }
        // pip itself: jobs put it into a venv made without ensurepip (see `job`).
        // Today's, whatever the cutoff: ponyswarm's tool, not the project's.
        if self.cutoff.is_some() {
            self.fetch(partial, &index, &["pip".to_string()], true, None)
                .await?;
        } else {
            tools.push("pip".to_string());
        }
        let cutoff = self.cutoff.clone();
        let cutoff = cutoff.as_deref();
        let mut first = tools.clone();
        first.extend(static_requirements(&req.install, &downloads, &read));
        if !self.fetch(partial, &index, &first, false, cutoff).await? {
            // Something named statically cannot be had; the offline step will say
            // so, but the build tools and pip must be there regardless.
            self.fetch(partial, &index, &tools, true, cutoff).await?;
        }
        if self.checked_with_uv(req, partial).await? {
            return Ok(());
        }
        let offline = offline_script(self.build_venv, &downloads, partial);
        let mut asked: Vec<String> = Vec::new();
        for round in 1..=MAX_ROUNDS {
            let step = format!("offline: metadata and sdist builds (round {round})");
            let (code, out) = self.logged(Side::Build, &step, pip_shell(&offline)).await?;
            if code == 0 {
                return Ok(());
            }
            let missing: Vec<String> = missing_requirements(&out)
                .into_iter()
                .filter(|r| !asked.contains(r))
                .collect();
            if missing.is_empty() {
                return Err(self.failed(format!("{step} (exit {code})")));
            }
            asked.extend(missing.iter().cloned());
            self.fetch(partial, &index, &missing, true, cutoff).await?;
        }
        Err(self.failed(format!(
            "still missing requirements after {MAX_ROUNDS} rounds of fetching"
        )))
    }

    /// Round 1's offline step done by uv where it can be: a real install of the
    /// install commands' uv lines ([`uv_check_lines`]) into a throwaway venv, from
    /// `partial` only, in the build container. `true` when it passed: the
    /// environment's install, which runs the same lines with uv, will find all it
    /// needs.
    ///
    /// Real, not `--dry-run`, so that the project's build backend runs and the build
    /// requirements it asks for (`get_requires_for_build_*`: scikit-build-core's,
    /// meson-python's, an in-tree backend's) are checked, as pip's metadata build
    /// checks them. uv installs build environments and resolves in a fraction of
    /// pip's time (seconds on PyPy). Not when the image has no uv, a line
    /// needs pip, or sdists are among the downloads (pip's step builds them into
    /// wheels); and only in round 1: when it fails, pip's step runs as before and its
    /// output ([`missing_requirements`]) says what to fetch.
    ///
    /// An sdist the lines find through their own `--find-links` (a directory of the
    /// source) is built by uv here and again by the environment's install, where
    /// pip's step would have put its wheel into the wheelhouse.
    async fn checked_with_uv(
        &mut self,
        req: &PrepareRequest,
        partial: &str,
    ) -> Result<bool, PrepareError> {
        let Some(lines) = uv_check_lines(&req.install, partial)? else {
            self.log
                .push_str("ponyswarm: offline check with pip: an install line needs pip\n");
            return Ok(false);
        };
        let ran = self
            .exec_on(Side::Build, &pip_shell(&uv_check_blockers(partial)))
            .await?;
        let (_, out) = self.ended(ran)?;
        let blockers = String::from_utf8_lossy(&out).trim().replace('\n', "; ");
        if !blockers.is_empty() {
            self.log
                .push_str(&format!("ponyswarm: offline check with pip: {blockers}\n"));
            return Ok(false);
        }
        let script = uv_check_script(&req.python, &lines);
        let step = "offline: install check with uv (round 1)";
        let (code, _) = self.logged(Side::Build, step, pip_shell(&script)).await?;
        if code != 0 {
            self.log.push_str(&format!(
                "ponyswarm: the uv check failed (exit {code}): pip's offline step says what is missing\n"
            ));
        }
        Ok(code == 0)
    }

    /// Fetches `reqs` with their dependencies into `partial` behind the door: wheels
    /// only first (no code of theirs runs); where a requirement has no wheel, pip's
    /// normal download (which prepares an sdist's metadata in the fetch container,
    /// whose only way out is the door). A failure of the first, static pass is only
    /// logged (`Ok(false)`): the offline step then says exactly what is missing.
    ///
    /// With a `cutoff`, uv first resolves `reqs` as of it ([`Self::resolve_as_of`])
    /// and pip downloads the exact pins, without their dependencies (already among
    /// the pins).
    async fn fetch(
        &mut self,
        partial: &str,
        index: &[String],
        reqs: &[String],
        must: bool,
        cutoff: Option<&str>,
    ) -> Result<bool, PrepareError> {
        if reqs.is_empty() {
            return Ok(true);
        }
        let pinned;
        let reqs = match cutoff {
            None => reqs,
            Some(cutoff) => match self.resolve_as_of(index, reqs, must, cutoff).await? {
                false => return Ok(false),
                true => {
                    pinned = ["--no-deps", "-r", AS_OF_PINS].map(String::from);
                    &pinned[..]
                }
            },
        };
        let python = format!("{}/bin/python", self.fetch_venv);
        let pip = |extra: &[&str]| {
            let mut cmd: Vec<String> = vec![
                python.clone(),
                "-m".into(),
                "pip".into(),
                "download".into(),
                "--dest".into(),
                partial.to_string(),
            ];
            cmd.extend(extra.iter().map(|s| s.to_string()));
            cmd.extend(index.iter().cloned());
            cmd.extend(reqs.iter().cloned());
            Exec {
                cmd,
                env: pip_env(),
                working_dir: Some("/tmp".into()),
            }
        };
        let step = format!(
            "fetch: pip download --only-binary=:all: {}",
            shell_words::join(reqs)
        );
        if self
            .logged(Side::Fetch, &step, pip(&["--only-binary=:all:"]))
            .await?
            .0
            == 0
        {
            return Ok(true);
        }
        let step = format!(
            "fetch: pip download --prefer-binary {}",
            shell_words::join(reqs)
        );
        match self
            .logged(Side::Fetch, &step, pip(&["--prefer-binary"]))
            .await?
            .0
        {
            0 => Ok(true),
            code if must => Err(self.failed(format!("{step} (exit {code})"))),
            _ => Ok(false),
        }
    }

    /// Resolves `reqs` as of `cutoff` with uv in the fetch container, the pins into
    /// [`AS_OF_PINS`]. `Ok(false)` when it cannot and need not (`must` false, see
    /// [`Self::fetch`]); when it must, the error names what the cutoff left out.
    async fn resolve_as_of(
        &mut self,
        index: &[String],
        reqs: &[String],
        must: bool,
        cutoff: &str,
    ) -> Result<bool, PrepareError> {
        let input = requirements_file(reqs);
        if input.is_empty() {
            return Ok(true);
        }
        let compile = uv_compile_command(
            AS_OF_INPUT,
            AS_OF_PINS,
            &format!("{}/bin/python", self.fetch_venv),
            index,
            cutoff,
        );
        let script = format!(
            "printf %s {} > {AS_OF_INPUT} && {}",
            shell_words::quote(&input),
            shell_words::join(&compile)
        );
        let step = format!(
            "fetch: resolve as of {cutoff}: uv pip compile --exclude-newer {cutoff} {}",
            shell_words::join(reqs)
        );
        let (code, out) = self.logged(Side::Fetch, &step, pip_shell(&script)).await?;
        match code {
            0 => Ok(true),
            _ if !must => Ok(false),
            code => {
                let filtered = filtered_by_cutoff(&out);
                let step = if filtered.is_empty() {
                    format!("{step} (exit {code})")
                } else {
                    format!(
                        "no version of {} uploaded before {cutoff} fits, the instant the dependencies \
                         are resolved as of (`--as-of now` resolves as of today)",
                        filtered.join(", ")
                    )
                };
                Err(self.failed(step))
            }
        }
    }

    fn failed(&mut self, step: String) -> PrepareError {
        PrepareError::Fetch {
            step,
            log: std::mem::take(&mut self.log),
        }
    }

    fn on(&self, side: Side) -> &Container {
        match side {
            Side::Fetch => self.fetch,
            Side::Build => self.build,
        }
    }

    /// Runs `exec` as the step `step`, its output into the log; the exit code and the
    /// output.
    async fn logged(
        &mut self,
        side: Side,
        step: &str,
        exec: Exec,
    ) -> Result<(i64, String), PrepareError> {
        self.log.push_str(&format!("$ {step}\n"));
        let started = Instant::now();
        let (code, out) = self.output(side, exec).await?;
        let out = String::from_utf8_lossy(&out).into_owned();
        self.log.push_str(&out);
        // Where a cold run's time goes, step by step.
        self.log.push_str(&format!(
            "ponyswarm: step took {:.1}s\n",
            started.elapsed().as_secs_f64()
        ));
        cap_log(&mut self.log);
        Ok((code, out))
    }

    /// Runs `exec` by the deadline: its exit code and output.
    async fn output(&mut self, side: Side, exec: Exec) -> Result<(i64, Vec<u8>), PrepareError> {
        let ran = self.exec_on(side, &exec).await?;
        self.ended(ran)
    }

    /// Runs `exec` by the deadline, touching nothing else, so that the two
    /// containers can run a step each at once: how it ended and its output (at most
    /// [`MAX_PREPARE_LOG`] of it, its start and its end).
    async fn exec_on(&self, side: Side, exec: &Exec) -> Result<(ExecEnd, Vec<u8>), PrepareError> {
        let mut out = LogBuffer::new(MAX_PREPARE_LOG, std::time::Instant::now());
        let limits = ExecLimits {
            deadline: Some(self.deadline),
            no_output: None,
        };
        let end = self
            .on(side)
            .exec(exec, limits, &mut |b: &[u8]| {
                out.push(b, std::time::Instant::now())
            })
            .await?;
        Ok((end, out.text().into_bytes()))
    }

    /// The exit code and output of a step that ran; a step out of time fails the
    /// prepare, its output logged.
    fn ended(&mut self, (end, out): (ExecEnd, Vec<u8>)) -> Result<(i64, Vec<u8>), PrepareError> {
        match end {
            ExecEnd::Exited(code) => Ok((code, out)),
            ExecEnd::TimedOut | ExecEnd::NoOutput(_) => {
                self.log.push_str(&String::from_utf8_lossy(&out));
                cap_log(&mut self.log);
                Err(PrepareError::Timeout {
                    log: std::mem::take(&mut self.log),
                })
            }
        }
    }

    /// Logs the step `step` that ran (see [`Self::exec_on`]); it must have exited 0.
    /// Its output.
    fn must_have(&mut self, step: &str, ran: (ExecEnd, Vec<u8>)) -> Result<String, PrepareError> {
        self.log.push_str(&format!("$ {step}\n"));
        let (code, out) = self.ended(ran)?;
        let out = String::from_utf8_lossy(&out).into_owned();
        self.log.push_str(&out);
        cap_log(&mut self.log);
        match code {
            0 => Ok(out),
            code => Err(self.failed(format!("{step} (exit {code})"))),
        }
    }
}

/// Keeps `log` within [`MAX_PREPARE_LOG`]: its start and its latest output, the
/// middle cut with a line saying how much.
fn cap_log(log: &mut String) {
    if log.len() > MAX_PREPARE_LOG {
        let now = std::time::Instant::now();
        let mut kept = LogBuffer::new(MAX_PREPARE_LOG, now);
        kept.push(log.as_bytes(), now);
        *log = kept.text();
    }
}

/// The offline step, for the build container: `pip download --no-index` of every
/// install (the project's metadata is prepared here, its build requirements taken
/// from the downloads), then `pip wheel --no-index` of each sdist among them.
///
/// `--use-pep517`: without it, pip builds a project that has no pyproject.toml with
/// `setup.py` in the prepare venv itself, with whatever setuptools that venv has (and
/// no `wheel`, so no `bdist_wheel` before setuptools 70.1); with it, every build is
/// isolated, its requirements (`setuptools>=40.8.0`, `wheel`) taken from the
/// wheelhouse like any other build's, as of the run's cutoff.
fn offline_script(venv: &str, downloads: &[Vec<String>], partial: &str) -> String {
    let pip = format!("{venv}/bin/python -m pip");
    let mut lines = vec!["set -e".to_string(), "cd /work/src".to_string()];
    for args in downloads {
        lines.push(format!(
            "{pip} download --use-pep517 --no-index --find-links {partial} --dest {partial} {}",
            shell_words::join(args)
        ));
    }
    let sdists = sdist_globs(partial);
    lines.push(format!(
        "for f in {sdists}; do \
         [ -e \"$f\" ] || continue; \
         {pip} wheel --use-pep517 --no-index --find-links {partial} --no-deps --wheel-dir {partial} \"$f\"; \
         rm -f \"$f\"; done"
    ));
    lines.join("\n")
}

/// The sdists among the downloads in `partial`, as shell globs (one that matches
/// nothing stays as written).
fn sdist_globs(partial: &str) -> String {
    format!("{partial}/*.tar.gz {partial}/*.zip {partial}/*.tar.bz2")
}

/// Where the uv check makes its throwaway venv: in the build container's `/tmp`,
/// gone with it (and removed when the check ends, to give the space back to pip).
const UV_CHECK_VENV: &str = "/tmp/ponyswarm-uv-check";

/// The uv lines the check runs ([`uv::translate_for_check`] into [`UV_CHECK_VENV`],
/// from `partial`): one per install command that has a `pip install` (the others
/// are not fetched for, by pip's step either). `None` when one of those must run
/// with pip in the environment: uv would then check something else than what runs.
fn uv_check_lines(install: &[String], partial: &str) -> Result<Option<Vec<String>>, RewriteError> {
    let mut lines = Vec::new();
    for command in install {
        if download_args(command)?.is_empty() {
            continue;
        }
        match uv::translate_for_check(command, UV_CHECK_VENV, partial) {
            Some(line) => lines.push(line),
            None => return Ok(None),
        }
    }
    Ok(Some(lines))
}

/// The shell line, for the build container, that prints why round 1 cannot be
/// checked with uv (one reason a line; nothing when it can).
fn uv_check_blockers(partial: &str) -> String {
    format!(
        "{} || echo 'the image has no uv'; \
         for f in {}; do [ -e \"$f\" ] && {{ echo 'sdists among the downloads (pip builds them)'; break; }}; done; true",
        uv::HAS_UV,
        sdist_globs(partial)
    )
}

/// The uv check's script, in the source tree like pip's step: a venv for the
/// interpreter `python` at [`UV_CHECK_VENV`], then `lines` into it; every command
/// echoed (`set -x`) so the log says what ran, and the venv removed however it ends.
fn uv_check_script(python: &str, lines: &[String]) -> String {
    let mut script = vec![
        "set -e".to_string(),
        format!("cd {}", super::layout::SRC),
        format!("trap 'rm -rf {UV_CHECK_VENV}' EXIT"),
        "set -x".to_string(),
        uv::uv_venv(python, UV_CHECK_VENV),
    ];
    script.extend(lines.iter().cloned());
    script.join("\n")
}

/// The `pip download` argument lists for `req`: one per `pip install` of its install
/// commands.
fn downloads(req: &PrepareRequest) -> Result<Vec<Vec<String>>, PrepareError> {
    let mut out = Vec::new();
    for command in &req.install {
        out.extend(download_args(command)?);
    }
    Ok(out)
}

/// The project's pyproject.toml, `files:` first.
fn pyproject(req: &PrepareRequest) -> Option<String> {
    read_source(req, "pyproject.toml")
}

/// A file of the source tree by relative path (`files:` first); `None` for paths
/// leaving the tree.
fn read_source(req: &PrepareRequest, path: &str) -> Option<String> {
    crate::untar::safe_relative(path)?;
    req.files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, c)| c.clone())
        .or_else(|| crate::tree_file::read_text(&req.source, path).ok())
}

/// A shell line run with [`pip_env`].
fn pip_shell(line: &str) -> Exec {
    let mut exec = Exec::shell(line.to_string());
    exec.env = pip_env();
    exec
}

/// The environment of the prepare's pip. `PIP_COMPILE=0` (`--no-compile`; the
/// `PIP_NO_COMPILE` spelling means the opposite, pypa/pip#5735) reaches the pip that
/// installs each isolated build's requirements: setuptools was byte-compiled whole for
/// every metadata and sdist build, though a build imports a part of it, once, and
/// writes those caches itself.
fn pip_env() -> Vec<String> {
    vec![
        "PIP_COMPILE=0".into(),
        "PIP_DISABLE_PIP_VERSION_CHECK=1".into(),
        "PIP_NO_INPUT=1".into(),
        "PIP_PROGRESS_BAR=off".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prepare_log_keeps_its_start_and_its_end_within_the_cap() {
        let mut log = format!("first line\n{}last line\n", "x".repeat(3 * MAX_PREPARE_LOG));
        cap_log(&mut log);
        assert!(log.len() <= MAX_PREPARE_LOG + 200, "{}", log.len());
        assert!(log.starts_with("first line\n") && log.ends_with("last line\n"));
        assert!(log.contains("cut"), "the cut is said");
        let mut short = "short\n".to_string();
        cap_log(&mut short);
        assert_eq!(short, "short\n");
    }

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_baked_prepare_venv_is_used_only_when_the_image_said_so() {
        let command = prepare_venv_command("python3.11");
        assert!(command.contains(&format!("[ -x {BAKED_PREP_VENV}/bin/python ]")));
        assert!(command.contains(&format!("python3.11 -m venv {MADE_PREP_VENV}")));
        let said = |venv: &str, how: &str| format!("ponyswarm: prepare venv {venv} ({how})\n");
        assert_eq!(
            prepare_venv_of(&said(BAKED_PREP_VENV, "baked into the image")),
            BAKED_PREP_VENV
        );
        assert_eq!(
            prepare_venv_of(&said(MADE_PREP_VENV, "made with ensurepip")),
            MADE_PREP_VENV
        );
        // Anything else (no answer at all): the venv the fill would have made.
        assert_eq!(prepare_venv_of(""), MADE_PREP_VENV);
    }

    #[test]
    fn round_one_is_checked_with_uv_only_when_every_pip_install_translates() {
        let check = |line: &str| uv::translate_for_check(line, UV_CHECK_VENV, "/wheels/.p");
        let table: &[(&[&str], Option<&[&str]>)] = &[
            (
                &["pip install -e .[test]"],
                Some(&["pip install -e .[test]"]),
            ),
            // Not a pip install: pip's step does not fetch for it either.
            (
                &["pip install -e .", "python setup.py build_ext -i"],
                Some(&["pip install -e ."]),
            ),
            (&["echo nothing to install"], Some(&[])),
            // A line the environment runs with pip: uv would check something else.
            (
                &[
                    "pip install -e .",
                    "pip install --upgrade-strategy only-if-needed x",
                ],
                None,
            ),
            (&["pip install . && python -m build"], None),
        ];
        for (install, want) in table {
            let want = want.map(|lines| lines.iter().map(|l| check(l).unwrap()).collect());
            assert_eq!(
                uv_check_lines(&v(install), "/wheels/.p").unwrap(),
                want,
                "{install:?}"
            );
        }
        assert!(uv_check_lines(&v(&["pip install 'unbalanced"]), "/p").is_err());
    }

    #[test]
    fn the_uv_check_runs_in_the_source_tree_into_the_venv_it_makes() {
        let line = uv::translate_for_check("pip install -e .", UV_CHECK_VENV, "/p").unwrap();
        let script = uv_check_script("pypy3", std::slice::from_ref(&line));
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines[..2], ["set -e", "cd /work/src"]);
        assert!(script.contains(&format!("trap 'rm -rf {UV_CHECK_VENV}' EXIT")));
        assert_eq!(lines[lines.len() - 2], uv::uv_venv("pypy3", UV_CHECK_VENV));
        assert_eq!(lines[lines.len() - 1], line);
        assert!(line.contains(&format!("--python {UV_CHECK_VENV}/bin/python")));
    }

    #[test]
    fn key_follows_dependency_files_not_code() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname='a'\n").unwrap();
        std::fs::write(dir.path().join("code.py"), "x = 1\n").unwrap();
        let install = v(&["pip install -e ."]);
        let k1 = key_for(Trust::Trusted, None, "sha256:1", &install, dir.path(), &[]);
        std::fs::write(dir.path().join("code.py"), "x = 2\n").unwrap();
        assert_eq!(
            k1,
            key_for(Trust::Trusted, None, "sha256:1", &install, dir.path(), &[])
        );
        assert_ne!(
            k1,
            key_for(Trust::Trusted, None, "sha256:2", &install, dir.path(), &[])
        );
        assert_ne!(
            k1,
            key_for(
                Trust::Trusted,
                None,
                "sha256:1",
                &v(&["pip install ."]),
                dir.path(),
                &[]
            )
        );
        std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname='b'\n").unwrap();
        assert_ne!(
            k1,
            key_for(Trust::Trusted, None, "sha256:1", &install, dir.path(), &[])
        );
        let files = vec![("requirements.txt".to_string(), "x\n".to_string())];
        assert_ne!(
            k1,
            key_for(
                Trust::Trusted,
                None,
                "sha256:1",
                &install,
                dir.path(),
                &files
            )
        );
    }

    #[test]
    fn untrusted_origins_never_share_a_trusted_wheelhouse() {
        let dir = tempfile::tempdir().unwrap();
        let install = v(&["pip install ."]);
        assert_ne!(
            key_for(Trust::Trusted, None, "sha256:1", &install, dir.path(), &[]),
            key_for(
                Trust::Untrusted,
                None,
                "sha256:1",
                &install,
                dir.path(),
                &[]
            )
        );
    }

    #[test]
    fn each_cutoff_has_wheelhouses_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let install = v(&["pip install ."]);
        let key = |cutoff| {
            key_for(
                Trust::Untrusted,
                cutoff,
                "sha256:1",
                &install,
                dir.path(),
                &[],
            )
        };
        let today = key(None);
        let then = key(Some("2023-04-02T10:11:12Z"));
        assert_ne!(today, then);
        assert_ne!(then, key(Some("2024-05-01T00:00:00Z")));
        assert_eq!(then, key(Some("2023-04-02T10:11:12Z")));
        // The default scope is a trusted run's today.
        assert_eq!(
            key_for(Trust::Trusted, None, "sha256:1", &install, dir.path(), &[]),
            WheelhouseScope::default().key("sha256:1", &install, dir.path(), &[])
        );
    }
}
