//! The egress door of the prepare phase: an internal network (no route out) whose only
//! way out is a proxy (Debian's tinyproxy, the catalog image `door`) that lets through
//! requests to the package index's host names and refuses everything else.
//!
//! The fetch container sits on the internal network alone with the door, with
//! `HTTP(S)_PROXY` pointing at the door's address; the door also sits on the default
//! bridge. What the door refuses: any name not on its list (another site, the host's
//! name), IP literals (the host's bridge gateway, the LAN, `169.254.169.254`) since the
//! list holds names only, and CONNECT to any port but 443. What it never sees can't
//! leave either: the internal network has no gateway, and the host has no address on
//! it (see [`Network::create_internal`]).
//!
//! The host's own proxy (from [`Egress`]) becomes the door's upstream, so behind a
//! corporate or intercepting proxy the chain is fetch container → door → host proxy;
//! TLS runs end to end through both (CONNECT), so the fetch container still needs the
//! CA bundle that `--ca-bundle` names.
//!
//! The pure half ([`allowed_hosts`], [`upstream`]) decides; [`Door::open`] starts.

use crate::sandbox::container::{Container, ContainerError, Exec, ExecEnd, ExecLimits, Tracker};
use crate::sandbox::egress::Egress;
use crate::sandbox::network::{Network, NetworkError};
use crate::sandbox::policy::{NetworkAccess, PolicyError, SandboxBuilder};
use bollard::models::NetworkConnectRequest;
use bollard::Docker;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The port the door listens on.
pub const PORT: u16 = 8888;

/// The index hosts every door lets through: PyPI's pages and its files.
pub const DEFAULT_HOSTS: &[&str] = &["pypi.org", "files.pythonhosted.org"];

/// How long the door may take to listen.
const READY_WITHIN: Duration = Duration::from_secs(15);

/// Why the door could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    /// Docker refused a container or network.
    #[error("egress door: {0}")]
    Container(#[from] ContainerError),
    /// The internal network could not be made.
    #[error("egress door: {0}")]
    Network(#[from] NetworkError),
    /// The door's container policy was refused.
    #[error("egress door: {0}")]
    Policy(#[from] PolicyError),
    /// Docker failed otherwise (connecting to the network, reading the address).
    #[error("egress door: docker: {0}")]
    Docker(String),
    /// The proxy did not listen in time.
    #[error("egress door: the proxy did not start listening within {}s: {log}", READY_WITHIN.as_secs())]
    NotListening {
        /// The tail of its output.
        log: String,
    },
}

/// The host names a door allows: [`DEFAULT_HOSTS`] and the host of every index
/// (`--index-url`/`-i`, `--extra-index-url`) and `--find-links` URL in `install`.
/// Names only: an URL whose host is an IP literal adds nothing (the door would refuse
/// it anyway, and an index on a private address is no index for a sandbox).
///
/// Pure.
pub fn allowed_hosts(install: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect();
    for command in install {
        let words = shell_words::split(command).unwrap_or_default();
        let mut words = words.iter().peekable();
        while let Some(word) = words.next() {
            let url = match word.as_str() {
                "-i" | "--index-url" | "--extra-index-url" | "-f" | "--find-links" => {
                    words.next().cloned()
                }
                w => ["--index-url=", "--extra-index-url=", "--find-links="]
                    .iter()
                    .find_map(|p| w.strip_prefix(p))
                    .map(str::to_string),
            };
            if let Some(host) = url.as_deref().and_then(host_name) {
                hosts.push(host);
            }
        }
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The host name of an http(s) URL, lower-cased; `None` for other schemes, IP literals
/// and names with characters no host name has.
fn host_name(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    if host_port.starts_with('[') {
        return None; // IPv6 literal
    }
    let host = host_port.split(':').next()?.to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let ip = host.parse::<std::net::Ipv4Addr>().is_ok()
        || host.chars().all(|c| c.is_ascii_digit() || c == '.');
    (valid && !ip).then_some(host)
}

/// The door's upstream (`[user:pass@]host:port`) from the host's proxy settings:
/// `HTTPS_PROXY`, else `HTTP_PROXY`, else `ALL_PROXY`, when it is an `http://` proxy.
///
/// Pure.
pub fn upstream(egress: &Egress) -> Option<String> {
    let get = |name: &str| {
        egress
            .proxy()
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let url = ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"]
        .iter()
        .find_map(|n| get(n))?;
    let rest = url.strip_prefix("http://").unwrap_or(&url);
    if rest.contains("://") {
        return None; // socks and the like: tinyproxy chains only to http proxies
    }
    let authority = rest.split('/').next()?.to_string();
    let port_given = authority.rsplit('@').next()?.contains(':');
    Some(if port_given {
        authority
    } else {
        format!("{authority}:80")
    })
}

/// pip's index settings the operator put into `egress` (`PIP_INDEX_URL`,
/// `PIP_EXTRA_INDEX_URL`, `PIP_TRUSTED_HOST`, as the PyPI watcher's `--extra-index`
/// does): the variables to hand to the fetch container, and the hosts of those URLs
/// for the door.
///
/// ## Security
/// Unlike an index named in a matrix, the operator's may be an address (a mirror on
/// the host or the LAN): the door then lets requests through to that one address.
///
/// Pure.
pub fn operator_index(egress: &Egress) -> (Vec<String>, Vec<String>) {
    let mut env = Vec::new();
    let mut hosts = Vec::new();
    for (name, value) in egress.proxy() {
        if !matches!(
            name.as_str(),
            "PIP_INDEX_URL" | "PIP_EXTRA_INDEX_URL" | "PIP_TRUSTED_HOST"
        ) {
            continue;
        }
        env.push(format!("{name}={value}"));
        if name != "PIP_TRUSTED_HOST" {
            for url in value.split_whitespace() {
                let rest = url.split("://").nth(1).unwrap_or("");
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                let host = authority.rsplit('@').next().unwrap_or("");
                let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
                if !host.is_empty() && !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
    }
    (env, hosts)
}

/// An open door: the internal network and the proxy on it. Removed with
/// [`Door::close`], or in the background when dropped.
#[derive(Debug)]
pub struct Door {
    container: Container,
    network: Network,
    proxy_url: String,
}

/// What a door is for: its image, names and labels.
#[derive(Debug, Clone)]
pub struct DoorSpec {
    /// The door image (the catalog's `door`, resolved).
    pub image: String,
    /// A name for the network and container, unique on the engine.
    pub name: String,
    /// Labels for both (the run's owner labels).
    pub labels: HashMap<String, String>,
    /// The host names to allow (see [`allowed_hosts`]).
    pub allow: Vec<String>,
    /// The upstream proxy, if any (see [`upstream`]).
    pub upstream: Option<String>,
}

impl Door {
    /// Creates the internal network and the door on it (and on the default bridge),
    /// and waits until the door listens.
    pub async fn open(
        docker: &Docker,
        tracker: &Tracker,
        spec: &DoorSpec,
    ) -> Result<Door, DoorError> {
        let network =
            Network::create_internal(docker, tracker, &spec.name, spec.labels.clone()).await?;
        let mut env = vec![format!("DOOR_ALLOW={}", spec.allow.join(" "))];
        if let Some(up) = &spec.upstream {
            env.push(format!("DOOR_UPSTREAM={up}"));
        }
        let config = SandboxBuilder::new(&spec.image)
            // The door is the one container here with a route out; it runs only
            // tinyproxy, from ponyswarm's own image, configured by ponyswarm.
            .network(NetworkAccess::Bridge)
            .env(env)
            .tmp_size(Some(16 << 20))
            .memory_limit(256 << 20)
            .cpu_limit(1.0)
            .pids_limit(128)
            .labels(spec.labels.clone())
            .build()?;
        let container =
            Container::create(docker, tracker, &format!("{}-door", spec.name), config).await?;
        let connect = NetworkConnectRequest {
            container: container.name().to_string(),
            endpoint_config: None,
        };
        docker
            .connect_network(network.name(), connect)
            .await
            .map_err(|e| DoorError::Docker(format!("connect to {}: {e}", network.name())))?;
        container.start().await?;
        let ip = address_on(docker, container.name(), network.name()).await?;
        let door = Door {
            container,
            network,
            proxy_url: format!("http://{ip}:{PORT}"),
        };
        door.wait_listening().await?;
        Ok(door)
    }

    /// The internal network, to put the fetch container on.
    pub fn network(&self) -> &str {
        self.network.name()
    }

    /// The proxy URL for the fetch container (`http://ADDRESS:8888`, an address: the
    /// fetch container needs no name resolution for it).
    pub fn proxy_url(&self) -> &str {
        &self.proxy_url
    }

    /// Environment for a container behind the door: the proxy variables in both
    /// spellings, and an empty `NO_PROXY` so nothing goes around it (there is no
    /// around: the network has no gateway).
    pub fn env(&self) -> Vec<String> {
        ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]
            .iter()
            .map(|n| format!("{n}={}", self.proxy_url))
            .chain(["NO_PROXY=".to_string(), "no_proxy=".to_string()])
            .collect()
    }

    /// What the door logged (its refusals among it), at most its last `lines`.
    pub async fn log_tail(&self, lines: usize) -> String {
        self.container.log_tail(lines).await
    }

    /// Removes the door and its network. Containers on the network must be gone.
    pub async fn close(self) -> Result<(), DoorError> {
        self.container.remove().await?;
        self.network.remove().await?;
        Ok(())
    }

    async fn wait_listening(&self) -> Result<(), DoorError> {
        // bash's /dev/tcp: the door image has no other client, and needs none.
        let probe = format!(
            "for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/{PORT}) 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
        );
        let exec = Exec {
            cmd: vec!["bash".into(), "-c".into(), probe],
            env: Vec::new(),
            working_dir: None,
        };
        let limits = ExecLimits {
            deadline: Some(Instant::now() + READY_WITHIN),
            no_output: None,
        };
        match self
            .container
            .exec(&exec, limits, &mut |_: &[u8]| {})
            .await?
        {
            ExecEnd::Exited(0) => Ok(()),
            _ => Err(DoorError::NotListening {
                log: self.container.log_tail(20).await,
            }),
        }
    }
}

/// The IPv4 address of `container` on `network`.
async fn address_on(docker: &Docker, container: &str, network: &str) -> Result<String, DoorError> {
    let info = docker
        .inspect_container(container, None)
        .await
        .map_err(|e| DoorError::Docker(format!("inspect {container}: {e}")))?;
    info.network_settings
        .and_then(|s| s.networks)
        .and_then(|n| n.get(network).cloned())
        .and_then(|e| e.ip_address)
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| DoorError::Docker(format!("{container} has no address on {network}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn allowed_hosts_are_pypi_and_the_named_indexes() {
        let table: &[(&[&str], &[&str])] = &[
            (
                &["pip install -e ."],
                &["files.pythonhosted.org", "pypi.org"],
            ),
            (
                &["pip install -i https://idx.example.com/simple x"],
                &["files.pythonhosted.org", "idx.example.com", "pypi.org"],
            ),
            (
                &["pip install --extra-index-url=https://u:p@Mirror.Example:8443/s x"],
                &["files.pythonhosted.org", "mirror.example", "pypi.org"],
            ),
            (
                &["pip install --find-links http://files.example/wheels/ x"],
                &["files.example", "files.pythonhosted.org", "pypi.org"],
            ),
        ];
        for (install, want) in table {
            assert_eq!(allowed_hosts(&v(install)), v(want), "{install:?}");
        }
    }

    #[test]
    fn ip_literals_and_local_paths_are_never_allowed() {
        for install in [
            "pip install -i http://172.17.0.1:8080/simple x",
            "pip install -i http://169.254.169.254/ x",
            "pip install -i http://[::1]:80/ x",
            "pip install --find-links /wheels x",
            "pip install --find-links file:///tmp x",
        ] {
            assert_eq!(
                allowed_hosts(&v(&[install])),
                v(&["files.pythonhosted.org", "pypi.org"]),
                "{install}"
            );
        }
    }

    #[test]
    fn the_operators_index_is_handed_on_and_allowed() {
        let egress = Egress::none()
            .with_proxy("https_proxy", "http://proxy:3128")
            .with_proxy("PIP_EXTRA_INDEX_URL", "http://172.17.0.1:8080/simple/")
            .with_proxy("PIP_TRUSTED_HOST", "172.17.0.1");
        let (env, hosts) = operator_index(&egress);
        assert_eq!(hosts, v(&["172.17.0.1"]));
        assert!(env.contains(&"PIP_EXTRA_INDEX_URL=http://172.17.0.1:8080/simple/".to_string()));
        assert!(env.contains(&"PIP_TRUSTED_HOST=172.17.0.1".to_string()));
        assert!(!env.iter().any(|e| e.contains("proxy:3128")));
    }

    #[test]
    fn upstream_is_the_host_proxy_as_host_and_port() {
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let table: &[(Vars, Option<&str>)] = &[
            (&[], None),
            (&[("https_proxy", "http://proxy:3128")], Some("proxy:3128")),
            (&[("http_proxy", "http://u:p@proxy/")], Some("u:p@proxy:80")),
            (&[("all_proxy", "socks5://proxy:1080")], None),
            (&[("https_proxy", "proxy:8080")], Some("proxy:8080")),
        ];
        for (vars, want) in table {
            let egress = vars
                .iter()
                .fold(Egress::none(), |e, (n, val)| e.with_proxy(n, val));
            assert_eq!(upstream(&egress).as_deref(), *want, "{vars:?}");
        }
    }
}
