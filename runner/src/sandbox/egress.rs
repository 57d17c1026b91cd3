//! Network access for the containers that need it (image builds, the dependency-fetch
//! phase): the CA bundle to trust and the proxy variables to pass in.
//!
//! Behind a TLS-intercepting proxy (a corporate one, or this project's CI machine),
//! apt and pip inside a container only work when they trust the proxy's CA and know
//! the proxy's address. The host already knows both; [`Egress::from_host`] collects
//! them so they can be handed on, and nothing else in ponyswarm needs to care.
//!
//! This module only describes what to hand in; it starts nothing.
//!
//! ## Security
//! Only image builds and the prepare phase get this; a job's own code never runs with
//! the network. The bundle is mounted read-only. Proxy variables are passed verbatim,
//! so a proxy URL with credentials in it (`http://user:secret@proxy:3128`) is visible
//! to everything running in those containers (package build scripts included), and
//! to `docker inspect`.

use std::path::{Path, PathBuf};

/// Where the CA bundle appears inside containers that get network access.
pub const CONTAINER_CA_PATH: &str = "/etc/ponyswarm/ca-bundle.crt";

/// The name of the CA bundle inside an image build context. Always present there
/// (empty without a bundle) so Dockerfiles can `COPY` it unconditionally. Not part of
/// the content hash: the same Dockerfile behind another proxy is the same image.
pub const BUILD_CONTEXT_CA_NAME: &str = "ponyswarm-ca.crt";

/// The Debian CA bundle, used when `SSL_CERT_FILE` is not set.
const DEBIAN_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Proxy variables handed on, upper-case spelling. Each is also looked up and passed
/// in lower case, because tools disagree on which one they read (curl ignores
/// upper-case `HTTP_PROXY`; Go ignores lower-case `no_proxy` in some versions).
const PROXY_VARS: &[&str] = &["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"];

/// Variables that point TLS clients at the CA bundle inside the container: OpenSSL,
/// Python's requests, pip, curl and git (pip uses git for `git+https://` requirements).
const CA_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
];

/// The CA bundle and proxy settings given to containers that need the network.
///
/// The default is no bundle and no proxy: containers then trust only what their
/// image trusts and connect directly.
///
/// ## Security
/// Adding a CA bundle makes the containers trust every certificate it signs, which
/// is the point behind an intercepting proxy; point it only at a bundle you already
/// trust on the host. See the module documentation about proxy credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress {
    ca_bundle: Option<PathBuf>,
    proxy: Vec<(String, String)>,
}

/// The CA bundle named by the user cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// `--ca-bundle` (or the config's `ca_bundle`) names a file that is not there.
    #[error("CA bundle {path} cannot be read: {source}\n  pass an existing PEM file with --ca-bundle, or leave it out to use the host's bundle")]
    Unreadable {
        /// The path as given.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
}

impl Egress {
    /// No CA bundle, no proxy: the container connects as its image allows.
    pub fn none() -> Self {
        Self::default()
    }

    /// The host's settings: the CA bundle `ca_override` when given (an option for
    /// corporate proxies, `--ca-bundle`), else `SSL_CERT_FILE` when set, else the
    /// Debian bundle `/etc/ssl/certs/ca-certificates.crt` when it exists, else none;
    /// and the proxy variables `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, `ALL_PROXY`
    /// (either spelling) as set on the host.
    ///
    /// An override that cannot be read is an error; a missing default is not, since
    /// most hosts reach the network without any of this.
    pub fn from_host(ca_override: Option<PathBuf>) -> Result<Self, EgressError> {
        let ca_bundle = match ca_override {
            Some(path) => {
                check_readable(&path)?;
                Some(path)
            }
            None => default_bundle(),
        };
        let proxy = host_proxy(|name| std::env::var(name).ok());
        Ok(Self { ca_bundle, proxy })
    }

    /// Uses `path` as the CA bundle (builder style, for tests and configs).
    pub fn with_ca_bundle(mut self, path: impl Into<PathBuf>) -> Result<Self, EgressError> {
        let path = path.into();
        check_readable(&path)?;
        self.ca_bundle = Some(path);
        Ok(self)
    }

    /// Sets a proxy variable (builder style); `name` is passed in both spellings.
    pub fn with_proxy(mut self, name: &str, value: &str) -> Self {
        self.proxy.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.proxy
            .push((name.to_ascii_uppercase(), value.to_owned()));
        self.proxy
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// The CA bundle on the host, if any.
    pub fn ca_bundle(&self) -> Option<&Path> {
        self.ca_bundle.as_deref()
    }

    /// The proxy variables, as `(name, value)` pairs in both spellings.
    pub fn proxy(&self) -> &[(String, String)] {
        &self.proxy
    }

    /// Bind mounts for a container that needs the network: the bundle, read-only, at
    /// [`CONTAINER_CA_PATH`]. Empty without a bundle.
    pub fn binds(&self) -> Vec<String> {
        match &self.ca_bundle {
            Some(path) => vec![format!("{}:{CONTAINER_CA_PATH}:ro", path.display())],
            None => Vec::new(),
        }
    }

    /// Environment (`NAME=value`) for a container that needs the network: the CA
    /// variables pointing at [`CONTAINER_CA_PATH`] (only with a bundle), and the proxy
    /// variables.
    pub fn env(&self) -> Vec<String> {
        let ca = self
            .ca_bundle
            .iter()
            .flat_map(|_| CA_VARS.iter().map(|v| format!("{v}={CONTAINER_CA_PATH}")));
        let proxy = self.proxy.iter().map(|(n, v)| format!("{n}={v}"));
        ca.chain(proxy).collect()
    }

    /// Environment for a container whose proxy is not the host's (the prepare
    /// phase's fetch container, behind the egress door): the CA variables only.
    pub fn ca_env(&self) -> Vec<String> {
        self.ca_bundle
            .iter()
            .flat_map(|_| CA_VARS.iter().map(|v| format!("{v}={CONTAINER_CA_PATH}")))
            .collect()
    }

    /// Build arguments for an image build: the proxy variables. Docker predefines
    /// these as build args, so `RUN` steps see them without an `ARG` line and they
    /// stay out of the image's history.
    pub fn build_args(&self) -> Vec<(String, String)> {
        self.proxy.clone()
    }

    /// The bundle's bytes for an image build context; empty without a bundle.
    pub fn read_ca_bundle(&self) -> Result<Vec<u8>, EgressError> {
        match &self.ca_bundle {
            Some(path) => std::fs::read(path).map_err(|source| EgressError::Unreadable {
                path: path.clone(),
                source,
            }),
            None => Ok(Vec::new()),
        }
    }
}

fn check_readable(path: &Path) -> Result<(), EgressError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|source| EgressError::Unreadable {
            path: path.to_owned(),
            source,
        })
}

fn default_bundle() -> Option<PathBuf> {
    match std::env::var_os("SSL_CERT_FILE") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => Some(PathBuf::from(DEBIAN_BUNDLE)).filter(|p| p.is_file()),
    }
}

/// The proxy variables set on the host, each in both spellings; where the host sets
/// both spellings differently, each keeps its own value.
fn host_proxy(lookup: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for upper in PROXY_VARS {
        let lower = upper.to_ascii_lowercase();
        let (u, l) = (lookup(upper), lookup(&lower));
        let (u, l) = match (u, l) {
            (None, None) => continue,
            (Some(u), None) => (u.clone(), u),
            (None, Some(l)) => (l.clone(), l),
            (Some(u), Some(l)) => (u, l),
        };
        out.push(((*upper).to_owned(), u));
        out.push((lower, l));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_variables_are_passed_in_both_spellings() {
        let env = |name: &str| match name {
            "HTTPS_PROXY" => Some("http://proxy:3128".to_owned()),
            "no_proxy" => Some("localhost".to_owned()),
            _ => None,
        };
        let got = host_proxy(env);
        assert_eq!(
            got,
            [
                ("HTTPS_PROXY".to_owned(), "http://proxy:3128".to_owned()),
                ("https_proxy".to_owned(), "http://proxy:3128".to_owned()),
                ("NO_PROXY".to_owned(), "localhost".to_owned()),
                ("no_proxy".to_owned(), "localhost".to_owned()),
            ]
        );
    }

    #[test]
    fn no_bundle_means_no_mounts_and_no_ca_variables() {
        let egress = Egress::none().with_proxy("http_proxy", "http://p:1");
        assert!(egress.binds().is_empty());
        assert_eq!(
            egress.env(),
            ["HTTP_PROXY=http://p:1", "http_proxy=http://p:1"]
        );
        assert!(egress.read_ca_bundle().unwrap().is_empty());
    }

    #[test]
    fn bundle_is_mounted_read_only_and_named_by_every_ca_variable() {
        let file = std::env::current_exe().unwrap();
        let egress = Egress::none().with_ca_bundle(&file).unwrap();
        assert_eq!(
            egress.binds(),
            [format!(
                "{}:/etc/ponyswarm/ca-bundle.crt:ro",
                file.display()
            )]
        );
        let env = egress.env();
        assert!(env.contains(&"PIP_CERT=/etc/ponyswarm/ca-bundle.crt".to_owned()));
        assert!(env.contains(&"SSL_CERT_FILE=/etc/ponyswarm/ca-bundle.crt".to_owned()));
        assert_eq!(env.len(), CA_VARS.len());
    }

    #[test]
    fn a_missing_override_is_an_error() {
        let err = Egress::from_host(Some("/nonexistent/ca.pem".into())).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"));
    }
}
