//! Images by content: build the catalog's images from `images/` (making the Debian
//! base with debootstrap when it cannot be pulled), pull registry references.

use bollard::Docker;

/// An image ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// What the matrix named: a catalog name or a reference.
    pub name: String,
    /// The local reference to create containers from (`ponyswarm/python-3.11:<hash>`).
    pub reference: String,
    /// The image id (`sha256:…`), for reports.
    pub id: String,
}

/// Why an image could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("(being written)")]
    Todo,
}

/// Options for [`ensure`].
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {}

/// Makes `name` (catalog name or image reference) available locally: builds it (and
/// its base) when missing or changed, pulls a reference when a registry is reachable.
pub async fn ensure(
    docker: &Docker,
    name: &str,
    opts: &ImageOptions,
) -> Result<ResolvedImage, ImageError> {
    let _ = (docker, name, opts);
    Err(ImageError::Todo)
}
