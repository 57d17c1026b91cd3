//! The prepare phase: fill a wheelhouse (a Docker volume of wheels) with everything a
//! job's install commands need, with the network on, so install and tests can run with
//! the network off.
//!
//! A wheelhouse is keyed by (Python image id, install commands, dependency files of the
//! source) and reused by later runs: a second run of the same matrix fetches nothing.
//! Jobs of one run with the same key share one prepare.
//!
//! What runs with the network: `pip download` for each `pip install` of the install
//! commands (other commands are not run here), the build requirements of the project,
//! and `pip wheel` for the sdists among the downloads. The project's own code runs only
//! as far as pip needs it to read its metadata.

use super::once_per_key::OncePerKey;
use crate::run::pip::{build_requires, download_args, referenced_files, RewriteError};
use crate::sandbox::container::{Container, ContainerError, Exec, ExecEnd, ExecLimits, Tracker};
use crate::sandbox::egress::Egress;
use crate::sandbox::labels;
use crate::sandbox::policy::{NetworkAccess, PolicyError, SandboxBuilder};
use bollard::models::VolumeCreateRequest;
use bollard::Docker;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// Where the wheelhouse is mounted.
pub const WHEELS: &str = "/wheels";
/// Written last: a wheelhouse without it is incomplete and is filled again.
const MARKER: &str = "/wheels/.ponyswarm-complete";
/// Label on wheelhouse volumes: the key. They carry no run label, so `ponyswarm
/// clean` keeps them unless asked to remove everything.
pub const WHEELHOUSE_LABEL: &str = "io.ponyswarm.wheelhouse";
/// Changes to how a wheelhouse is filled invalidate every earlier one.
const RECIPE: &str = "ponyswarm-wheelhouse-v2";

/// Whether a file at the top of the source tree is a dependency file (part of the key).
fn is_dependency_file(name: &str) -> bool {
    matches!(name, "pyproject.toml" | "setup.py" | "setup.cfg")
        || (name.starts_with("requirements") && name.ends_with(".txt"))
}

/// The wheelhouse key: a hash of the image id, the install commands and the dependency
/// files (read from `source`, overridden by `files` of the same path).
pub fn key(
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
    for part in [RECIPE, image_id] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for command in install {
        h.update(command.as_bytes());
        h.update([0]);
    }
    for name in names {
        let content = match files.iter().find(|(p, _)| *p == name) {
            Some((_, c)) => c.as_bytes().to_vec(),
            None => std::fs::read(source.join(&name)).unwrap_or_default(),
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
    owner: crate::sandbox::policy::Owner,
    slots: OncePerKey<Result<Wheelhouse, PrepareError>>,
}

impl Wheelhouses {
    /// Wheelhouses for a run; `owner` labels the prepare containers.
    pub fn new(
        docker: &Docker,
        tracker: &Tracker,
        egress: Egress,
        owner: crate::sandbox::policy::Owner,
    ) -> Self {
        Wheelhouses {
            docker: docker.clone(),
            tracker: tracker.clone(),
            egress,
            owner,
            slots: OncePerKey::default(),
        }
    }

    /// The wheelhouse for `req`, filled if needed. Concurrent callers with the same
    /// key wait for one prepare; all but the one that filled it see `cached`.
    pub async fn get(&self, req: &PrepareRequest) -> Result<Wheelhouse, PrepareError> {
        let key = key(&req.image_id, &req.install, &req.source, &req.files);
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
        let volume = volume_name(key);
        self.create_volume(&volume, key).await?;
        let name = format!("ponyswarm-{}-prep-{key}", self.owner.run);
        let config = SandboxBuilder::new(&req.image)
            .command(vec!["sleep".into(), "infinity".into()])
            .working_dir("/work")
            .network(NetworkAccess::Bridge)
            .binds(self.egress.binds())
            .env(self.egress.env())
            .volume(&volume, WHEELS, true)
            // The wheelhouse's owner is set by an upload to `/`, and the source goes
            // into `/work`; the fetch's writes are bounded by the job's deadline.
            .writable_root()
            .memory_limit(req.limits.memory)
            .cpu_limit(req.limits.cpus)
            .pids_limit(req.limits.pids)
            .labels(self.owner.labels())
            .build()?;
        let container = Container::create(&self.docker, &self.tracker, &name, config).await?;
        // A new volume's root belongs to root; a directory entry owned by uid 1000
        // extracted over it hands it to the sandbox user.
        container.upload("/", owned_dir_tar("wheels")).await?;
        container.start().await?;
        let deadline = started + req.timeout;
        let partial = format!("{WHEELS}/.partial-{}", self.owner.run);
        let result = Filling {
            container: &container,
            deadline,
            log: String::new(),
        }
        .run(req, &partial)
        .await;
        let _ = container.remove().await;
        let (cached, log, content) = result?;
        Ok(Wheelhouse {
            volume,
            cached,
            log,
            duration: started.elapsed(),
            content,
        })
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

/// One prepare in progress in its container.
struct Filling<'a> {
    container: &'a Container,
    deadline: Instant,
    log: String,
}

/// The venv pip runs from during prepare: the image's pip, at the version the job's
/// venv will have.
const PREP_VENV: &str = "/tmp/prepare-venv";

impl Filling<'_> {
    /// Returns whether the wheelhouse was complete already, the log, and the digest of
    /// its content (see [`Wheelhouse::content`]).
    ///
    /// Downloads go to a directory of this fill's own inside the volume and are moved
    /// into place at the end, so another process filling the same wheelhouse at the
    /// same time, or a fill killed half-way, never leaves a marker over missing files.
    async fn run(
        mut self,
        req: &PrepareRequest,
        partial: &str,
    ) -> Result<(bool, String, String), PrepareError> {
        let check = Exec::shell(format!("cat {MARKER}"));
        if let (0, content) = self.read(check).await? {
            self.log
                .push_str("wheelhouse complete already: nothing fetched\n");
            return Ok((true, self.log, content));
        }
        let downloads = downloads(req)?;
        let source = crate::run::source::tar_stream(req.source.clone(), "src", req.files.clone());
        self.container.upload("/work", source).await?;
        let setup = format!(
            "rm -rf {partial} && mkdir -p {partial} && {} -m venv {PREP_VENV}",
            req.python
        );
        self.must("venv", Exec::shell(setup)).await?;
        for args in downloads {
            let mut cmd: Vec<String> = [
                &format!("{PREP_VENV}/bin/python"),
                "-m",
                "pip",
                "download",
                "--dest",
                partial,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            cmd.extend(args.iter().cloned());
            let step = format!("pip download {}", shell_words::join(&args));
            let exec = Exec {
                cmd,
                env: pip_env(),
                working_dir: Some("/work/src".into()),
            };
            self.must(&step, exec).await?;
        }
        // Sdists among the downloads become wheels now, while their own build
        // requirements can still be fetched; the offline install then never builds.
        let wheel = format!(
            "set -e; for f in {partial}/*.tar.gz {partial}/*.zip {partial}/*.tar.bz2; do \
             [ -e \"$f\" ] || continue; \
             {PREP_VENV}/bin/python -m pip wheel --no-deps --wheel-dir {partial} \"$f\"; rm -f \"$f\"; done"
        );
        let mut exec = Exec::shell(wheel);
        exec.env = pip_env();
        self.must("pip wheel (sdists)", exec).await?;
        let publish = format!(
            "set -e; for f in {partial}/*; do [ -e \"$f\" ] && mv -f \"$f\" {WHEELS}/; done; rmdir {partial}; \
             find {WHEELS} -maxdepth 1 -type f ! -name '.*' -printf '%f %s\\n' | sort | sha256sum | cut -c1-16 > {MARKER}; \
             cat {MARKER}"
        );
        match self.read(Exec::shell(publish)).await? {
            (0, content) => Ok((false, self.log, content)),
            (code, _) => Err(PrepareError::Fetch {
                step: format!("publish (exit {code})"),
                log: std::mem::take(&mut self.log),
            }),
        }
    }

    /// Runs `exec` for its output (trimmed), not logged; the exit code with it.
    async fn read(&mut self, exec: Exec) -> Result<(i64, String), PrepareError> {
        let (code, out) = self.output(exec).await?;
        Ok((code, String::from_utf8_lossy(&out).trim().to_string()))
    }

    /// Runs `exec` as the step `step`, its output into the log.
    async fn step(&mut self, step: &str, exec: Exec) -> Result<i64, PrepareError> {
        self.log.push_str(&format!("$ {step}\n"));
        let (code, out) = self.output(exec).await?;
        self.log.push_str(&String::from_utf8_lossy(&out));
        Ok(code)
    }

    /// Runs `exec` by the deadline: its exit code and output.
    async fn output(&mut self, exec: Exec) -> Result<(i64, Vec<u8>), PrepareError> {
        let mut out = Vec::new();
        let limits = ExecLimits {
            deadline: Some(self.deadline),
            no_output: None,
        };
        let end = self
            .container
            .exec(&exec, limits, &mut |b: &[u8]| out.extend_from_slice(b))
            .await?;
        match end {
            ExecEnd::Exited(code) => Ok((code, out)),
            ExecEnd::TimedOut | ExecEnd::NoOutput(_) => {
                self.log.push_str(&String::from_utf8_lossy(&out));
                Err(PrepareError::Timeout {
                    log: std::mem::take(&mut self.log),
                })
            }
        }
    }

    async fn must(&mut self, step: &str, exec: Exec) -> Result<(), PrepareError> {
        match self.step(step, exec).await? {
            0 => Ok(()),
            code => Err(PrepareError::Fetch {
                step: format!("{step} (exit {code})"),
                log: std::mem::take(&mut self.log),
            }),
        }
    }
}

/// The `pip download` argument lists for `req`: one per `pip install` of its install
/// commands, and one for the project's build requirements and pip.
fn downloads(req: &PrepareRequest) -> Result<Vec<Vec<String>>, PrepareError> {
    let mut out = Vec::new();
    for command in &req.install {
        out.extend(download_args(command)?);
    }
    let pyproject = req
        .files
        .iter()
        .find(|(p, _)| p == "pyproject.toml")
        .map(|(_, c)| c.clone())
        .or_else(|| std::fs::read_to_string(req.source.join("pyproject.toml")).ok());
    let mut build = build_requires(pyproject.as_deref());
    // pip itself: jobs put it into a venv made without ensurepip (see `job`).
    build.push("pip".to_string());
    out.push(build);
    Ok(out)
}

fn pip_env() -> Vec<String> {
    vec![
        "PIP_DISABLE_PIP_VERSION_CHECK=1".into(),
        "PIP_NO_INPUT=1".into(),
        "PIP_PROGRESS_BAR=off".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn key_follows_dependency_files_not_code() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname='a'\n").unwrap();
        std::fs::write(dir.path().join("code.py"), "x = 1\n").unwrap();
        let install = v(&["pip install -e ."]);
        let k1 = key("sha256:1", &install, dir.path(), &[]);
        std::fs::write(dir.path().join("code.py"), "x = 2\n").unwrap();
        assert_eq!(k1, key("sha256:1", &install, dir.path(), &[]));
        assert_ne!(k1, key("sha256:2", &install, dir.path(), &[]));
        assert_ne!(k1, key("sha256:1", &v(&["pip install ."]), dir.path(), &[]));
        std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname='b'\n").unwrap();
        assert_ne!(k1, key("sha256:1", &install, dir.path(), &[]));
        let files = vec![("requirements.txt".to_string(), "x\n".to_string())];
        assert_ne!(k1, key("sha256:1", &install, dir.path(), &files));
    }
}
