//! Environment images: a job's dependencies installed once per key, kept as a local
//! image `ponyswarm/env:<key>` that every job with that key starts a fresh container
//! from.
//!
//! The key is (Python image id, interpreter, rendered install commands, the
//! dependency-declaring files, the wheelhouse, the run's trust and cutoff): change any
//! and a new environment is built; edit a test or the code and the environment is
//! reused. The trust and cutoff come from the run's wheelhouse scope
//! (`prepare::WheelhouseScope`), which the warm lookup uses too: an untrusted run (a
//! fork's pull request, a PyPI release) never starts from a trusted run's image, nor a
//! trusted run from an untrusted one's.
//!
//! The build makes the venv with uv and runs the job's install commands, each `pip
//! install` uv can do as `uv pip install` (see `run::uv`), offline (no network, the
//! wheelhouse read-only), in a container confined as a job's is (read-only root,
//! capped work areas; its work area a named tmpfs); the writable areas are listed
//! before and after the install, and what it changed is kept in a label, so that
//! every job using the image shows it. The venv is byte-compiled, then copied into a
//! volume of its own by a container running only ponyswarm's own commands, the build
//! container killed first (see [`Environments::keep`]). The image is the Python
//! image with the labels added, loaded rather than committed ([`record_archive`]).
//! A job's container starts from the image with the volume mounted read-only at
//! [`ENV_VENV`]; it links `/work/venv` to it, or copies it when the project itself
//! must be installed again (see [`project_reinstall`]).
//!
//! Why a volume: committing the venv as a layer took 5–25 s per environment on
//! fuse-overlayfs (the engine tars the layer back out of the storage driver); a volume
//! is a plain directory, written once. The image stays the record (labels, last use,
//! a completion mark: it is made after the volume is full) and keeps the volume from
//! being removed while a container of it exists.
//!
//! Jobs of one run with the same key share one build; runs share the image.

use super::once_per_key::OncePerKey;
use crate::matrix::Limits;
use crate::run::env_images;
use crate::run::installed::{self, InstalledSource};
use crate::run::layout::{side_area, AREAS, HOME, SRC, VENV, WORK};
use crate::run::pip::{project_targets, ProjectTarget};
use crate::run::prepare::{self, Wheelhouse, WheelhouseScope, WHEELS};
use crate::run::source;
use crate::run::uv;
use crate::sandbox::areas;
use crate::sandbox::changes::ChangeKind;
use crate::sandbox::container::{Container, Exec, ExecEnd, ExecLimits, OomWatch, Tracker};
use crate::sandbox::labels;
use crate::sandbox::policy::{self, NetworkAccess, Owner, SandboxBuilder};
use bollard::query_parameters::ListImagesOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use tokio::time::Instant;

/// The repository environment images are tagged in (`ponyswarm/env:<key>`).
pub const ENV_REPO: &str = "ponyswarm/env";
/// Label on environment images: their key.
pub const ENV_LABEL: &str = "io.ponyswarm.env";
/// Label: the files the install changed, as gzipped JSON in hex.
const CHANGES_LABEL: &str = "io.ponyswarm.env.changes";
/// Label: the digest of the source the environment was built with.
const SOURCE_LABEL: &str = "io.ponyswarm.env.source";
/// Label: the source files and top-level names of the project installed not
/// editable (see `run::installed`); missing when unknown.
const INSTALLED_SOURCE_LABEL: &str = "io.ponyswarm.env.installed-source";
/// Label: `1` when the install wrote into the source tree (an in-place build).
const WROTE_SOURCE_LABEL: &str = "io.ponyswarm.env.wrote-source";
/// Label: the warm key (see [`warm_key`]).
const WARM_LABEL: &str = "io.ponyswarm.env.warm";
/// Label: the content digest of the wheelhouse the environment was built from.
const WHEELS_CONTENT_LABEL: &str = "io.ponyswarm.env.wheels-content";
/// Label: the installer that made the venv, `uv` or `pip` (a Python image without uv).
const INSTALLER_LABEL: &str = "io.ponyswarm.env.installer";
/// Label on an environment image: the volume its venv is kept in. The same label,
/// with the key as value, marks environment volumes.
pub const VENV_VOLUME_LABEL: &str = "io.ponyswarm.env.venv-volume";
/// Label on an environment image: the venv's bytes (as streamed into its volume).
pub const VENV_SIZE_LABEL: &str = "io.ponyswarm.env.venv-size";
/// Where the venv is kept in the image; jobs reach it at [`VENV`].
pub const ENV_VENV: &str = "/opt/ponyswarm/venv";
/// Changes to how an environment is built invalidate every earlier one.
const RECIPE: &str = "ponyswarm-env-v7-loaded";
/// The areas listed around the build's install: the job's writable areas, for the
/// build is confined as a job is.
const BUILD_AREAS: &[&str] = AREAS;
/// Most bytes of build output kept for the jobs' logs (the end is kept).
const MAX_BUILD_LOG: usize = 1 << 20;
/// Most bytes kept of what one of ponyswarm's own commands prints.
const MAX_OWN_OUTPUT: usize = 64 << 10;
/// Where [`Environments::keep`] mounts the build's work area (read-only).
const BUILT: &str = "/built";

/// What an environment is made from.
#[derive(Debug, Clone)]
pub struct EnvRequest {
    /// The Python image reference.
    pub image: String,
    /// Its id.
    pub image_id: String,
    /// The interpreter command (`python3.11`, `pypy3`).
    pub python: String,
    /// The rendered install commands.
    pub install: Vec<String>,
    /// The source tree.
    pub source: PathBuf,
    /// The rendered `files:`.
    pub files: Vec<(String, String)>,
    /// The wheelhouse volume.
    pub wheels: String,
    /// The wheelhouse's content digest: a wheelhouse made again may hold other
    /// wheels, so it makes another environment.
    pub wheels_content: String,
    /// The job's environment variables (PATH, pip's offline settings, the plan's).
    pub env: Vec<String>,
    /// Limits of the build container.
    pub limits: Limits,
    /// The build must end by then.
    pub deadline: Instant,
}

/// A ready environment image.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The image reference (`ponyswarm/env:<key>`).
    pub image: String,
    /// Whether this job built it (else: reused).
    pub built: bool,
    /// What the install changed, recorded when it was built.
    pub changes: Vec<(String, ChangeKind)>,
    /// The digest of the source it was built with.
    pub source_digest: String,
    /// Whether its install wrote into the source tree.
    pub wrote_source: bool,
    /// What its install of the project was made from, when known: then only a source
    /// change that could reach the install installs the project again.
    pub installed_source: Option<InstalledSource>,
    /// Whether its venv was made by uv (then the job installs its project with uv).
    pub uv: bool,
    /// The volume holding its venv, mounted read-only at [`ENV_VENV`] in jobs.
    pub venv_volume: Option<String>,
    /// What the build printed (empty when reused).
    pub log: String,
}

/// Why an environment could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnvError {
    /// One of the job's install commands (or the venv) failed: `install-failed`.
    #[error("install command {command:?} ended {end:?}")]
    Install {
        /// The command.
        command: String,
        /// How it ended.
        end: ExecEnd,
        /// What the build printed.
        log: String,
    },
    /// The kernel killed an install command of the build for want of memory: the
    /// job's memory limit is too small for its install (`limit-exceeded`).
    #[error("install command {command:?} was killed: out of memory")]
    OutOfMemory {
        /// The command.
        command: String,
        /// What the build printed.
        log: String,
    },
    /// Docker failed (`error`).
    #[error("environment: {0}")]
    Docker(String),
}

/// The environment key (see the module doc) in the run's wheelhouse `scope`: its
/// trust and cutoff are in the key, so runs of different trust or cutoff never share
/// an environment image.
pub fn key(scope: &WheelhouseScope, req: &EnvRequest) -> String {
    let deps = scope.key(&req.image_id, &req.install, &req.source, &req.files);
    let mut h = Sha256::new();
    for part in [
        RECIPE,
        &req.image_id,
        &req.python,
        &deps,
        &req.wheels,
        &req.wheels_content,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for command in &req.install {
        h.update(command.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// The warm key: the environment key with the wheelhouse's content replaced by the
/// wheelhouse volume's creation time. A complete wheelhouse is never written again
/// (a fill finds its marker and stops), and one removed and filled again is a new
/// volume: so a job of a warm rerun finds its environment by this key, through a
/// label, without starting a container to read the wheelhouse's content.
pub fn warm_key(
    image_id: &str,
    python: &str,
    install: &[String],
    deps: &str,
    volume: &str,
    volume_created: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        RECIPE,
        "warm",
        image_id,
        python,
        deps,
        volume,
        volume_created,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for command in install {
        h.update(command.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// What a job asks [`Environments::find_warm`]: the parts of an [`EnvRequest`]
/// known before the wheelhouse.
#[derive(Debug, Clone)]
pub struct WarmRequest {
    /// The Python image's id.
    pub image_id: String,
    /// The interpreter command.
    pub python: String,
    /// The rendered install commands (which are also what the wheelhouse is filled
    /// for).
    pub install: Vec<String>,
    /// The source tree.
    pub source: PathBuf,
    /// The rendered `files:`.
    pub files: Vec<(String, String)>,
}

/// The digest of the source as a job receives it (the tree with `files:` over it).
pub fn source_digest(tree: &std::path::Path, files: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    match source::write_tar(source::HashWriter(&mut h), tree, "src", files) {
        Ok(()) => hex::encode(h.finalize())[..16].to_string(),
        // Unreadable: never equal to a recorded digest, so the project is installed.
        Err(e) => format!("unreadable: {e}"),
    }
}

/// The commands a job runs to install its project into a copy of the environment's
/// venv, or none when the environment's install still stands: the project is
/// installed from a local path, and either it is not editable and the source changed
/// since the build where its install could see it (`source_changed`, see
/// `run::installed`), or the build wrote into the source tree (an in-place build, whose
/// products a fresh source tree lacks).
pub fn project_reinstall(
    install: &[String],
    source_changed: bool,
    wrote_source: bool,
    uv: bool,
) -> Vec<String> {
    let targets = project_targets(install);
    let stale = |t: &ProjectTarget| wrote_source || (source_changed && !t.editable);
    if !targets.iter().any(stale) {
        return Vec::new();
    }
    targets
        .iter()
        .map(|t| {
            if uv {
                let mut args = crate::run::uv::uv_pip_install();
                args.extend(["--no-deps".to_string(), "--reinstall".to_string()]);
                if t.editable {
                    args.push("--editable".to_string());
                }
                args.push(t.path.clone());
                return shell_words::join(args);
            }
            let mut args = vec![
                "python".to_string(),
                "-m".to_string(),
                "pip".to_string(),
                "install".to_string(),
                "--no-deps".to_string(),
                "--force-reinstall".to_string(),
            ];
            if t.editable {
                args.push("-e".to_string());
            }
            args.push(t.path.clone());
            shell_words::join(args)
        })
        .collect()
}

/// The run's environments: one build per key, however many jobs ask.
#[derive(Clone)]
pub struct Environments {
    docker: Docker,
    tracker: Tracker,
    owner: Owner,
    scope: WheelhouseScope,
    slots: OncePerKey<Result<Environment, EnvError>>,
    /// Warm lookups by their inputs: the first job of a key asks Docker (three calls),
    /// the others of the run take its answer.
    warm: OncePerKey<Option<(Environment, Wheelhouse)>>,
    /// Images whose use this run recorded already: once per run is enough for the
    /// size cap's order, and saves every later job a call.
    touched: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl Environments {
    /// Environments for a run; `owner` labels the build containers; `scope` is the
    /// run's wheelhouse scope (`Wheelhouses::scope`), which keys and the warm lookup
    /// use as the prepare does.
    pub fn new(docker: &Docker, tracker: &Tracker, owner: Owner, scope: WheelhouseScope) -> Self {
        Environments {
            docker: docker.clone(),
            tracker: tracker.clone(),
            owner,
            scope,
            slots: OncePerKey::default(),
            warm: OncePerKey::default(),
            touched: Default::default(),
        }
    }

    /// Records a use of `image` (see `env_images::touch`), once per run; failing to
    /// costs nothing now.
    async fn touch(&self, image: &str) {
        let first = self
            .touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(image.to_string());
        if first {
            let _ = crate::run::env_images::touch(&self.docker, image).await;
        }
    }

    /// The environment for `req`: the image when there is one, else built now.
    /// Concurrent callers with the same key wait for one build; only the one that
    /// built it sees `built`.
    pub async fn get(&self, req: &EnvRequest) -> Result<Environment, EnvError> {
        let key = key(&self.scope, req);
        let (result, first) = self
            .slots
            .get_or_init(&key, || self.find_or_build(&key, req))
            .await;
        match result {
            Ok(env) if !first => Ok(Environment {
                built: false,
                log: String::new(),
                ..env
            }),
            other => other,
        }
    }

    /// The environment and wheelhouse of a warm rerun: found by [`warm_key`] when the
    /// wheelhouse volume exists and an environment was built from it; `None` (the
    /// job then prepares as usual) otherwise, or when Docker fails to say. Found once
    /// per run and key; a miss is looked up again by the next job (the one before may
    /// have built it since).
    pub async fn find_warm(&self, req: &WarmRequest) -> Option<(Environment, Wheelhouse)> {
        let deps = {
            let (req, scope) = (req.clone(), self.scope.clone());
            tokio::task::spawn_blocking(move || {
                scope.key(&req.image_id, &req.install, &req.source, &req.files)
            })
            .await
            .ok()?
        };
        let asked = format!("{deps}\0{}", req.python);
        let (found, first) = self
            .warm
            .get_or_init(&asked, || self.look_up_warm(req, &deps))
            .await;
        match found {
            None if !first => self.look_up_warm(req, &deps).await,
            found => found,
        }
    }

    /// [`Self::find_warm`] asking Docker, for the dependency key `deps` of `req`.
    async fn look_up_warm(
        &self,
        req: &WarmRequest,
        deps: &str,
    ) -> Option<(Environment, Wheelhouse)> {
        let deps = deps.to_string();
        let volume = prepare::volume_name(&deps);
        let created = self.docker.inspect_volume(&volume).await.ok()?.created_at?;
        let warm = warm_key(
            &req.image_id,
            &req.python,
            &req.install,
            &deps,
            &volume,
            &created,
        );
        let filters = HashMap::from([("label".to_string(), vec![format!("{WARM_LABEL}={warm}")])]);
        let opts = ListImagesOptionsBuilder::new().filters(&filters).build();
        let found = self.docker.list_images(Some(opts)).await.ok()?;
        let image = found
            .iter()
            .flat_map(|s| &s.repo_tags)
            .find(|t| t.starts_with(&format!("{ENV_REPO}:")))?;
        let labels = &found.iter().find(|s| s.repo_tags.contains(image))?.labels;
        if !self.venv_kept(labels).await {
            return None;
        }
        self.touch(image).await;
        let wheelhouse = Wheelhouse {
            volume,
            cached: true,
            log: String::new(),
            duration: std::time::Duration::ZERO,
            content: labels
                .get(WHEELS_CONTENT_LABEL)
                .cloned()
                .unwrap_or_default(),
        };
        Some((from_labels(image, labels), wheelhouse))
    }

    async fn find_or_build(&self, key: &str, req: &EnvRequest) -> Result<Environment, EnvError> {
        let image = format!("{ENV_REPO}:{key}");
        if let Ok(found) = self.docker.inspect_image(&image).await {
            let labels = found.config.and_then(|c| c.labels).unwrap_or_default();
            if self.venv_kept(&labels).await {
                // Its last use, for the size cap.
                self.touch(&image).await;
                return Ok(from_labels(&image, &labels));
            }
        }
        self.build(key, &image, req).await
    }

    /// Whether the venv volume an image's `labels` name still exists: one removed
    /// behind ponyswarm's back would come back empty when a job mounts it, so its
    /// environment is built again.
    async fn venv_kept(&self, labels: &HashMap<String, String>) -> bool {
        match labels.get(VENV_VOLUME_LABEL) {
            Some(volume) => self.docker.inspect_volume(volume).await.is_ok(),
            None => false,
        }
    }

    /// Builds the environment `key` in a container confined as a job is, its work
    /// area a named tmpfs ([`policy::tmpfs_volume`]) that [`Self::keep`] copies the
    /// venv out of; the volume goes with the build.
    async fn build(
        &self,
        key: &str,
        image: &str,
        req: &EnvRequest,
    ) -> Result<Environment, EnvError> {
        let work = format!("ponyswarm-{}-envwork-{key}", self.owner.run);
        let request = policy::tmpfs_volume(&work, req.limits.disk, self.owner.labels());
        self.docker
            .create_volume(request)
            .await
            .map_err(|e| EnvError::Docker(format!("docker: create volume {work}: {e}")))?;
        let result = self.build_in(&work, key, image, req).await;
        // Both containers that mounted it are gone: its memory goes with it.
        self.remove_volume(&work).await;
        result
    }

    async fn build_in(
        &self,
        work: &str,
        key: &str,
        image: &str,
        req: &EnvRequest,
    ) -> Result<Environment, EnvError> {
        let docker_err = |e: &dyn std::fmt::Display| EnvError::Docker(e.to_string());
        // The install runs confined as a job is (read-only root, capped work areas, no
        // network): the project's build code runs here. The work area is a tmpfs,
        // added to the memory limit as a job's is: what is written is held in memory.
        let side = side_area(req.limits.disk);
        let config = SandboxBuilder::new(&req.image)
            .command(vec![
                "/bin/sh".into(),
                "-c".into(),
                source::unpack_then_idle(),
            ])
            .stdin()
            .working_dir(WORK)
            .network(NetworkAccess::None)
            .volume(work, WORK, true)
            .scratch(HOME, side)
            .tmp_size(Some(side))
            .volume(&req.wheels, WHEELS, false)
            .env(req.env.clone())
            .memory_limit(req.limits.memory.saturating_add(req.limits.disk))
            .cpu_limit(req.limits.cpus)
            .pids_limit(req.limits.pids)
            .labels(self.owner.labels())
            .build()
            .map_err(|e| docker_err(&e))?;
        let name = format!("ponyswarm-{}-env-{key}", self.owner.run);
        let container = Container::create(&self.docker, &self.tracker, &name, config)
            .await
            .map_err(|e| docker_err(&e))?;
        let (digest, manifest) = {
            let (tree, files) = (req.source.clone(), req.files.clone());
            tokio::task::spawn_blocking(move || {
                let manifest = source::manifest(&tree, &files).ok();
                (source_digest(&tree, &files), manifest)
            })
            .await
            .map_err(|e| docker_err(&e))?
        };
        let started = Instant::now();
        let built = Building {
            container: &container,
            req,
            log: String::new(),
            oom: None,
        }
        .run()
        .await;
        let result = match built {
            Ok(Built {
                changes,
                wrote_source,
                uv,
                top_level,
                log,
            }) => {
                let mut labels = env_labels(key, &changes, &digest, wrote_source, uv);
                let installed = top_level
                    .zip(manifest)
                    .and_then(|(top_level, files)| InstalledSource { top_level, files }.encode());
                if let Some(label) = installed {
                    labels.insert(INSTALLED_SOURCE_LABEL.to_string(), label);
                }
                labels.insert(WHEELS_CONTENT_LABEL.to_string(), req.wheels_content.clone());
                if let Some(warm) = self.warm_key_of(req).await {
                    labels.insert(WARM_LABEL.to_string(), warm);
                }
                let installed = started.elapsed();
                self.keep(&container, work, req, key, image, labels)
                    .await
                    .map(|labels| {
                        let mut env = from_labels(image, &labels);
                        env.built = true;
                        let total = started.elapsed();
                        env.log = format!(
                            "{log}ponyswarm: environment built in {:.1}s (venv kept in its volume in {:.1}s)\n",
                            total.as_secs_f64(),
                            (total - installed).as_secs_f64()
                        );
                        env
                    })
            }
            Err(e) => Err(e),
        };
        let _ = container.remove().await;
        result
    }

    /// The warm key of the environment `req` builds; `None` when the wheelhouse volume
    /// cannot be inspected (the image is then found by its key only).
    async fn warm_key_of(&self, req: &EnvRequest) -> Option<String> {
        let deps = self
            .scope
            .key(&req.image_id, &req.install, &req.source, &req.files);
        let created = self
            .docker
            .inspect_volume(&req.wheels)
            .await
            .ok()?
            .created_at?;
        Some(warm_key(
            &req.image_id,
            &req.python,
            &req.install,
            &deps,
            &req.wheels,
            &created,
        ))
    }

    /// Copies the venv of `built` into a new volume and commits, with `labels` and
    /// the volume's name and size, the container that copied it as `image`.
    ///
    /// The copy is made by a container of the Python image running only ponyswarm's
    /// own commands, with the build's work area (`work`, a tmpfs: the copy is bounded
    /// by its cap) mounted read-only and the new volume writable. Once it has started,
    /// holding the tmpfs mounted, the build container is killed: no code of the
    /// project or its dependencies runs while the volume is writable. The volume is
    /// named for the run too, so that two runs building the same key at once never
    /// write into one volume. Returns the labels committed.
    async fn keep(
        &self,
        built: &Container,
        work: &str,
        req: &EnvRequest,
        key: &str,
        image: &str,
        mut labels: HashMap<String, String>,
    ) -> Result<HashMap<String, String>, EnvError> {
        let docker_err = |e: &dyn std::fmt::Display| EnvError::Docker(e.to_string());
        let volume = format!("ponyswarm-env-{key}-{}", self.owner.run);
        self.create_volume(&volume, key).await?;
        let config = SandboxBuilder::new(&req.image)
            .command(vec!["sleep".into(), "infinity".into()])
            .network(NetworkAccess::None)
            // Only the upload below writes to it (the volume's owner), and only
            // ponyswarm's own commands run here.
            .writable_root()
            .tmp_size(None)
            .volume(work, BUILT, false)
            .volume(&volume, ENV_VENV, true)
            .labels(self.owner.labels())
            .build()
            .map_err(|e| docker_err(&e))?;
        let name = format!("ponyswarm-{}-envstage-{key}", self.owner.run);
        let stage = Container::create(&self.docker, &self.tracker, &name, config)
            .await
            .map_err(|e| docker_err(&e))?;
        let copied = async {
            // A new volume's root belongs to root; a directory entry owned by uid 1000
            // extracted over it hands it to the sandbox user, who copies.
            stage
                .upload(
                    "/",
                    prepare::owned_dir_tar(ENV_VENV.trim_start_matches('/')),
                )
                .await
                .map_err(|e| docker_err(&e))?;
            stage.start().await.map_err(|e| docker_err(&e))?;
            built.kill().await.map_err(|e| docker_err(&e))?;
            let copy = format!("cp -a {BUILT}/venv/. {ENV_VENV}/ && du -s -b {ENV_VENV} | cut -f1");
            let mut out = Vec::new();
            let limits = ExecLimits {
                deadline: Some(req.deadline),
                no_output: None,
            };
            let end = stage
                .exec(&Exec::own_shell(copy), limits, &mut |b: &[u8]| {
                    if out.len() < MAX_OWN_OUTPUT {
                        out.extend_from_slice(b);
                    }
                })
                .await
                .map_err(|e| docker_err(&e))?;
            let out = String::from_utf8_lossy(&out);
            let bytes = match (end, out.trim().parse::<u64>()) {
                (ExecEnd::Exited(0), Ok(bytes)) => bytes,
                _ => {
                    return Err(EnvError::Docker(format!(
                        "copying the venv into its volume ended {end:?}: {}",
                        crate::shorten::shorten(out.trim(), 2000)
                    )))
                }
            };
            labels.insert(VENV_VOLUME_LABEL.to_string(), volume.clone());
            labels.insert(VENV_SIZE_LABEL.to_string(), bytes.to_string());
            Ok(())
        }
        .await;
        let _ = stage.remove().await;
        let result = match copied {
            Ok(()) => (self.record(key, &req.image, image, labels.clone()).await).map(|()| labels),
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.remove_volume(&volume).await;
        }
        result
    }

    /// Removes the volume `name`, if the engine will (one still in use stays).
    async fn remove_volume(&self, name: &str) {
        let opts = None::<bollard::query_parameters::RemoveVolumeOptions>;
        let _ = self.docker.remove_volume(name, opts).await;
    }

    /// Creates the venv volume of the environment `key`.
    async fn create_volume(&self, volume: &str, key: &str) -> Result<(), EnvError> {
        let request = bollard::models::VolumeCreateRequest {
            name: Some(volume.to_string()),
            labels: Some(HashMap::from([
                (labels::MANAGED.to_string(), "1".to_string()),
                (VENV_VOLUME_LABEL.to_string(), key.to_string()),
            ])),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(drop)
            .map_err(|e| EnvError::Docker(format!("docker: create volume {volume}: {e}")))
    }

    /// Tags `image`: the Python image `python` with `labels` added. Loaded as a new
    /// image whose layers are the Python image's ([`record_archive`]); an engine that
    /// cannot load an archive without its layers (the containerd image store wants
    /// every blob in it) gets a commit instead ([`env_images::commit_record`]).
    async fn record(
        &self,
        key: &str,
        python: &str,
        image: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), EnvError> {
        let Err(load) = self.load_record(python, image, labels.clone()).await else {
            return Ok(());
        };
        // Named for the key too: the run's environments may be recorded at once.
        let name = format!("ponyswarm-{}-envrecord-{key}", self.owner.run);
        env_images::commit_record(&self.docker, &self.tracker, &name, python, image, labels)
            .await
            .map_err(|e| EnvError::Docker(format!("{e} (loading it: {load})")))
    }

    /// [`Self::record`] by loading [`record_archive`]; checks that the image is there
    /// with its key afterwards.
    async fn load_record(
        &self,
        python: &str,
        image: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), String> {
        let key = labels.get(ENV_LABEL).cloned();
        let base = (self.docker.inspect_image(python).await).map_err(|e| format!("docker: {e}"))?;
        let created = crate::time::timestamp(std::time::SystemTime::now());
        let archive = record_archive(&base, image, labels, &created)?;
        let opts = bollard::query_parameters::ImportImageOptionsBuilder::new()
            .quiet(true)
            .build();
        let mut loading = self
            .docker
            .import_image(opts, bollard::body_full(archive.into()), None);
        while let Some(said) = loading.next().await {
            said.map_err(|e| format!("docker: load the environment image {image}: {e}"))?;
        }
        let loaded = (self.docker.inspect_image(image).await)
            .map_err(|e| format!("docker: the loaded environment image {image}: {e}"))?;
        let labels = loaded.config.and_then(|c| c.labels).unwrap_or_default();
        match labels.get(ENV_LABEL) == key.as_ref() {
            true => Ok(()),
            false => Err(format!("docker: {image} was not loaded with its labels")),
        }
    }
}

/// An image archive, as `docker save` writes one, of `image`: the image `base` (as
/// inspected) with `labels` over its own, made at `created`. It holds no layer: the
/// engine's load takes a layer it has already (the base's, all of them) without
/// reading it from the archive.
///
/// Why not a commit of a container: committing walks the whole root filesystem of the
/// base through the storage driver to find the (empty) difference, seconds per
/// environment on fuse-overlayfs; this load is a few milliseconds on any driver, and
/// labels of any size travel in the image's configuration, not in a query string.
fn record_archive(
    base: &bollard::models::ImageInspect,
    image: &str,
    labels: HashMap<String, String>,
    created: &str,
) -> Result<Vec<u8>, String> {
    let mut config = base.config.clone().unwrap_or_default();
    config
        .labels
        .get_or_insert_with(HashMap::new)
        .extend(labels);
    let diff_ids = base
        .root_fs
        .as_ref()
        .and_then(|r| r.layers.clone())
        .filter(|l| !l.is_empty())
        .ok_or("the Python image lists no layers")?;
    let json = serde_json::to_vec(&serde_json::json!({
        "architecture": base.architecture,
        "os": base.os,
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "created": created,
    }))
    .map_err(|e| e.to_string())?;
    let config_name = format!("{}.json", hex::encode(Sha256::digest(&json)));
    let layers: Vec<String> = (0..diff_ids.len())
        .map(|i| format!("{i}/layer.tar"))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": [image],
        "Layers": layers,
    }]))
    .map_err(|e| e.to_string())?;
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [(config_name.as_str(), &json), ("manifest.json", &manifest)] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, &data[..])
            .map_err(|e| e.to_string())?;
    }
    tar.into_inner().map_err(|e| e.to_string())
}

/// The labels of a new environment image.
fn env_labels(
    key: &str,
    changes: &[(String, ChangeKind)],
    digest: &str,
    wrote_source: bool,
    uv: bool,
) -> HashMap<String, String> {
    HashMap::from([
        (labels::MANAGED.to_string(), "1".to_string()),
        (ENV_LABEL.to_string(), key.to_string()),
        (CHANGES_LABEL.to_string(), encode_changes(changes)),
        (SOURCE_LABEL.to_string(), digest.to_string()),
        (
            WROTE_SOURCE_LABEL.to_string(),
            if wrote_source { "1" } else { "0" }.to_string(),
        ),
        (
            INSTALLER_LABEL.to_string(),
            if uv { "uv" } else { "pip" }.to_string(),
        ),
    ])
}

/// An environment as its image's labels describe it.
fn from_labels(image: &str, labels: &HashMap<String, String>) -> Environment {
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    Environment {
        image: image.to_string(),
        built: false,
        changes: decode_changes(&get(CHANGES_LABEL)).unwrap_or_default(),
        source_digest: get(SOURCE_LABEL),
        // Missing: assume the worst, the project is installed again.
        wrote_source: get(WROTE_SOURCE_LABEL) != "0",
        installed_source: labels
            .get(INSTALLED_SOURCE_LABEL)
            .and_then(|l| InstalledSource::decode(l)),
        uv: get(INSTALLER_LABEL) == "uv",
        venv_volume: labels.get(VENV_VOLUME_LABEL).cloned(),
        log: String::new(),
    }
}

/// Changes as a label value: JSON, gzipped, in hex (a venv's thousands of paths
/// compress well).
fn encode_changes(changes: &[(String, ChangeKind)]) -> String {
    let json = serde_json::to_vec(changes).unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    match gz.write_all(&json).and_then(|()| gz.finish()) {
        Ok(bytes) => hex::encode(bytes),
        Err(_) => String::new(),
    }
}

/// The changes of a label value; `None` when it cannot be read.
fn decode_changes(label: &str) -> Option<Vec<(String, ChangeKind)>> {
    let bytes = hex::decode(label).ok()?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut json)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// Whether the install made something in the source tree that a job's fresh copy
/// lacks and needs (an extension built in place): a change under it other than the
/// metadata and caches builds leave behind (`*.egg-info`, `__pycache__`, `build/`) and
/// the directories above them.
fn writes_into_source(changes: &[(String, ChangeKind)]) -> bool {
    let prefix = format!("{SRC}/");
    let left_behind = |rel: &str| {
        rel == "build"
            || rel.starts_with("build/")
            || rel
                .split('/')
                .any(|part| part == "__pycache__" || part.ends_with(".egg-info"))
    };
    let is_parent = |path: &str| {
        changes
            .iter()
            .any(|(other, _)| other.len() > path.len() && other.starts_with(&format!("{path}/")))
    };
    changes.iter().any(|(path, kind)| {
        let Some(rel) = path.strip_prefix(&prefix) else {
            return false;
        };
        let above_others = *kind == ChangeKind::Changed && is_parent(path);
        !(left_behind(rel) || above_others)
    })
}

/// One build in progress in its container.
struct Building<'a> {
    container: &'a Container,
    req: &'a EnvRequest,
    log: String,
    oom: Option<OomWatch>,
}

/// What a build that succeeded made.
struct Built {
    changes: Vec<(String, ChangeKind)>,
    wrote_source: bool,
    uv: bool,
    /// The top-level names of the project installed not editable, when known.
    top_level: Option<Vec<String>>,
    log: String,
}

impl Building<'_> {
    /// Installs: the venv and every `pip install` line uv can do with uv, the rest
    /// with pip (see `run::uv`).
    async fn run(mut self) -> Result<Built, EnvError> {
        let docker_err = |e: &dyn std::fmt::Display| EnvError::Docker(e.to_string());
        let source = source::tar_stream(
            self.req.source.clone(),
            "src",
            self.req.files.clone(),
            Vec::new(),
        );
        let fed = self.container.start_fed(source, source::READY);
        let fed = tokio::time::timeout_at(self.req.deadline, fed)
            .await
            .map_err(|_| {
                EnvError::Docker("the job's time ran out while its source was unpacked".into())
            })?;
        self.oom = Some(self.container.watch_oom());
        fed.map_err(|e| docker_err(&e))?;
        let uv = self.succeeds(uv::HAS_UV).await?;
        let before = self.listing().await;
        let venv = if uv {
            uv::venv_command(&self.req.python)
        } else {
            venv_command(&self.req.python)
        };
        self.log.push_str(&format!(
            "$ {} {VENV}  (pip from the wheelhouse)\n",
            if uv { "uv venv" } else { "python -m venv" }
        ));
        self.must(&venv, false).await?;
        // Whether pip installed something, which then needs compiling.
        let mut by_pip = !uv;
        for command in self.req.install.clone() {
            self.log.push_str(&format!("$ {command}\n"));
            let line = match uv.then(|| uv::translate(&command)).flatten() {
                Some(line) => {
                    self.log.push_str(&format!("  (with uv: {line})\n"));
                    line
                }
                None => {
                    by_pip = true;
                    command.clone()
                }
            };
            self.must_as(&command, &line, true).await?;
        }
        let changes = match (before, self.listing().await) {
            (Some(before), Some(after)) => areas::compare(&before, &after),
            _ => Vec::new(),
        };
        let wrote_source = writes_into_source(&changes);
        let top_level = self.top_level().await;
        // Byte-compiled once here rather than by every job: uv did so for what it
        // installed; after pip, compileall (files that do not compile, a package's
        // Python 2 test data, are left as they are). pip is left out: a job runs it
        // only to install its project again.
        if by_pip {
            let compile = format!(
                "{VENV}/bin/python -m compileall -q -j 0 -x '/pip/' {VENV} >/dev/null 2>&1; true"
            );
            self.must(&compile, false).await?;
        }
        Ok(Built {
            changes,
            wrote_source,
            uv,
            top_level,
            log: self.log,
        })
    }

    /// The top-level names the project installed not editable, read from the venv
    /// (see `run::installed`); `None` when there is none or in doubt.
    async fn top_level(&mut self) -> Option<Vec<String>> {
        let targets = project_targets(&self.req.install);
        if targets.iter().all(|t| t.editable) {
            return None;
        }
        let limits = ExecLimits {
            deadline: Some(self.req.deadline),
            no_output: None,
        };
        let mut out = Vec::new();
        let exec = Exec::shell(installed::inspect_command(VENV));
        let end = self
            .container
            .exec(&exec, limits, &mut |b: &[u8]| out.extend_from_slice(b))
            .await
            .ok()?;
        let found = (end == ExecEnd::Exited(0))
            .then(|| installed::top_level_of(&targets, &String::from_utf8_lossy(&out)))
            .flatten();
        if found.is_none() {
            self.log.push_str(
                "ponyswarm: the installed project's files are not known: \
                 any source change installs it again\n",
            );
        }
        found
    }

    /// Whether `line`, one of ponyswarm's own checks, exits 0.
    async fn succeeds(&mut self, line: &str) -> Result<bool, EnvError> {
        let limits = ExecLimits {
            deadline: Some(self.req.deadline),
            no_output: None,
        };
        let end = self
            .container
            .exec(&Exec::shell(line), limits, &mut |_: &[u8]| {})
            .await
            .map_err(|e| EnvError::Docker(e.to_string()))?;
        Ok(end == ExecEnd::Exited(0))
    }

    /// The writable areas' listing, or `None` with a line in the log.
    async fn listing(&mut self) -> Option<areas::Listing> {
        let limits = ExecLimits {
            deadline: Some(self.req.deadline),
            no_output: None,
        };
        match areas::list(self.container, BUILD_AREAS, limits).await {
            Ok(l) => Some(l),
            Err(e) => {
                self.log
                    .push_str(&format!("ponyswarm: install changes not recorded: {e}\n"));
                None
            }
        }
    }

    /// Runs `line` in the source tree; an end other than exit 0 fails the build. The
    /// no-output timeout applies when `quiet_limit` (the project's commands).
    async fn must(&mut self, line: &str, quiet_limit: bool) -> Result<(), EnvError> {
        self.must_as(line, line, quiet_limit).await
    }

    /// [`Self::must`] for `line` running in place of the project's `command` (which
    /// a failure names). A SIGKILL the kernel's OOM killer sent is
    /// [`EnvError::OutOfMemory`].
    async fn must_as(
        &mut self,
        command: &str,
        line: &str,
        quiet_limit: bool,
    ) -> Result<(), EnvError> {
        let mut exec = Exec::shell(line);
        exec.working_dir = Some(SRC.to_string());
        let limits = ExecLimits {
            deadline: Some(self.req.deadline),
            no_output: quiet_limit.then_some(self.req.limits.no_output_timeout),
        };
        let mut out = Vec::new();
        let end = self
            .container
            .exec(&exec, limits, &mut |b: &[u8]| {
                out.extend_from_slice(b);
                if out.len() > MAX_BUILD_LOG {
                    out.drain(..out.len() - MAX_BUILD_LOG);
                }
            })
            .await
            .map_err(|e| EnvError::Docker(e.to_string()))?;
        self.log.push_str(&String::from_utf8_lossy(&out));
        if end == ExecEnd::Exited(0) {
            return Ok(());
        }
        if let ExecEnd::Exited(code) = end {
            self.log.push_str(&format!("ponyswarm: exit code {code}\n"));
        }
        if end == ExecEnd::Exited(137) && self.oom_killed().await {
            self.log
                .push_str("ponyswarm: killed: out of memory while building the environment\n");
            return Err(EnvError::OutOfMemory {
                command: command.to_string(),
                log: std::mem::take(&mut self.log),
            });
        }
        Err(EnvError::Install {
            command: command.to_string(),
            end,
            log: std::mem::take(&mut self.log),
        })
    }

    /// Whether the kernel OOM-killed a process of the build container.
    async fn oom_killed(&self) -> bool {
        let seen = || self.oom.as_ref().is_some_and(OomWatch::seen);
        if !seen() {
            // The OOM event may trail the exit of the process it killed.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        seen() || matches!(self.container.state().await, Ok(s) if s.oom_killed == Some(true))
    }
}

/// Makes the venv. ensurepip takes seconds (it installs and byte-compiles pip and
/// setuptools); a venv without pip, with pip installed into it from the wheelhouse's
/// wheel, takes one. Without a pip wheel (a wheelhouse of an older ponyswarm),
/// ensurepip it is.
pub fn venv_command(python: &str) -> String {
    format!(
        "w=$(ls {WHEELS}/pip-*.whl 2>/dev/null | head -n 1); \
         if [ -n \"$w\" ]; then {python} -m venv --without-pip {VENV} && \
         {VENV}/bin/python \"$w/pip\" install --quiet --no-compile \"$w\"; \
         else {python} -m venv {VENV}; fi"
    )
}

/// The command that copies the environment's venv to `/work/venv`, for a job that
/// installs its project again into it; a job that does not gets a link there instead,
/// with its source (see [`venv_name`]).
pub fn venv_copy_command() -> String {
    format!("cp -a {ENV_VENV} {VENV}")
}

/// `/work/venv` as a name inside `/work`, where the source is uploaded: the link to
/// the environment's venv travels in the same archive.
pub fn venv_name() -> String {
    VENV.strip_prefix(WORK)
        .map(|rest| rest.trim_start_matches('/').to_string())
        .unwrap_or_else(|| "venv".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    /// The files of a tar, by name.
    fn tar_files(archive: &[u8]) -> HashMap<String, Vec<u8>> {
        let mut out = HashMap::new();
        for entry in tar::Archive::new(archive).entries().expect("tar") {
            let mut entry = entry.expect("entry");
            let name = entry.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            out.insert(name, data);
        }
        out
    }

    #[test]
    fn the_record_is_the_base_image_with_the_labels_and_no_layer_of_its_own() {
        let base = bollard::models::ImageInspect {
            architecture: Some("amd64".into()),
            os: Some("linux".into()),
            config: Some(bollard::models::ImageConfig {
                cmd: Some(v(&["python3"])),
                env: Some(v(&["PATH=/usr/bin"])),
                labels: Some(HashMap::from([
                    ("io.ponyswarm.image".to_string(), "python-3.11".to_string()),
                    (ENV_LABEL.to_string(), "stale".to_string()),
                ])),
                ..Default::default()
            }),
            root_fs: Some(bollard::models::ImageInspectRootFs {
                typ: "layers".into(),
                layers: Some(v(&["sha256:aa", "sha256:bb"])),
            }),
            ..Default::default()
        };
        let labels = HashMap::from([(ENV_LABEL.to_string(), "k1".to_string())]);
        let archive = record_archive(&base, "ponyswarm/env:k1", labels, "2026-11-30T17:00:00Z")
            .expect("archive");
        let files = tar_files(&archive);
        let manifest: serde_json::Value =
            serde_json::from_slice(&files["manifest.json"]).expect("manifest");
        let config_name = manifest[0]["Config"].as_str().expect("config name");
        assert_eq!(
            manifest[0]["RepoTags"],
            serde_json::json!(["ponyswarm/env:k1"])
        );
        // One entry per layer of the base, none of them in the archive: the engine has
        // them already.
        assert_eq!(manifest[0]["Layers"].as_array().map(Vec::len), Some(2));
        assert_eq!(files.len(), 2, "{:?}", files.keys());
        let json = &files[config_name];
        // Named by its digest, as the engine names image configurations.
        assert_eq!(
            config_name,
            format!("{}.json", hex::encode(Sha256::digest(json)))
        );
        let config: serde_json::Value = serde_json::from_slice(json).expect("config");
        assert_eq!(
            config["rootfs"],
            serde_json::json!({"type": "layers", "diff_ids": ["sha256:aa", "sha256:bb"]})
        );
        assert_eq!(config["config"]["Cmd"], serde_json::json!(["python3"]));
        assert_eq!(config["config"]["Labels"][ENV_LABEL], "k1");
        assert_eq!(
            config["config"]["Labels"]["io.ponyswarm.image"],
            "python-3.11"
        );
        assert_eq!(config["created"], "2026-11-30T17:00:00Z");
        let without_layers = bollard::models::ImageInspect {
            root_fs: None,
            ..base
        };
        let refused = record_archive(&without_layers, "x", HashMap::new(), "");
        assert!(refused.is_err());
    }

    #[test]
    fn environment_keys_differ_by_trust_and_cutoff_only() {
        use crate::run::prepare::Trust;
        let dir = tempfile::tempdir().expect("tempdir");
        let req = EnvRequest {
            image: "python:3.11".into(),
            image_id: "sha256:1".into(),
            python: "python3.11".into(),
            install: v(&["pip install -e ."]),
            source: dir.path().to_path_buf(),
            files: Vec::new(),
            wheels: "ponyswarm-wheels-x".into(),
            wheels_content: "c".into(),
            env: Vec::new(),
            limits: Limits::default(),
            deadline: Instant::now(),
        };
        let scope = |trust, cutoff: Option<&str>| WheelhouseScope {
            trust,
            cutoff: cutoff.map(str::to_string),
        };
        let scopes = [
            scope(Trust::Trusted, None),
            scope(Trust::Untrusted, None),
            scope(Trust::Trusted, Some("2024-01-01T00:00:00Z")),
            scope(Trust::Untrusted, Some("2024-01-01T00:00:00Z")),
            scope(Trust::Trusted, Some("2025-01-01T00:00:00Z")),
        ];
        let keys: Vec<String> = scopes.iter().map(|s| key(s, &req)).collect();
        for (i, a) in keys.iter().enumerate() {
            assert_eq!(a, &key(&scopes[i], &req), "stable");
            for (j, b) in keys.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{:?} and {:?} share a key", scopes[i], scopes[j]);
            }
        }
    }

    #[test]
    fn changes_survive_the_label() {
        let changes = vec![
            ("/work/venv/bin/x".to_string(), ChangeKind::Added),
            ("/home/pony/.evil".to_string(), ChangeKind::Changed),
            ("/tmp/gone".to_string(), ChangeKind::Deleted),
        ];
        assert_eq!(decode_changes(&encode_changes(&changes)), Some(changes));
        assert_eq!(decode_changes("not hex"), None);
    }

    #[test]
    fn only_products_in_the_source_tree_count_as_writes_into_it() {
        let c = |items: &[(&str, ChangeKind)]| -> Vec<(String, ChangeKind)> {
            items.iter().map(|(p, k)| (p.to_string(), *k)).collect()
        };
        use ChangeKind::*;
        let cases: &[(&[(&str, ChangeKind)], bool)] = &[
            (&[], false),
            (
                &[("/work/venv/lib/x.py", Added), ("/home/pony/.x", Added)],
                false,
            ),
            (
                &[
                    ("/work/src/src", Changed),
                    ("/work/src/src/ponylib.egg-info", Added),
                    ("/work/src/src/ponylib.egg-info/PKG-INFO", Added),
                ],
                false,
            ),
            (
                &[
                    ("/work/src/build/lib/x.py", Added),
                    ("/work/src/build", Added),
                ],
                false,
            ),
            (&[("/work/src/pkg/__pycache__/a.pyc", Added)], false),
            (
                &[
                    ("/work/src/pkg", Changed),
                    ("/work/src/pkg/_speedups.so", Added),
                ],
                true,
            ),
            (&[("/work/src/version.py", Changed)], true),
        ];
        for (changes, want) in cases {
            assert_eq!(writes_into_source(&c(changes)), *want, "{changes:?}");
        }
    }

    #[test]
    fn project_is_installed_again_with_uv_when_the_venv_was_made_by_uv() {
        let uv = "uv pip install --offline --no-cache --no-index --find-links /wheels \
                  --python /work/venv/bin/python --compile-bytecode --no-deps --reinstall";
        assert_eq!(
            project_reinstall(&v(&["pip install -e .[test]"]), false, true, true),
            v(&[&format!("{uv} --editable '.[test]'")])
        );
        assert_eq!(
            project_reinstall(&v(&["pip install ."]), true, false, true),
            v(&[&format!("{uv} .")])
        );
        assert!(project_reinstall(&v(&["pip install ."]), false, false, true).is_empty());
    }

    #[test]
    fn project_is_installed_again_only_when_stale() {
        let editable = v(&["pip install -e .[test]"]);
        let plain = v(&["pip install .[test] pytest"]);
        let deps_only = v(&["pip install -r requirements.txt pytest"]);
        let cases: &[(&[String], bool, bool, &[&str])] = &[
            (&editable, false, false, &[]),
            // Editable: the venv points at the source, whatever it holds now.
            (&editable, true, false, &[]),
            (
                &editable,
                false,
                true,
                &["python -m pip install --no-deps --force-reinstall -e '.[test]'"],
            ),
            (&plain, false, false, &[]),
            (
                &plain,
                true,
                false,
                &["python -m pip install --no-deps --force-reinstall '.[test]'"],
            ),
            (&deps_only, true, true, &[]),
        ];
        for (install, changed, wrote, want) in cases {
            assert_eq!(
                project_reinstall(install, *changed, *wrote, false),
                v(want),
                "{install:?} changed={changed} wrote={wrote}"
            );
        }
    }
}
