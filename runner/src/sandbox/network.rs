//! A job's own network: internal (`internal: true`, no route out) and with no address
//! of the host on it, so the job's services are reachable and nothing else is: not
//! the internet, not the host's own services.
//!
//! Owned by a [`Network`] guard recorded in the run's [`Tracker`]; removed when the
//! guard is removed or dropped (after the containers on it, which the job removes
//! first).

use crate::sandbox::container::{remove_in_background, remove_network, Leftover, Tracker};
use bollard::models::NetworkCreateRequest;
use bollard::Docker;
use std::collections::HashMap;

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
