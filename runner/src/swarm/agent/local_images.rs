//! `detect` in the agent's INI file: offer what the local engine already has.
//!
//! A catalog entry is offered when its image is current (the tag a build would give it
//! now: see [`crate::sandbox::images::list`]), so the agent never claims a job it
//! would first have to spend many minutes building for. A registry image the catalog
//! knows how to talk to (`postgres:16`, `redis:7`) is offered as that reference.
//! [`offers`] is the pure decision; [`scan`] lists the engine.

use crate::catalog::{self, Kind};
use crate::sandbox::images::{self, ImageError, ImageOptions, ImageRow};
use bollard::query_parameters::ListImagesOptions;
use bollard::Docker;

/// What the local images offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalImages {
    /// Catalog Pythons.
    pub pythons: Vec<String>,
    /// Catalog services, then service references.
    pub services: Vec<String>,
}

/// Lists the engine's images and maps them to offers.
pub async fn scan(docker: &Docker, opts: &ImageOptions) -> Result<LocalImages, ImageError> {
    let rows = images::list(docker, opts).await?;
    let all = docker
        .list_images(None::<ListImagesOptions>)
        .await
        .map_err(|source| ImageError::Docker {
            image: "*".into(),
            action: "list",
            source,
        })?;
    let tags: Vec<String> = all.into_iter().flat_map(|i| i.repo_tags).collect();
    Ok(offers(&rows, &tags, &opts.tag_prefix))
}

/// The offers of ponyswarm's own image `rows` (only current ones count) and the
/// engine's other `tags` (only services the catalog can connect to count; tags under
/// `prefix` are ponyswarm's, already judged by their rows).
pub fn offers(rows: &[ImageRow], tags: &[String], prefix: &str) -> LocalImages {
    let mut d = LocalImages::default();
    for entry in catalog::ENTRIES {
        if rows.iter().any(|r| r.current && r.name == entry.name) {
            match entry.kind {
                Kind::Python => d.pythons.push(entry.name.to_string()),
                Kind::Service => d.services.push(entry.name.to_string()),
                Kind::Tool => {}
            }
        }
    }
    let own = format!("{prefix}/");
    for tag in tags {
        let ours = tag.starts_with(&own) || tag == "<none>:<none>";
        if !ours && catalog::service_info_for_reference(tag).is_some() && !d.services.contains(tag)
        {
            d.services.push(tag.clone());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn row(name: &str, current: bool) -> ImageRow {
        ImageRow {
            name: name.into(),
            tag: format!("ponyswarm/{name}:abc"),
            id: "sha256:1".into(),
            size: 1,
            built: SystemTime::UNIX_EPOCH,
            current,
        }
    }

    #[test]
    fn current_catalog_images_and_known_service_references_are_offered() {
        let rows = [
            row("3.11", true),
            row("3.9", false),
            row("redis", true),
            row("debian:bookworm", true),
        ];
        let tags = [
            "ponyswarm/python-3.11:abc".to_string(),
            "postgres:16".into(),
            "nginx:1".into(),
            "<none>:<none>".into(),
            "postgres:16".into(),
        ];
        let d = offers(&rows, &tags, "ponyswarm");
        assert_eq!(d.pythons, ["3.11"]);
        assert_eq!(d.services, ["redis", "postgres:16"]);
    }

    #[test]
    fn nothing_local_offers_nothing() {
        assert_eq!(offers(&[], &[], "ponyswarm"), LocalImages::default());
    }
}
