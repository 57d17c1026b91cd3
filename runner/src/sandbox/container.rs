//! A sandboxed container and what ponyswarm does with one: start it with an idle pid 1
//! (or one that first unpacks an archive fed to its stdin), run commands in it with
//! their output streamed and their time bounded, copy files in (tar streams) and out,
//! and tell whether the kernel OOM-killed something in it.
//!
//! Ownership: every container is owned by a [`Container`] guard and recorded in the
//! run's [`Tracker`]. A guard removes its container when told ([`Container::remove`]),
//! or, when dropped without that (a job future cancelled on Ctrl-C), spawns the
//! removal; the run then awaits [`Tracker::teardown`] so nothing is left to chance
//! before it returns.

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ContainerState};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder,
    DownloadFromContainerOptionsBuilder, EventsOptionsBuilder, KillContainerOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

use crate::sandbox::docker::for_long_calls;

/// A Docker call about a container failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The Docker Engine refused or failed a request.
    #[error("docker: {what} {name}: {source}")]
    Docker {
        /// What was being done (`create`, `exec in`, `upload to`…).
        what: &'static str,
        /// The container's name.
        name: String,
        /// What the engine said.
        #[source]
        source: bollard::errors::Error,
    },
    /// Pid 1 ended before it said it was ready (see [`Container::start_fed`]).
    #[error("{name} ended before it was ready: {output}")]
    NotReady {
        /// The container's name.
        name: String,
        /// What it printed, its first 2,000 characters.
        output: String,
    },
    /// An archive copied out of the container could not be read.
    #[error("reading {path} from {name}: {source}")]
    Archive {
        /// The container's name.
        name: String,
        /// The path inside the container.
        path: String,
        /// The tar error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether `e` is Docker's "no such object" (already gone: removal succeeded).
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Every container and network a run has created and not yet removed, so the run can
/// remove them all on Ctrl-C and on errors. Cheap to clone; clones share the record.
#[derive(Clone)]
pub struct Tracker {
    docker: Docker,
    live: Arc<Mutex<Live>>,
}

#[derive(Default)]
struct Live {
    containers: BTreeSet<String>,
    networks: BTreeSet<String>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Tracker")
            .field("containers", &live.containers)
            .field("networks", &live.networks)
            .finish()
    }
}

impl Tracker {
    /// An empty record for objects created through `docker`.
    pub fn new(docker: &Docker) -> Self {
        Tracker {
            docker: docker.clone(),
            live: Arc::default(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Live) -> R) -> R {
        f(&mut self.live.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records a container (by name: known before the engine answers the create).
    pub(crate) fn add_container(&self, name: &str) {
        self.with(|l| l.containers.insert(name.to_string()));
    }

    pub(crate) fn forget_container(&self, name: &str) {
        self.with(|l| l.containers.remove(name));
    }

    /// Records a network (by name).
    pub(crate) fn add_network(&self, name: &str) {
        self.with(|l| l.networks.insert(name.to_string()));
    }

    pub(crate) fn forget_network(&self, name: &str) {
        self.with(|l| l.networks.remove(name));
    }

    /// How many objects are still recorded (for tests and the end-of-run check).
    pub fn live_count(&self) -> usize {
        self.with(|l| l.containers.len() + l.networks.len())
    }

    /// Removes every recorded container, then every recorded network (a network can
    /// only go once its containers have). Returns what could not be removed.
    pub async fn teardown(&self) -> Vec<String> {
        let containers: Vec<String> = self.with(|l| l.containers.iter().cloned().collect());
        let removals = containers
            .iter()
            .map(|name| remove_container(&self.docker, name));
        let mut failed = Vec::new();
        for (name, result) in containers
            .iter()
            .zip(futures_util::future::join_all(removals).await)
        {
            match result {
                Ok(()) => self.forget_container(name),
                Err(e) => failed.push(format!("container {name}: {e}")),
            }
        }
        let networks: Vec<String> = self.with(|l| l.networks.iter().cloned().collect());
        for name in networks {
            match remove_network(&self.docker, &name).await {
                Ok(()) => self.forget_network(&name),
                Err(e) => failed.push(format!("network {name}: {e}")),
            }
        }
        failed
    }
}

/// Force-removes a container with its anonymous volumes; gone already is fine, and a
/// removal already under way (another guard's) is waited for.
pub async fn remove_container(docker: &Docker, name: &str) -> Result<(), bollard::errors::Error> {
    let mut attempts = 0;
    loop {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(name, Some(opts)).await {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                ref message,
            }) if message.contains("in progress") && attempts < 20 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) if !is_not_found(&e) => return Err(e),
            _ => return Ok(()),
        }
    }
}

/// Removes a network; gone already is fine.
pub async fn remove_network(docker: &Docker, name: &str) -> Result<(), bollard::errors::Error> {
    match docker.remove_network(name).await {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

/// A command to run in a container.
#[derive(Debug, Clone, Default)]
pub struct Exec {
    /// The argv; see [`Exec::shell`] and [`Exec::own_shell`] for a shell line.
    pub cmd: Vec<String>,
    /// `NAME=value` pairs added to the container's environment.
    pub env: Vec<String>,
    /// Working directory; default: the container's.
    pub working_dir: Option<String>,
}

/// The PATH of ponyswarm's own commands inside a job's containers: system directories
/// only, none a job can write to (the root filesystem is read-only, the venv is not on
/// it), so a job cannot put its own `find` or `sha256sum` in their place.
pub const OWN_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

impl Exec {
    /// A shell line run by `/bin/sh -c`, with the container's environment: for the
    /// project's commands.
    pub fn shell(line: impl Into<String>) -> Self {
        Exec {
            cmd: vec!["/bin/sh".into(), "-c".into(), line.into()],
            ..Default::default()
        }
    }

    /// A shell line of ponyswarm's own (listing files, checking the wheelhouse), run
    /// by `/bin/sh -c` with PATH set to [`OWN_PATH`], so that nothing a job wrote
    /// (in its venv, first on its PATH) runs in place of the commands it names.
    pub fn own_shell(line: impl Into<String>) -> Self {
        Exec {
            env: vec![format!("PATH={OWN_PATH}")],
            ..Exec::shell(line)
        }
    }
}

/// Time bounds for an [`Exec`]. Either bound kills the whole container when it trips,
/// so a process that ignores SIGTERM, or a child that outlives its parent, ends too.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecLimits {
    /// Wall-clock deadline.
    pub deadline: Option<Instant>,
    /// Longest time without any output.
    pub no_output: Option<Duration>,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecEnd {
    /// It exited with this code (128+N when killed by signal N).
    Exited(i64),
    /// The deadline passed; the container was killed.
    TimedOut,
    /// It printed nothing for this long; the container was killed.
    NoOutput(Duration),
}

/// After the command's own process has exited, how long to keep reading output that
/// a child holding its stdout may still print, before leaving it behind.
const EXIT_GRACE: Duration = Duration::from_millis(1500);
/// How often to ask the engine whether the command's process has exited.
const EXEC_POLL: Duration = Duration::from_millis(1000);

/// Whether an exec's process has exited. Not running is not enough: an exec the engine
/// has not started yet is not running either, and has no exit code.
fn has_exited(inspect: &bollard::models::ExecInspectResponse) -> bool {
    inspect.running == Some(false) && inspect.exit_code.is_some()
}

/// A container owned by ponyswarm, removed when this guard is removed or dropped.
#[derive(Debug)]
pub struct Container {
    docker: Docker,
    tracker: Tracker,
    name: String,
    removed: bool,
}

impl Container {
    /// Creates (but does not start) a container called `name` from `config` (see
    /// [`crate::sandbox::policy::SandboxBuilder`]).
    pub async fn create(
        docker: &Docker,
        tracker: &Tracker,
        name: &str,
        config: ContainerCreateBody,
    ) -> Result<Container, ContainerError> {
        // Recorded before asking, so a create cancelled half-way is still removed.
        tracker.add_container(name);
        let guard = Container {
            docker: docker.clone(),
            tracker: tracker.clone(),
            name: name.to_string(),
            removed: false,
        };
        let opts = CreateContainerOptionsBuilder::new().name(name).build();
        docker
            .create_container(Some(opts), config)
            .await
            .map_err(|e| guard.err("create", e))?;
        Ok(guard)
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, what: &'static str, source: bollard::errors::Error) -> ContainerError {
        ContainerError::Docker {
            what,
            name: self.name.clone(),
            source,
        }
    }

    /// Starts it.
    pub async fn start(&self) -> Result<(), ContainerError> {
        self.docker
            .start_container(&self.name, None)
            .await
            .map_err(|e| self.err("start", e))
    }

    /// Starts it with `input` on pid 1's stdin (it must be made with
    /// [`crate::sandbox::policy::SandboxBuilder::stdin`]), closed at the input's end, and
    /// returns once pid 1 has printed the line `ready`: for a pid 1 that unpacks what it
    /// reads and then idles. An error reading `input` or pid 1 ending first is an error
    /// that says what it printed.
    ///
    /// Against starting it and then [`Container::upload`]ing: the same two round trips
    /// to the engine, but the archive is unpacked by pid 1 itself rather than by the
    /// engine's chrooted helper, which costs every job tens of milliseconds.
    pub async fn start_fed(
        &self,
        input: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
        ready: &str,
    ) -> Result<(), ContainerError> {
        use tokio::io::AsyncWriteExt;
        let opts = AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = self
            .docker
            .attach_container(&self.name, Some(opts))
            .await
            .map_err(|e| self.err("attach to", e))?;
        let (mut output, mut stdin) = (attached.output, attached.input);
        self.start().await?;
        let feed = async move {
            let mut input = std::pin::pin!(input);
            while let Some(chunk) = input.next().await {
                stdin.write_all(&chunk?).await?;
            }
            stdin.shutdown().await
        };
        let mut printed = Vec::new();
        let wait_ready = async {
            while let Some(Ok(chunk)) = output.next().await {
                printed.extend_from_slice(&chunk.into_bytes());
                if printed
                    .split(|&b| b == b'\n')
                    .any(|line| line == ready.as_bytes())
                {
                    return true;
                }
            }
            false
        };
        let (fed, is_ready) = tokio::join!(feed, wait_ready);
        if is_ready {
            // The archive was read to its end (pid 1 says so only then).
            return fed.map_err(|e| self.err("attach to", bollard::errors::Error::from(e)));
        }
        let said = String::from_utf8_lossy(&printed);
        let mut output = crate::shorten::shorten(said.trim(), 2000);
        if let Err(e) = fed {
            output = format!("{output} (writing its input: {e})");
        }
        Err(ContainerError::NotReady {
            name: self.name.clone(),
            output,
        })
    }

    /// Kills every process in it (SIGKILL to the whole container). Already stopped is
    /// fine.
    pub async fn kill(&self) -> Result<(), ContainerError> {
        let opts = KillContainerOptionsBuilder::new().signal("KILL").build();
        match self.docker.kill_container(&self.name, Some(opts)).await {
            Ok(()) => Ok(()),
            // 409: not running, which is what we wanted.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(self.err("kill", e)),
        }
    }

    /// Runs `exec` as the container's user, handing each chunk of its output (stdout
    /// and stderr interleaved as they come) to `sink`, within `limits`.
    pub async fn exec(
        &self,
        exec: &Exec,
        limits: ExecLimits,
        sink: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<ExecEnd, ContainerError> {
        let opts = CreateExecOptions::<String> {
            cmd: Some(exec.cmd.clone()),
            env: (!exec.env.is_empty()).then(|| exec.env.clone()),
            working_dir: exec.working_dir.clone(),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(&self.name, opts)
            .await
            .map_err(|e| self.err("exec in", e))?;
        let started = self
            .docker
            .start_exec(&created.id, None::<StartExecOptions>)
            .await
            .map_err(|e| self.err("exec in", e))?;
        let StartExecResults::Attached { mut output, .. } = started else {
            // Only a detached start answers so, and this one is attached.
            return Ok(ExecEnd::Exited(-1));
        };
        // The first ask a period after the start, not at once: most commands end
        // before it, their output's end telling so, and a short job's exec would pay
        // a round trip to the engine for nothing.
        let mut poll = tokio::time::interval_at(Instant::now() + EXEC_POLL, EXEC_POLL);
        let mut last_output = Instant::now();
        let mut exited_at: Option<Instant> = None;
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        loop {
            let quiet_at = limits.no_output.map_or(far, |d| last_output + d);
            let deadline = limits.deadline.unwrap_or(far);
            let grace_at = exited_at.map_or(far, |t| t + EXIT_GRACE);
            let wake = quiet_at.min(deadline).min(grace_at);
            tokio::select! {
                item = output.next() => match item {
                    Some(Ok(chunk)) => {
                        sink(&chunk.into_bytes());
                        last_output = Instant::now();
                    }
                    Some(Err(e)) => return Err(self.err("reading output of", e)),
                    None => break,
                },
                _ = poll.tick(), if exited_at.is_none() => {
                    let inspect = self.docker.inspect_exec(&created.id).await;
                    if matches!(inspect, Ok(ref i) if has_exited(i)) {
                        exited_at = Some(Instant::now());
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    if wake == grace_at {
                        // Its process is gone; a child keeps the pipe open. Leave it.
                        break;
                    }
                    self.kill().await?;
                    return Ok(if wake == deadline {
                        ExecEnd::TimedOut
                    } else {
                        ExecEnd::NoOutput(limits.no_output.unwrap_or_default())
                    });
                }
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| self.err("inspect exec in", e))?;
        // No exit code: the process did not finish (its container was killed under it).
        Ok(ExecEnd::Exited(inspect.exit_code.unwrap_or(137)))
    }

    /// Extracts the tar archive `tar` into the directory `path` (which must exist).
    /// Owners are taken from the archive's headers.
    pub async fn upload(
        &self,
        path: &str,
        tar: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Result<(), ContainerError> {
        let opts = UploadToContainerOptionsBuilder::new().path(path).build();
        // The engine answers only once it has read the whole archive: no two-minute cap.
        for_long_calls(&self.docker)
            .upload_to_container(&self.name, Some(opts), bollard::body_try_stream(tar))
            .await
            .map_err(|e| self.err("upload to", e))
    }

    /// The contents of the regular file at `path`, at most `max` bytes; `None` when
    /// there is no such file.
    pub async fn download_file(
        &self,
        path: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, ContainerError> {
        let opts = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let mut stream = self.docker.download_from_container(&self.name, Some(opts));
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => archive.extend_from_slice(&bytes),
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(self.err("download from", e)),
            }
            // The archive holds one file: its header plus at most `max` bytes.
            if archive.len() as u64 > max + 64 * 1024 {
                break;
            }
        }
        let arch_err = |source| ContainerError::Archive {
            name: self.name.clone(),
            path: path.to_string(),
            source,
        };
        // Docker writes the headers, but the name and the file are the container's.
        let mut tar = tar::Archive::new(crate::untar::HeaderGuard::new(
            archive.as_slice(),
            crate::untar::MAX_META_BYTES,
        ));
        let mut entries = tar.entries().map_err(arch_err)?;
        let Some(entry) = entries.next() else {
            return Ok(None);
        };
        let entry = entry.map_err(arch_err)?;
        if !entry.header().entry_type().is_file() {
            return Ok(None);
        }
        let mut contents = Vec::new();
        entry
            .take(max)
            .read_to_end(&mut contents)
            .map_err(arch_err)?;
        Ok(Some(contents))
    }

    /// The container's state (running, exit code, `oom_killed`, health).
    pub async fn state(&self) -> Result<ContainerState, ContainerError> {
        self.docker
            .inspect_container(&self.name, None)
            .await
            .map(|i| i.state.unwrap_or_default())
            .map_err(|e| self.err("inspect", e))
    }

    /// Starts watching the engine's events for the kernel OOM-killing any process of
    /// this container. Docker's `State.OOMKilled` only tells about pid 1 when the
    /// container exits, and a job's processes are not pid 1.
    pub fn watch_oom(&self) -> OomWatch {
        let seen = Arc::new(AtomicBool::new(false));
        let filters = HashMap::from([
            ("container".to_string(), vec![self.name.clone()]),
            ("event".to_string(), vec!["oom".to_string()]),
        ]);
        let opts = EventsOptionsBuilder::new().filters(&filters).build();
        let mut events = self.docker.events(Some(opts));
        let flag = seen.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(_)) = events.next().await {
                flag.store(true, Ordering::SeqCst);
            }
        });
        OomWatch { seen, task }
    }

    /// The last `lines` lines of pid 1's output, for error messages (empty when they
    /// cannot be had).
    pub async fn log_tail(&self, lines: usize) -> String {
        let opts = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(&self.name, Some(opts));
        let mut out = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            out.extend_from_slice(&chunk.into_bytes());
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Removes the container now (force: running or not) and waits for it.
    pub async fn remove(mut self) -> Result<(), ContainerError> {
        self.removed = true;
        remove_container(&self.docker, &self.name)
            .await
            .map_err(|e| self.err("remove", e))?;
        self.tracker.forget_container(&self.name);
        Ok(())
    }
}

/// Watches a container for OOM kills (see [`Container::watch_oom`]); stops watching
/// when dropped.
#[derive(Debug)]
pub struct OomWatch {
    seen: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl OomWatch {
    /// Whether the kernel has OOM-killed a process of the container so far. Events
    /// arrive asynchronously: ask after the command has ended (and, to be sure, a
    /// moment later).
    pub fn seen(&self) -> bool {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for OomWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // Dropped without `remove` (its job was cancelled): remove it in the
        // background. The tracker still lists it until that succeeds, and the run's
        // teardown awaits what is left.
        if !self.removed {
            remove_in_background(&self.docker, &self.tracker, &self.name, Leftover::Container);
        }
    }
}

/// What a guard dropped without its `remove` leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftover {
    /// A container.
    Container,
    /// A network: removed after a pause, as its containers go first.
    Network,
}

/// Removes the leftover `name` on the current Tokio runtime, if there is one, and
/// forgets it in `tracker` once it is gone. Without a runtime (dropped at shutdown),
/// the run's teardown or the next start's clean removes it.
pub(crate) fn remove_in_background(docker: &Docker, tracker: &Tracker, name: &str, what: Leftover) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let (docker, tracker, name) = (docker.clone(), tracker.clone(), name.to_string());
    handle.spawn(async move {
        let removed = match what {
            Leftover::Container => remove_container(&docker, &name).await.is_ok(),
            Leftover::Network => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                remove_network(&docker, &name).await.is_ok()
            }
        };
        if removed {
            match what {
                Leftover::Container => tracker.forget_container(&name),
                Leftover::Network => tracker.forget_network(&name),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ExecInspectResponse;

    #[test]
    fn an_exec_not_yet_started_has_not_exited() {
        let inspect = |running, exit_code| ExecInspectResponse {
            running: Some(running),
            exit_code,
            ..Default::default()
        };
        assert!(!has_exited(&inspect(false, None)), "not started yet");
        assert!(!has_exited(&inspect(true, None)));
        assert!(has_exited(&inspect(false, Some(0))));
        assert!(has_exited(&inspect(false, Some(137))));
    }
}
