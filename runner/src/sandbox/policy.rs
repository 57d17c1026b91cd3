//! The container policy: what a sandboxed container may do, written as a builder so the
//! policy reads at the call site (`SandboxBuilder::new(image).memory_limit(..)`), and
//! turned into the bollard create body by [`SandboxBuilder::build`].
//!
//! Pure: builds a config, talks to no one. Every default is the safe one; each knob
//! that weakens the sandbox says what it costs in a `## Security` paragraph.
//!
//! The root filesystem is read-only: a job writes only to size-capped areas (a work
//! area, `/tmp`, its home), so it cannot fill the host's disk through the container's
//! writable layer, which most storage drivers do not cap.
//!
//! What is never offered: privileged mode, added capabilities beyond the short list a
//! service's entrypoint needs, host namespaces, devices, and the Docker socket (binds
//! naming it are refused by [`SandboxBuilder::build`]).

use crate::sandbox::labels;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, NetworkingConfig,
};
use std::collections::HashMap;

/// The user sandboxed code runs as: `pony` (uid 1000) in the Python images.
pub const SANDBOX_USER: &str = "1000:1000";
/// The sandbox user's numeric uid and gid, owners of the writable areas.
pub const SANDBOX_UID: u32 = 1000;

/// Which network a container is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkAccess {
    /// No network at all (network mode `none`): only loopback. The default.
    #[default]
    None,
    /// A job's internal network (created with `internal: true`, so it has no route
    /// out): the job's services are reachable under their aliases, the internet is not.
    Internal {
        /// The network's name.
        network: String,
        /// Host names this container answers to on that network (a service's name).
        aliases: Vec<String>,
    },
    /// The network namespace of the container `holder` (network mode
    /// `container:<holder>`), as the containers of a pod share one: the job and its
    /// services reach each other on `localhost`, and the container has whatever
    /// network the holder has (a job's internal network, no route out). Its
    /// `/etc/hosts` is the holder's too, so the holder's [hosts](SandboxBuilder::hosts)
    /// name the services.
    Pod {
        /// The name or id of the container that owns the namespace.
        holder: String,
    },
    /// The default bridge: the internet, through whatever proxy the host has.
    ///
    /// ## Security
    /// Code in the container can reach anything the host can reach over the network.
    /// Only image builds and the dependency-fetch (prepare) phase get this; a job's
    /// install and tests never do.
    Bridge,
}

/// Who a container's objects belong to, written as labels (see [`labels`]) so that
/// `ponyswarm clean` and the next start can find leftovers of a killed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The run id.
    pub run: String,
    /// The job's index within the run; `None` for objects shared by the run.
    pub job: Option<usize>,
    /// The creating process: pid and its start time (see `run::clean`).
    pub pid: u32,
    /// The creating process's start time in clock ticks since boot, to tell a live
    /// process from a later one that reuses its pid. `None` off Linux.
    pub pid_start: Option<u64>,
}

/// Kept here too for callers that named it through the policy.
pub use crate::sandbox::labels::PID_START;

impl Owner {
    /// The labels every object of this owner carries.
    pub fn labels(&self) -> HashMap<String, String> {
        let mut l = HashMap::new();
        l.insert(labels::MANAGED.to_string(), "1".to_string());
        l.insert(labels::RUN.to_string(), self.run.clone());
        if let Some(job) = self.job {
            l.insert(labels::JOB.to_string(), job.to_string());
        }
        l.insert(labels::PID.to_string(), self.pid.to_string());
        if let Some(start) = self.pid_start {
            l.insert(PID_START.to_string(), start.to_string());
        }
        l
    }
}

/// A bind mount or named volume refused by the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Something tried to mount the Docker socket into a sandbox.
    #[error("refusing to mount the Docker socket into a sandbox ({0})")]
    DockerSocket(String),
}

/// Builds the configuration of a sandboxed container. Defaults: uid 1000, every
/// capability dropped, no-new-privileges, no network, 2 GiB of memory and no swap,
/// one CPU, 512 processes, tini as pid 1, a read-only root filesystem and a
/// size-capped `/tmp`.
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    image: String,
    cmd: Vec<String>,
    env: Vec<String>,
    working_dir: Option<String>,
    user: Option<String>,
    memory: i64,
    cpus: f64,
    pids: i64,
    network: NetworkAccess,
    hosts: Vec<(String, String)>,
    binds: Vec<String>,
    tmp_size: Option<u64>,
    writable_root: bool,
    work_areas: Vec<(String, u64)>,
    scratch: Vec<(String, u64)>,
    data_areas: Vec<(String, u64)>,
    service_capabilities: bool,
    stdin: bool,
    labels: HashMap<String, String>,
}

/// Capabilities a service image's entrypoint needs to set up its data directory and
/// drop to its own user (`chown`, then `setuid`); nothing that reaches the host.
const SERVICE_CAPABILITIES: &[&str] = &["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"];

impl SandboxBuilder {
    /// A sandbox for `image` with every default (see the type's doc).
    pub fn new(image: impl Into<String>) -> Self {
        SandboxBuilder {
            image: image.into(),
            cmd: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            user: Some(SANDBOX_USER.to_string()),
            memory: 2 << 30,
            cpus: 1.0,
            pids: 512,
            network: NetworkAccess::None,
            hosts: Vec::new(),
            binds: Vec::new(),
            tmp_size: Some(512 << 20),
            writable_root: false,
            work_areas: Vec::new(),
            scratch: Vec::new(),
            data_areas: Vec::new(),
            service_capabilities: false,
            stdin: false,
            labels: HashMap::new(),
        }
    }

    /// The command of pid 1 (under tini). Default: the image's own.
    pub fn command(mut self, cmd: Vec<String>) -> Self {
        self.cmd = cmd;
        self
    }

    /// Pid 1 reads a stream the starter attaches to it (see
    /// [`crate::sandbox::container::Container::start_fed`]); it sees the end of it when
    /// the starter closes it. Default: no stdin.
    pub fn stdin(mut self) -> Self {
        self.stdin = true;
        self
    }

    /// Environment variables (`NAME=value`) of the container and of every exec in it.
    pub fn env(mut self, env: impl IntoIterator<Item = String>) -> Self {
        self.env.extend(env);
        self
    }

    /// The working directory of pid 1.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Memory limit in bytes, swap included (swap is off: the limit is the limit).
    /// Default 2 GiB. A process that passes it is killed by the kernel, and the job
    /// ends as `limit-exceeded`. The sizes of the [work areas](Self::work_area) are
    /// added to it, since what is written there is held in memory.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// CPUs the container may use (fractions allowed). Default 1.
    pub fn cpu_limit(mut self, cpus: f64) -> Self {
        self.cpus = cpus;
        self
    }

    /// Most processes and threads at once, against fork bombs. Default 512.
    pub fn pids_limit(mut self, pids: i64) -> Self {
        self.pids = pids;
        self
    }

    /// The network the container joins. Default [`NetworkAccess::None`].
    ///
    /// ## Security
    /// [`NetworkAccess::Bridge`] lets the container reach the internet; see there.
    pub fn network(mut self, network: NetworkAccess) -> Self {
        self.network = network;
        self
    }

    /// Entries `(name, address)` for the container's `/etc/hosts` (`redis` →
    /// `127.0.0.1`). Docker refuses them with [`NetworkAccess::Pod`]: the joiners of a
    /// pod share the holder's `/etc/hosts`, so give them to the holder.
    pub fn hosts(mut self, hosts: impl IntoIterator<Item = (String, String)>) -> Self {
        self.hosts.extend(hosts);
        self
    }

    /// Mounts the named volume `volume` at `target`, read-only unless `writable`.
    ///
    /// ## Security
    /// A writable volume outlives the container: what one sandbox writes, a later one
    /// that mounts it reads. Only the prepare phase mounts the wheelhouse writable;
    /// jobs get it read-only.
    pub fn volume(mut self, volume: &str, target: &str, writable: bool) -> Self {
        let mode = if writable { "rw" } else { "ro" };
        self.binds.push(format!("{volume}:{target}:{mode}"));
        self
    }

    /// Adds bind mounts in Docker's `SOURCE:TARGET[:MODE]` form (the egress CA bundle).
    ///
    /// ## Security
    /// Each bind exposes a host path to the container; mount files, read-only. A bind
    /// of the Docker socket is refused by [`SandboxBuilder::build`], whatever its path.
    pub fn binds(mut self, binds: impl IntoIterator<Item = String>) -> Self {
        self.binds.extend(binds);
        self
    }

    /// Size of the tmpfs on `/tmp`, charged to the memory limit; `None` keeps the
    /// image's `/tmp` (read-only, unless the root is [writable](Self::writable_root)).
    /// Default 512 MiB.
    pub fn tmp_size(mut self, bytes: Option<u64>) -> Self {
        self.tmp_size = bytes;
        self
    }

    /// A writable area of at most `bytes` at `target`, owned by the sandbox user: an
    /// anonymous volume on a tmpfs, removed with the container. Unlike
    /// [`scratch`](Self::scratch), the engine's archive calls (`upload`,
    /// `download_file`) reach it, so the source goes in and results come out here.
    /// Its size is added to the memory limit: what is written is held in memory.
    pub fn work_area(mut self, target: &str, bytes: u64) -> Self {
        self.work_areas.push((target.to_string(), bytes));
        self
    }

    /// A tmpfs of at most `bytes` at `target`, owned by the sandbox user (a home
    /// directory), charged to the memory limit. Only commands in the container see
    /// it: the engine's archive calls do not.
    pub fn scratch(mut self, target: &str, bytes: u64) -> Self {
        self.scratch.push((target.to_string(), bytes));
        self
    }

    /// A tmpfs of at most `bytes` at `target` that any user may write to (sticky, like
    /// `/tmp`), for a service's data (its image copies a seed into it at start). Its
    /// size is added to the memory limit: what is written is held in memory.
    ///
    /// runc gives a tmpfs the mode of the directory it is mounted on, whatever `mode=`
    /// says: the image must make `target` mode 1777 (the catalog's do).
    pub fn data_area(mut self, target: &str, bytes: u64) -> Self {
        self.data_areas.push((target.to_string(), bytes));
        self
    }

    /// Leaves the root filesystem writable (the container's writable layer).
    ///
    /// ## Security
    /// Most storage drivers (overlay2 without quotas, fuse-overlayfs) do not cap the
    /// writable layer: code in the container can write until the host's disk is full.
    /// Only for containers that run no project code with a limit of their own to keep
    /// (services, whose data directories are the image's), or whose writes a deadline
    /// bounds (the dependency fetch).
    pub fn writable_root(mut self) -> Self {
        self.writable_root = true;
        self
    }

    /// Runs pid 1 as the image's own user (root, for the service images, whose
    /// entrypoints set up a data directory and then drop to their own user), with the
    /// few capabilities that needs (`CHOWN`, `DAC_OVERRIDE`, `FOWNER`, `SETGID`,
    /// `SETUID`).
    ///
    /// ## Security
    /// Code in the container starts as root within its user namespace, able to change
    /// owners and users of files in the container. Only for service images ponyswarm
    /// builds or the matrix names; never for a job's container, where the project's
    /// code runs.
    pub fn service(mut self) -> Self {
        self.user = None;
        self.service_capabilities = true;
        self
    }

    /// Adds labels (see [`Owner::labels`]).
    pub fn labels(mut self, labels: HashMap<String, String>) -> Self {
        self.labels.extend(labels);
        self
    }

    /// The create body for bollard, or why the policy refuses it.
    pub fn build(&self) -> Result<ContainerCreateBody, PolicyError> {
        if let Some(bind) = self.binds.iter().find(|b| is_docker_socket(b)) {
            return Err(PolicyError::DockerSocket(bind.clone()));
        }
        let (network_mode, networking_config) = match &self.network {
            NetworkAccess::None => ("none".to_string(), None),
            NetworkAccess::Bridge => ("bridge".to_string(), None),
            NetworkAccess::Pod { holder } => (format!("container:{holder}"), None),
            NetworkAccess::Internal { network, aliases } => {
                let endpoint = EndpointSettings {
                    aliases: Some(aliases.clone()),
                    ..Default::default()
                };
                let config = NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(network.clone(), endpoint)])),
                };
                (network.clone(), Some(config))
            }
        };
        let cap_add = self
            .service_capabilities
            .then(|| SERVICE_CAPABILITIES.iter().map(|c| c.to_string()).collect());
        // `exec`: the engine mounts a tmpfs `noexec` unless told, and a venv's native
        // extensions and scripts must run.
        let mut tmpfs: HashMap<String, String> = self
            .scratch
            .iter()
            .map(|(target, size)| {
                let opts = format!(
                    "rw,exec,nosuid,nodev,size={size},mode=0755,uid={SANDBOX_UID},gid={SANDBOX_UID}"
                );
                (target.clone(), opts)
            })
            .collect();
        if let Some(size) = self.tmp_size {
            let opts = format!("rw,exec,nosuid,nodev,size={size},mode=1777");
            tmpfs.insert("/tmp".to_string(), opts);
        }
        for (target, size) in &self.data_areas {
            let opts = format!("rw,nosuid,nodev,size={size},mode=1777");
            tmpfs.insert(target.clone(), opts);
        }
        let mounts: Vec<Mount> = self
            .work_areas
            .iter()
            .map(|(target, size)| work_area_mount(target, *size, &self.labels))
            .collect();
        let areas: u64 = (self.work_areas.iter())
            .chain(&self.data_areas)
            .map(|(_, size)| size)
            .sum();
        let memory = self
            .memory
            .saturating_add(i64::try_from(areas).unwrap_or(i64::MAX));
        let host_config = HostConfig {
            memory: Some(memory),
            // Equal to `memory`: no swap, so the memory limit is a real limit.
            memory_swap: Some(memory),
            nano_cpus: Some((self.cpus * 1e9).round() as i64),
            pids_limit: Some(self.pids),
            cap_drop: Some(vec!["ALL".to_string()]),
            cap_add,
            security_opt: Some(vec!["no-new-privileges".to_string()]),
            privileged: Some(false),
            // tini as pid 1 reaps orphans and forwards signals.
            init: Some(true),
            network_mode: Some(network_mode),
            extra_hosts: (!self.hosts.is_empty()).then(|| {
                let entry = |(name, address): &(String, String)| format!("{name}:{address}");
                self.hosts.iter().map(entry).collect()
            }),
            binds: (!self.binds.is_empty()).then(|| self.binds.clone()),
            mounts: (!mounts.is_empty()).then_some(mounts),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            readonly_rootfs: Some(!self.writable_root),
            ..Default::default()
        };
        Ok(ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.cmd.is_empty()).then(|| self.cmd.clone()),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            user: self.user.clone(),
            working_dir: self.working_dir.clone(),
            labels: Some(self.labels.clone()),
            open_stdin: self.stdin.then_some(true),
            stdin_once: self.stdin.then_some(true),
            attach_stdin: self.stdin.then_some(true),
            network_disabled: Some(false),
            host_config: Some(host_config),
            networking_config,
            ..Default::default()
        })
    }
}

/// The anonymous volume of a [work area](SandboxBuilder::work_area): the `local`
/// driver mounting a tmpfs (a size cap every engine and storage driver honours), which
/// the engine removes with the container (ponyswarm removes containers with their
/// anonymous volumes) and whose labels name the owner for `ponyswarm clean`.
fn work_area_mount(target: &str, size: u64, labels: &HashMap<String, String>) -> Mount {
    let options = tmpfs_area_options(size);
    Mount {
        target: Some(target.to_string()),
        typ: Some(MountType::VOLUME),
        read_only: Some(false),
        volume_options: Some(MountVolumeOptions {
            // Nothing of the image's directory is copied in: the area starts empty.
            no_copy: Some(true),
            labels: (!labels.is_empty()).then(|| labels.clone()),
            driver_config: Some(MountVolumeOptionsDriverConfig {
                name: Some("local".to_string()),
                options: Some(options),
            }),
            subpath: None,
        }),
        ..Default::default()
    }
}

/// The `local` driver's options for a tmpfs of at most `size` bytes owned by the
/// sandbox user: a work area's, and a named one's ([`tmpfs_volume`]).
fn tmpfs_area_options(size: u64) -> HashMap<String, String> {
    HashMap::from([
        ("type".to_string(), "tmpfs".to_string()),
        ("device".to_string(), "tmpfs".to_string()),
        (
            "o".to_string(),
            format!("size={size},nosuid,nodev,mode=0755,uid={SANDBOX_UID},gid={SANDBOX_UID}"),
        ),
    ])
}

/// A named volume on a tmpfs of at most `size` bytes owned by the sandbox user, with
/// `labels`: a writable area that several containers mount at once (while one of them
/// runs, the tmpfs stays mounted and keeps what was written), so that one running
/// only ponyswarm's own commands can copy out what another wrote, bounded by the cap.
/// Mounted with [`SandboxBuilder::volume`], whose memory limit it is not added to;
/// removed by whoever made it, once no container uses it.
pub fn tmpfs_volume(
    name: &str,
    size: u64,
    labels: HashMap<String, String>,
) -> bollard::models::VolumeCreateRequest {
    bollard::models::VolumeCreateRequest {
        name: Some(name.to_string()),
        driver: Some("local".to_string()),
        driver_opts: Some(tmpfs_area_options(size)),
        labels: Some(labels),
        ..Default::default()
    }
}

/// Whether a bind (`SOURCE:TARGET[:MODE]`) would put a Docker socket in the container.
fn is_docker_socket(bind: &str) -> bool {
    let mut parts = bind.split(':');
    let source = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    [source, target].iter().any(|p| {
        p.ends_with("docker.sock") || p.ends_with("/run/docker") || *p == "/var/run" || *p == "/run"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(b: &SandboxBuilder) -> HostConfig {
        b.build().unwrap().host_config.unwrap()
    }

    #[test]
    fn defaults_are_the_safe_ones() {
        let b = SandboxBuilder::new("img");
        let c = b.build().unwrap();
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        let h = c.host_config.unwrap();
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(h.cap_add, None);
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        assert_eq!(h.init, Some(true));
        assert_eq!(h.privileged, Some(false));
        assert_eq!(h.pids_limit, Some(512));
        assert_eq!(h.binds, None);
        assert!(c.networking_config.is_none());
    }

    #[test]
    fn memory_limit_leaves_no_swap() {
        let h = host(&SandboxBuilder::new("img").memory_limit(256 << 20));
        assert_eq!(h.memory, Some(256 << 20));
        assert_eq!(h.memory_swap, Some(256 << 20));
    }

    #[test]
    fn cpus_become_nano_cpus() {
        let h = host(&SandboxBuilder::new("img").cpu_limit(1.5));
        assert_eq!(h.nano_cpus, Some(1_500_000_000));
    }

    #[test]
    fn job_with_services_joins_its_internal_network() {
        let net = NetworkAccess::Internal {
            network: "ponyswarm-r-0".into(),
            aliases: vec![],
        };
        let c = SandboxBuilder::new("img").network(net).build().unwrap();
        assert_eq!(
            c.host_config.unwrap().network_mode.as_deref(),
            Some("ponyswarm-r-0")
        );
        let eps = c.networking_config.unwrap().endpoints_config.unwrap();
        assert!(eps.contains_key("ponyswarm-r-0"));
    }

    #[test]
    fn pod_members_share_the_holders_namespace_and_hosts() {
        let pod = NetworkAccess::Pod {
            holder: "ponyswarm-r-0-pod".into(),
        };
        let c = SandboxBuilder::new("img").network(pod).build().unwrap();
        assert!(c.networking_config.is_none());
        let h = c.host_config.unwrap();
        assert_eq!(
            h.network_mode.as_deref(),
            Some("container:ponyswarm-r-0-pod")
        );
        assert_eq!(h.extra_hosts, None);
        let holder = SandboxBuilder::new("img").hosts([("redis".into(), "127.0.0.1".into())]);
        assert_eq!(
            host(&holder).extra_hosts,
            Some(vec!["redis:127.0.0.1".to_string()])
        );
    }

    #[test]
    fn service_answers_to_its_alias() {
        let net = NetworkAccess::Internal {
            network: "n".into(),
            aliases: vec!["redis".into()],
        };
        let c = SandboxBuilder::new("img")
            .network(net)
            .service()
            .build()
            .unwrap();
        let eps = c.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(eps["n"].aliases, Some(vec!["redis".to_string()]));
        assert_eq!(c.user, None);
        let h = c.host_config.unwrap();
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_string()]));
        assert!(h.cap_add.unwrap().contains(&"SETUID".to_string()));
    }

    #[test]
    fn wheelhouse_is_read_only_unless_asked() {
        let h = host(&SandboxBuilder::new("img").volume("w", "/wheels", false));
        assert_eq!(h.binds, Some(vec!["w:/wheels:ro".to_string()]));
        let h = host(&SandboxBuilder::new("img").volume("w", "/wheels", true));
        assert_eq!(h.binds, Some(vec!["w:/wheels:rw".to_string()]));
    }

    #[test]
    fn docker_socket_is_never_mounted() {
        for bind in [
            "/var/run/docker.sock:/var/run/docker.sock",
            "/run:/x:ro",
            "/x:/var/run/docker.sock",
        ] {
            let b = SandboxBuilder::new("img").binds([bind.to_string()]);
            assert!(
                matches!(b.build(), Err(PolicyError::DockerSocket(_))),
                "{bind}"
            );
        }
        let b =
            SandboxBuilder::new("img").binds(["/etc/ssl/ca.pem:/etc/ssl/ca.pem:ro".to_string()]);
        assert!(b.build().is_ok());
    }

    #[test]
    fn labels_name_run_job_and_pid() {
        let owner = Owner {
            run: "r1".into(),
            job: Some(3),
            pid: 42,
            pid_start: Some(7),
        };
        let c = SandboxBuilder::new("img")
            .labels(owner.labels())
            .build()
            .unwrap();
        let l = c.labels.unwrap();
        assert_eq!(l[labels::MANAGED], "1");
        assert_eq!(l[labels::RUN], "r1");
        assert_eq!(l[labels::JOB], "3");
        assert_eq!(l[labels::PID], "42");
        assert_eq!(l[PID_START], "7");
    }

    #[test]
    fn root_is_read_only_unless_asked() {
        assert_eq!(
            host(&SandboxBuilder::new("img")).readonly_rootfs,
            Some(true)
        );
        let h = host(&SandboxBuilder::new("img").writable_root());
        assert_eq!(h.readonly_rootfs, Some(false));
    }

    #[test]
    fn work_area_is_a_capped_tmpfs_volume_added_to_memory() {
        let h = host(
            &SandboxBuilder::new("img")
                .memory_limit(256 << 20)
                .work_area("/work", 64 << 20)
                .labels(HashMap::from([("k".to_string(), "v".to_string())])),
        );
        assert_eq!(h.memory, Some(320 << 20));
        assert_eq!(h.memory_swap, Some(320 << 20));
        let mounts = h.mounts.unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].target.as_deref(), Some("/work"));
        assert_eq!(mounts[0].typ, Some(MountType::VOLUME));
        // Anonymous: removed with the container.
        assert_eq!(mounts[0].source, None);
        let volume = mounts[0].volume_options.as_ref().unwrap();
        assert_eq!(volume.labels.as_ref().unwrap()["k"], "v");
        let driver = volume.driver_config.as_ref().unwrap();
        let opts = driver.options.as_ref().unwrap();
        assert_eq!(opts["type"], "tmpfs");
        assert_eq!(
            opts["o"],
            "size=67108864,nosuid,nodev,mode=0755,uid=1000,gid=1000"
        );
    }

    #[test]
    fn scratch_is_an_executable_tmpfs_of_the_sandbox_user() {
        let h = host(&SandboxBuilder::new("img").scratch("/home/pony", 1 << 20));
        assert_eq!(
            h.tmpfs.unwrap()["/home/pony"],
            "rw,exec,nosuid,nodev,size=1048576,mode=0755,uid=1000,gid=1000"
        );
        assert_eq!(h.memory, Some(2 << 30), "a tmpfs is charged, not added");
    }

    #[test]
    fn data_area_is_a_shared_tmpfs_added_to_memory() {
        let h = host(
            &SandboxBuilder::new("img")
                .service()
                .memory_limit(256 << 20)
                .data_area("/var/lib/mysql", 64 << 20),
        );
        assert_eq!(
            h.tmpfs.unwrap()["/var/lib/mysql"],
            "rw,nosuid,nodev,size=67108864,mode=1777"
        );
        assert_eq!(h.memory, Some(320 << 20));
        assert_eq!(h.readonly_rootfs, Some(true));
    }

    #[test]
    fn tmp_is_a_capped_tmpfs() {
        let h = host(&SandboxBuilder::new("img").tmp_size(Some(1 << 20)));
        assert_eq!(
            h.tmpfs.unwrap()["/tmp"],
            "rw,exec,nosuid,nodev,size=1048576,mode=1777"
        );
        assert!(host(&SandboxBuilder::new("img").tmp_size(None))
            .tmpfs
            .is_none());
    }
}
