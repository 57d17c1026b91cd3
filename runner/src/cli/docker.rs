//! Options shared by the commands that talk to Docker, and turning them into the
//! library's option structs.

use super::CliError;
use bollard::Docker;
use clap::Args;
use ponyswarm::sandbox::egress::Egress;
use ponyswarm::sandbox::images::{ImageOptions, PullPolicy};
use std::path::PathBuf;

/// How containers that need the network reach it, and where images come from.
#[derive(Debug, Args)]
pub struct DockerArgs {
    /// PEM bundle of CAs that image builds and the dependency-fetch phase trust
    /// (a TLS-intercepting proxy's CA). Default: SSL_CERT_FILE, else the host's
    /// /etc/ssl/certs/ca-certificates.crt when it exists.
    #[arg(long, env = "PONYSWARM_CA_BUNDLE", value_name = "FILE", global = true)]
    pub ca_bundle: Option<PathBuf>,
    /// Never contact a registry: build catalog images, use only local references.
    #[arg(long, global = true)]
    pub offline_images: bool,
}

impl DockerArgs {
    /// The CA bundle and proxy settings for containers that need the network.
    pub fn egress(&self) -> Result<Egress, CliError> {
        Egress::from_host(self.ca_bundle.clone()).map_err(|e| CliError::BadInput(e.to_string()))
    }

    /// Image options: the `images/` directory next to the working directory when there
    /// is one (a checkout), else the library's default.
    pub fn image_options(&self, egress: Egress) -> ImageOptions {
        let mut opts = ImageOptions {
            egress,
            ..ImageOptions::default()
        };
        if std::env::var_os("PONYSWARM_IMAGES_DIR").is_none()
            && PathBuf::from("images/python-3.11").is_dir()
        {
            opts.images_dir = PathBuf::from("images");
        }
        if self.offline_images {
            opts.pull = PullPolicy::Never;
        }
        opts
    }
}

/// Connects to Docker; an unreachable daemon is exit 3 with what to check.
pub async fn connect() -> Result<Docker, CliError> {
    ponyswarm::sandbox::docker::connect()
        .await
        .map_err(|e| CliError::Infra(e.to_string()))
}
