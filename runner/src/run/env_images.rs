//! The environment images on this engine (see [`crate::run::environment`]): listed
//! with their own size and last use, removed on request, and held under a size cap by
//! evicting the least recently used.
//!
//! Last use is the image's last tag time: a job that reuses an environment tags it
//! again ([`touch`]). The choice of what to evict ([`to_evict`]) is pure.
//!
//! An environment's venv lives in a volume its image names (see
//! `run::environment`): its size is the venv's, and removing the image removes the
//! volume.

use crate::run::environment::{ENV_LABEL, ENV_REPO, VENV_SIZE_LABEL, VENV_VOLUME_LABEL};
use crate::sandbox::container::{Container, Tracker};
use crate::sandbox::policy::SandboxBuilder;
use bollard::query_parameters::{
    ListImagesOptionsBuilder, ListVolumesOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use bollard::Docker;
use std::collections::HashMap;

/// One environment image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvImage {
    /// `ponyswarm/env:<key>`.
    pub image: String,
    /// Bytes of its own (its venv), not counting the Python image under it.
    pub size: u64,
    /// When it was last used (built or reused), as the engine writes it; `""` unknown.
    pub last_used: String,
}

/// The engine failed.
#[derive(Debug, thiserror::Error)]
#[error("docker: {what}: {source}")]
pub struct EnvImagesError {
    /// What was being done.
    pub what: String,
    /// The engine's answer.
    #[source]
    pub source: bollard::errors::Error,
}

fn err(what: &str) -> impl FnOnce(bollard::errors::Error) -> EnvImagesError + '_ {
    move |source| EnvImagesError {
        what: what.to_string(),
        source,
    }
}

/// Records a use of `image` (tags it again: its last tag time is its last use).
pub async fn touch(docker: &Docker, image: &str) -> Result<(), EnvImagesError> {
    let (repo, tag) = image.split_once(':').unwrap_or((image, "latest"));
    let opts = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
    docker
        .tag_image(image, Some(opts))
        .await
        .map_err(err("tag an environment image"))
}

/// Tags `image`: a commit, with `labels`, of a container called `name` made (never
/// started) from the Python image `python`, then removed. The environment image on
/// engines that cannot load `environment::record_archive`; seconds per environment on
/// fuse-overlayfs, where the commit walks the whole image.
pub async fn commit_record(
    docker: &Docker,
    tracker: &Tracker,
    name: &str,
    python: &str,
    image: &str,
    labels: HashMap<String, String>,
) -> Result<(), String> {
    let config = SandboxBuilder::new(python)
        .labels(labels.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let container = Container::create(docker, tracker, name, config)
        .await
        .map_err(|e| e.to_string())?;
    let (repo, tag) = image.split_once(':').unwrap_or((image, "latest"));
    let opts = bollard::query_parameters::CommitContainerOptionsBuilder::new()
        .container(container.name())
        .repo(repo)
        .tag(tag)
        .pause(false)
        .build();
    let config = bollard::models::ContainerConfig {
        labels: Some(labels),
        ..Default::default()
    };
    let committed = docker.commit_container(opts, config).await;
    let _ = container.remove().await;
    committed
        .map(drop)
        .map_err(|e| format!("docker: commit {image}: {e}"))
}

/// Every environment image, least recently used first.
pub async fn list(docker: &Docker) -> Result<Vec<EnvImage>, EnvImagesError> {
    let filters = HashMap::from([("label".to_string(), vec![ENV_LABEL.to_string()])]);
    let opts = ListImagesOptionsBuilder::new().filters(&filters).build();
    let summaries = docker
        .list_images(Some(opts))
        .await
        .map_err(err("list images"))?;
    let mut out = Vec::new();
    for s in summaries {
        let Some(image) = s
            .repo_tags
            .iter()
            .find(|t| t.starts_with(&format!("{ENV_REPO}:")))
        else {
            continue;
        };
        let inspect = docker
            .inspect_image(image)
            .await
            .map_err(err("inspect an environment image"))?;
        // An image loaded over the Python image's layers (see
        // `environment::record_archive`) has no parent and no layer of its own; one
        // committed by an older ponyswarm has both.
        let layer = match Some(&s.parent_id) {
            Some(p) if !p.is_empty() => {
                let parent = docker.inspect_image(p).await.ok().and_then(|i| i.size);
                u64::try_from(s.size - parent.unwrap_or(0)).unwrap_or(0)
            }
            _ => 0,
        };
        let venv = s
            .labels
            .get(VENV_SIZE_LABEL)
            .and_then(|b| b.parse::<u64>().ok());
        let size = layer + venv.unwrap_or(0);
        let last_used = inspect
            .metadata
            .and_then(|m| m.last_tag_time)
            .unwrap_or_default();
        out.push(EnvImage {
            image: image.clone(),
            size,
            last_used,
        });
    }
    out.sort_by(|a, b| a.last_used.cmp(&b.last_used));
    Ok(out)
}

/// The images to remove so that the rest hold at most `cap` bytes: the least recently
/// used first (`images` in any order).
pub fn to_evict(images: &[EnvImage], cap: u64) -> Vec<String> {
    let mut by_use: Vec<&EnvImage> = images.iter().collect();
    by_use.sort_by(|a, b| a.last_used.cmp(&b.last_used));
    let mut total: u64 = images.iter().map(|i| i.size).sum();
    let mut out = Vec::new();
    for i in by_use {
        if total <= cap {
            break;
        }
        total -= i.size;
        out.push(i.image.clone());
    }
    out
}

/// The rows `ponyswarm images list` shows for environment images: a header, then
/// image, own size and last use, least recently used first.
pub fn table(images: &[EnvImage]) -> Vec<String> {
    let mut rows = vec![format!("{:<32} {:>9}  LAST USED", "ENVIRONMENT", "SIZE")];
    rows.extend(images.iter().map(|i| {
        // `2026-11-29 22:54:20.519 +0000 UTC` → to the second.
        let used = i.last_used.get(..19).unwrap_or(&i.last_used);
        format!("{:<32} {:>7.1}MB  {used}", i.image, i.size as f64 / 1e6)
    }));
    rows
}

/// Removes `images` and their venv volumes; returns the images removed. One in use
/// by a container stays, and so does its volume.
pub async fn remove(docker: &Docker, images: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
    for image in images {
        let volume = docker
            .inspect_image(image)
            .await
            .ok()
            .and_then(|i| i.config?.labels?.remove(VENV_VOLUME_LABEL));
        let opts = RemoveImageOptionsBuilder::new().build();
        if docker.remove_image(image, Some(opts), None).await.is_ok() {
            if let Some(volume) = volume {
                let _ = docker
                    .remove_volume(
                        &volume,
                        None::<bollard::query_parameters::RemoveVolumeOptions>,
                    )
                    .await;
            }
            removed.push(image.clone());
        }
    }
    removed
}

/// Removes every environment image (`ponyswarm clean --envs`) and every venv volume
/// no image names any more (a build cut short, or an image removed by hand); returns
/// the images removed.
pub async fn remove_all(docker: &Docker) -> Result<Vec<String>, EnvImagesError> {
    let all: Vec<String> = list(docker).await?.into_iter().map(|i| i.image).collect();
    let removed = remove(docker, &all).await;
    let filters = HashMap::from([("label".to_string(), vec![VENV_VOLUME_LABEL.to_string()])]);
    let opts = ListVolumesOptionsBuilder::new().filters(&filters).build();
    let volumes = docker
        .list_volumes(Some(opts))
        .await
        .map_err(err("list volumes"))?;
    let images = ListImagesOptionsBuilder::new()
        .all(true)
        .filters(&HashMap::from([(
            "label".to_string(),
            vec![VENV_VOLUME_LABEL.to_string()],
        )]))
        .build();
    let named: Vec<String> = docker
        .list_images(Some(images))
        .await
        .map_err(err("list images"))?
        .into_iter()
        .filter_map(|i| i.labels.get(VENV_VOLUME_LABEL).cloned())
        .collect();
    for v in volumes.volumes.unwrap_or_default() {
        if !named.contains(&v.name) {
            // One in use by a running job stays.
            let _ = docker
                .remove_volume(
                    &v.name,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await;
        }
    }
    Ok(removed)
}

/// Evicts the least recently used environment images until the rest hold at most
/// `cap` bytes; returns those removed.
pub async fn enforce_cap(docker: &Docker, cap: u64) -> Result<Vec<String>, EnvImagesError> {
    let images = list(docker).await?;
    Ok(remove(docker, &to_evict(&images, cap)).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(name: &str, size: u64, used: &str) -> EnvImage {
        EnvImage {
            image: name.to_string(),
            size,
            last_used: used.to_string(),
        }
    }

    #[test]
    fn table_shows_size_and_last_use_to_the_second() {
        let rows = table(&[img(
            "ponyswarm/env:0123456789abcdef",
            12_500_000,
            "2026-11-29 22:54:20.51936179 +0000 UTC",
        )]);
        assert_eq!(rows.len(), 2);
        assert!(rows[0].starts_with("ENVIRONMENT"), "{rows:?}");
        assert_eq!(
            rows[1],
            "ponyswarm/env:0123456789abcdef      12.5MB  2026-11-29 22:54:20"
        );
    }

    #[test]
    fn least_recently_used_go_first_until_under_the_cap() {
        let images = [
            img("new", 30, "2026-11-29 22:00:00"),
            img("old", 50, "2026-11-27 10:00:00"),
            img("mid", 40, "2026-11-28 10:00:00"),
        ];
        let cases: &[(u64, &[&str])] = &[
            (200, &[]),
            (120, &[]),
            (119, &["old"]),
            (70, &["old"]),
            (69, &["old", "mid"]),
            (0, &["old", "mid", "new"]),
        ];
        for (cap, want) in cases {
            assert_eq!(to_evict(&images, *cap), *want, "cap {cap}");
        }
    }
}
