//! Why an image could not be had, in words that say what to do about it.

use std::path::PathBuf;

use crate::sandbox::egress::EgressError;

/// Why an image could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Neither a catalog name nor something that looks like an image reference.
    #[error("unknown image {name:?}: expected a catalog name ({}) or an image reference such as postgres:16", known.join(", "))]
    Unknown {
        /// What was asked for.
        name: String,
        /// The catalog's names.
        known: Vec<&'static str>,
    },

    /// `ponyswarm images build` was given a name that is not in the catalog.
    #[error("{name:?} is not a catalog image; ponyswarm builds {}", known.join(", "))]
    NotInCatalog {
        /// What was asked for.
        name: String,
        /// The catalog's names.
        known: Vec<&'static str>,
    },

    /// A reference that is not in the local engine and could not be pulled.
    #[error("image {reference} is not in the local Docker engine and cannot be pulled: {reason}\n  load it (docker load / docker import), make its registry reachable, or use a catalog image instead")]
    NotAvailable {
        /// The reference as given.
        reference: String,
        /// Why pulling did not happen or failed.
        reason: String,
    },

    /// The image's directory or Dockerfile cannot be read.
    #[error("cannot read the build files of image {name} at {}: {source}\n  is the images directory right? (PONYSWARM_IMAGES_DIR sets it)", path.display())]
    Context {
        /// The catalog name.
        name: String,
        /// The file or directory that could not be read.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },

    /// The CA bundle for the build could not be read.
    #[error(transparent)]
    Egress(#[from] EgressError),

    /// The Dockerfile failed to build.
    #[error("building image {name} failed{}: {message}\n  last lines of the build log:\n{}\n  the Dockerfile is {}; if apt or pip could not download, check the network, proxy and CA bundle (--ca-bundle)",
        step.as_deref().map(|s| format!(" at {s}")).unwrap_or_default(),
        tail.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"),
        dockerfile.display())]
    BuildFailed {
        /// The catalog name.
        name: String,
        /// The Dockerfile that was built.
        dockerfile: PathBuf,
        /// The step that failed (`Step 3/7 : RUN …`), when the log got that far.
        step: Option<String>,
        /// The engine's error message.
        message: String,
        /// The last lines of the build log.
        tail: Vec<String>,
    },

    /// Making the Debian base with debootstrap needs root.
    #[error("making the Debian {suite} base image needs root (debootstrap creates device nodes and files owned by other users)\n  run as root once (sudo ponyswarm images build), or load debian:{suite}-slim into Docker")]
    NeedsRoot {
        /// The Debian suite.
        suite: String,
    },

    /// Making the Debian base needs debootstrap, which is not installed.
    #[error("making the Debian {suite} base image needs debootstrap, which is not installed\n  install it (apt-get install debootstrap), or load debian:{suite}-slim into Docker")]
    NeedsDebootstrap {
        /// The Debian suite.
        suite: String,
    },

    /// debootstrap (or packing its result) failed.
    #[error("making the Debian {suite} base image failed: {message}\n  last lines of its output:\n{}\n  is the mirror {mirror} reachable? (PONYSWARM_DEBIAN_MIRROR sets another)",
        tail.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"))]
    BaseFailed {
        /// The Debian suite.
        suite: String,
        /// The mirror used.
        mirror: String,
        /// What failed.
        message: String,
        /// The last lines of debootstrap's output.
        tail: Vec<String>,
    },

    /// A local file operation around the base image failed.
    #[error("making the Debian {suite} base image failed: {what}: {source}")]
    BaseIo {
        /// The Debian suite.
        suite: String,
        /// What was being done.
        what: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },

    /// The Docker Engine refused or failed a request.
    #[error("Docker could not {action} image {image}: {source}")]
    Docker {
        /// The image concerned.
        image: String,
        /// What was asked of the engine (`inspect`, `build`, `import`, `list`).
        action: &'static str,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
}
