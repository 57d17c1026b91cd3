//! What ponyswarm has made, for `ponyswarm images list`: every image carrying its
//! label under the tag prefix, and whether it is the one a build would use now.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::ListImagesOptionsBuilder;
use bollard::Docker;

use super::{base, content_tag, context, ImageError, ImageOptions};
use crate::catalog;
use crate::sandbox::labels;

/// One image ponyswarm made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageRow {
    /// The catalog name (`3.11`, `postgres`), or `debian:<suite>` for a base.
    pub name: String,
    /// The tag (`ponyswarm/python-3.11:0123456789ab`).
    pub tag: String,
    /// The image id.
    pub id: String,
    /// Size in bytes, layers shared with other images included.
    pub size: u64,
    /// When the image was built (or imported).
    pub built: SystemTime,
    /// Whether this is the tag a build would produce now; `false` marks images left
    /// behind by an older Dockerfile or base, which `docker rmi` may remove.
    pub current: bool,
}

/// The images under `opts.tag_prefix` labelled as ponyswarm's, sorted by name, the
/// newest first within a name.
pub async fn list(docker: &Docker, opts: &ImageOptions) -> Result<Vec<ImageRow>, ImageError> {
    let filters = HashMap::from([("label", vec![labels::MANAGED])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let images = docker
        .list_images(Some(options))
        .await
        .map_err(|source| ImageError::Docker {
            image: format!("{}/*", opts.tag_prefix),
            action: "list",
            source,
        })?;
    let current = current_tags(docker, opts).await?;
    let prefix = format!("{}/", opts.tag_prefix);
    let mut rows: Vec<ImageRow> = images
        .iter()
        .flat_map(|image| {
            let name = image.labels.get(labels::IMAGE).cloned().unwrap_or_default();
            let built = UNIX_EPOCH + Duration::from_secs(image.created.max(0).unsigned_abs());
            image
                .repo_tags
                .iter()
                .filter(|tag| tag.starts_with(&prefix))
                .map(move |tag| ImageRow {
                    name: name.clone(),
                    tag: tag.clone(),
                    id: image.id.clone(),
                    size: image.size.max(0).unsigned_abs(),
                    built,
                    current: false,
                })
        })
        .collect();
    for row in &mut rows {
        row.current = current.contains(&row.tag);
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name).then(b.built.cmp(&a.built)));
    Ok(rows)
}

/// The tags a build would use now, for the images whose base is present (without a
/// base, nothing built before can be current).
async fn current_tags(docker: &Docker, opts: &ImageOptions) -> Result<HashSet<String>, ImageError> {
    let mut tags = HashSet::new();
    let mut bases = HashMap::new();
    for entry in catalog::ENTRIES {
        if !bases.contains_key(entry.suite) {
            let found = base::find_local(docker, entry.suite, &opts.tag_prefix).await?;
            if let Some(b) = &found {
                tags.insert(b.reference.clone());
            }
            bases.insert(entry.suite, found);
        }
        let Some(Some(base)) = bases.get(entry.suite) else {
            continue;
        };
        // An unreadable directory makes no image current; `build` reports why.
        if let Ok(ctx) = context::Context::read(entry.name, &opts.images_dir.join(entry.dir)) {
            tags.insert(content_tag(
                &opts.tag_prefix,
                entry,
                &ctx.content_hash(&base.id),
            ));
        }
    }
    Ok(tags)
}
