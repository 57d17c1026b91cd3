//! The HTTP client ponyswarm's own requests go through (indexes, the coordinator):
//! rustls with the ring provider, the system's roots, and the user's CA bundle when one
//! is configured (a TLS-intercepting proxy's, see [`crate::sandbox::egress`]). Proxy
//! variables (`HTTPS_PROXY`, `NO_PROXY`…) are honoured as usual.

use crate::sandbox::egress::Egress;
use std::time::Duration;

/// The client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA bundle could not be read.
    #[error("cannot read the CA bundle: {0}")]
    Bundle(String),
    /// The bundle holds no certificate reqwest accepts.
    #[error("the CA bundle {path} holds no usable certificate: {source}")]
    BadBundle {
        /// The file.
        path: String,
        /// Why not.
        #[source]
        source: reqwest::Error,
    },
    /// reqwest refused the configuration.
    #[error("cannot make an HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// A client trusting the system's roots plus `egress`'s CA bundle, if any, with a
/// connect timeout of 30 s and ponyswarm's user agent.
pub fn client(egress: &Egress) -> Result<reqwest::Client, ClientError> {
    builder(egress)?.build().map_err(ClientError::Build)
}

/// [`client`]'s builder, for callers that set more (a request timeout, redirects).
pub fn builder(egress: &Egress) -> Result<reqwest::ClientBuilder, ClientError> {
    // Only ring is compiled in (no aws-lc); the first caller makes it the default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("ponyswarm/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30));
    if let Some(path) = egress.ca_bundle() {
        let pem = egress
            .read_ca_bundle()
            .map_err(|e| ClientError::Bundle(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
            ClientError::BadBundle {
                path: path.display().to_string(),
                source,
            }
        })?;
        for cert in certs {
            b = b.add_root_certificate(cert);
        }
    }
    Ok(b)
}
