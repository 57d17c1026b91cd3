//! A job's own network: internal (`internal: true`, no route out) and with no address
//! of the host on it, so the job's services are reachable and nothing else is: not
//! the internet, not the host's own services.
//!
//! Owned by a [`Network`] guard recorded in the run's [`Tracker`]; removed when the
//! guard is removed or dropped (after the containers on it, which the job removes
//! first).

use crate::sandbox::container::{remove_in_background, remove_network, Leftover, Tracker};
use bollard::models::{IpamConfig, NetworkCreateRequest};
use bollard::Docker;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// A Docker call about a network failed.
#[derive(Debug, thiserror::Error)]
#[error("docker: {what} network {name}: {source}")]
pub struct NetworkError {
    /// What was being done (`create`, `remove`).
    pub what: &'static str,
    /// The network's name.
    pub name: String,
    /// What the engine said.
    #[source]
    pub source: bollard::errors::Error,
}

/// An internal network owned by ponyswarm.
#[derive(Debug)]
pub struct Network {
    docker: Docker,
    tracker: Tracker,
    name: String,
    removed: bool,
}

impl Network {
    /// Creates the internal bridge network `name` carrying `labels`, on which the host
    /// has no address either: `internal` stops forwarding (no route out), and the bridge
    /// gets no IPv4 address (`inhibit_ipv4`), so a container on it cannot reach the
    /// host's own services through the network's gateway address either (with
    /// `internal` alone, the host's address on the bridge stays reachable: a coordinator
    /// or database listening on all addresses would answer a job). Containers on the
    /// network still reach each other.
    pub async fn create_internal(
        docker: &Docker,
        tracker: &Tracker,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<Network, NetworkError> {
        let options = HashMap::from([(
            "com.docker.network.bridge.inhibit_ipv4".to_string(),
            "true".to_string(),
        )]);
        Self::create(docker, tracker, name, labels, options).await
    }

    async fn create(
        docker: &Docker,
        tracker: &Tracker,
        name: &str,
        labels: HashMap<String, String>,
        options: HashMap<String, String>,
    ) -> Result<Network, NetworkError> {
        tracker.add_network(name);
        let guard = Network {
            docker: docker.clone(),
            tracker: tracker.clone(),
            name: name.to_string(),
            removed: false,
        };
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            // No gateway out: the point of the network.
            internal: Some(true),
            labels: Some(labels),
            options: Some(options),
            ..Default::default()
        };
        docker
            .create_network(request)
            .await
            .map_err(|source| NetworkError {
                what: "create",
                name: name.to_string(),
                source,
            })?;
        Ok(guard)
    }

    /// The network's name, for [`crate::sandbox::policy::NetworkAccess::Internal`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Removes the network now. Its containers must be gone first.
    pub async fn remove(mut self) -> Result<(), NetworkError> {
        self.removed = true;
        remove_network(&self.docker, &self.name)
            .await
            .map_err(|source| NetworkError {
                what: "remove",
                name: self.name.clone(),
                source,
            })?;
        self.tracker.forget_network(&self.name);
        Ok(())
    }
}

/// The host's address on Docker's default `bridge` network, as its containers reach
/// the host (a service the host listens on at every address); `None` when Docker
/// cannot say.
pub async fn bridge_gateway(docker: &Docker) -> Option<String> {
    let network = docker
        .inspect_network(
            "bridge",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .ok()?;
    gateway_of(&network.ipam?.config?)
}

/// A network's gateway from its IPAM settings: the one given, else the first host
/// address of its IPv4 subnet, which is the address Docker gives the bridge when none
/// is configured (Docker 28 lists no gateway for the default bridge: without this
/// fallback a loopback index stayed unreachable, and pip waited out its retries on it
/// for every requirement).
///
/// Pure.
fn gateway_of(configs: &[IpamConfig]) -> Option<String> {
    if let Some(gateway) = configs
        .iter()
        .filter_map(|c| c.gateway.as_deref())
        .find(|g| !g.is_empty())
    {
        return Some(gateway.to_string());
    }
    configs.iter().find_map(|c| {
        let (address, bits) = c.subnet.as_deref()?.split_once('/')?;
        let address: Ipv4Addr = address.parse().ok()?;
        let bits: u32 = bits.parse().ok()?;
        if bits > 30 {
            return None; // no room for a gateway and a container
        }
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        Some(Ipv4Addr::from((u32::from(address) & mask) + 1).to_string())
    })
}

impl Drop for Network {
    fn drop(&mut self) {
        // Its containers are being removed in the background too; removing the
        // network may race them and fail, so the tracker keeps it listed and the
        // run's teardown (which removes containers first) finishes the job.
        if !self.removed {
            remove_in_background(&self.docker, &self.tracker, &self.name, Leftover::Network);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(subnet: Option<&str>, gateway: Option<&str>) -> IpamConfig {
        IpamConfig {
            subnet: subnet.map(str::to_string),
            gateway: gateway.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn gateway_is_the_given_one_else_the_subnets_first_host() {
        let table: &[(&[IpamConfig], Option<&str>)] = &[
            (
                &[config(Some("172.17.0.0/16"), Some("172.17.0.254"))],
                Some("172.17.0.254"),
            ),
            (&[config(Some("172.17.0.0/16"), None)], Some("172.17.0.1")),
            (&[config(Some("10.9.8.0/24"), Some(""))], Some("10.9.8.1")),
            (
                &[config(Some("192.168.5.77/24"), None)],
                Some("192.168.5.1"),
            ),
            (&[config(Some("fd00::/64"), None)], None),
            (&[config(Some("10.0.0.0/31"), None)], None),
            (&[config(None, None)], None),
            (&[], None),
        ];
        for (configs, want) in table {
            assert_eq!(gateway_of(configs).as_deref(), *want, "{configs:?}");
        }
    }
}
