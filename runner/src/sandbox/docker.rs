//! Connecting to the Docker Engine, with the API version negotiated: the engine here
//! speaks 1.41, and we never assume a newer one.

use bollard::Docker;

/// The daemon could not be reached or did not answer as a Docker Engine.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Docker daemon ({endpoint}): {source}\n  is Docker running, and may this user use its socket? (DOCKER_HOST selects another daemon)")]
pub struct Unreachable {
    /// `DOCKER_HOST`, or the default socket.
    pub endpoint: String,
    #[source]
    pub source: bollard::errors::Error,
}

/// Connects to the daemon named by `DOCKER_HOST` (or the local socket), checks that it
/// answers, and negotiates the API version down to what it speaks.
pub async fn connect() -> Result<Docker, Unreachable> {
    let endpoint =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let fail = |source| Unreachable {
        endpoint: endpoint.clone(),
        source,
    };
    let docker = Docker::connect_with_defaults().map_err(fail)?;
    let docker = docker.negotiate_version().await.map_err(fail)?;
    docker.ping().await.map_err(fail)?;
    Ok(docker)
}
