//! The images of a run (a Python, its services), each resolved once however many jobs
//! ask for it.

use super::once_per_key::OncePerKey;
use crate::sandbox::images::{self, ImageOptions, ResolvedImage};
use bollard::Docker;

/// Images of a run, each resolved once however many jobs need it.
#[derive(Default)]
pub struct ImageCache {
    images: OncePerKey<Result<ResolvedImage, String>>,
}

impl ImageCache {
    /// The resolved image `name`, made available on first use.
    pub async fn get(
        &self,
        docker: &Docker,
        name: &str,
        opts: &ImageOptions,
    ) -> Result<ResolvedImage, String> {
        let (image, _) = self
            .images
            .get_or_init(name, || async {
                images::ensure(docker, name, opts)
                    .await
                    .map_err(|e| format!("image {name}: {e}"))
            })
            .await;
        image
    }
}
