//! The images of a run (a Python, its services), each resolved once however many jobs
//! ask for it.

use crate::sandbox::images::{self, ImageOptions, ResolvedImage};
use bollard::Docker;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

/// Images of a run, each resolved once however many jobs need it.
#[derive(Default)]
pub struct ImageCache {
    slots: Mutex<HashMap<String, ImageSlot>>,
}

/// One image being resolved, or resolved (or why not).
type ImageSlot = Arc<OnceCell<Result<ResolvedImage, String>>>;

impl ImageCache {
    /// The resolved image `name`, made available on first use.
    pub async fn get(
        &self,
        docker: &Docker,
        name: &str,
        opts: &ImageOptions,
    ) -> Result<ResolvedImage, String> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.entry(name.to_string()).or_default().clone()
        };
        slot.get_or_init(|| async {
            images::ensure(docker, name, opts)
                .await
                .map_err(|e| format!("image {name}: {e}"))
        })
        .await
        .clone()
    }
}
