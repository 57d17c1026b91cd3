//! Images by content: build the catalog's images from `images/` (making the Debian
//! base with debootstrap when it cannot be pulled), pull registry references.
//!
//! A catalog image is tagged `<prefix>/<dir>:<hash12>`, where the hash covers every
//! file of its `images/<dir>` directory and the id of the base it is built on. So the
//! tag alone answers "is this image up to date?": an unchanged image is found by tag
//! and never rebuilt, and any change (a Dockerfile edit, a new base) names a tag that
//! does not exist yet and is built.
//!
//! The parts: `base` finds or makes `debian:<suite>` (with `rootfs`, in a `scratch`
//! directory, when there is no registry), `context` reads a directory into a hash
//! and a build context, `build` runs the engine's build, `pull` fetches references,
//! `list` shows what is there. This module only decides which of those to run, and
//! makes sure concurrent callers wanting the same image cause one build, not several.

mod base;
mod build;
mod context;
mod error;
mod list;
mod progress;
mod pull;
mod rootfs;
mod scratch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use bollard::Docker;
use futures_util::StreamExt;

use crate::catalog::{self, Entry};
use crate::sandbox::egress::Egress;
use crate::sandbox::labels;

pub use error::ImageError;
pub use list::{list, ImageRow};

use progress::Progress;

/// The default tag prefix: images are `ponyswarm/python-3.11:<hash>`.
pub const DEFAULT_PREFIX: &str = "ponyswarm";

/// The Debian mirror debootstrap uses unless `PONYSWARM_DEBIAN_MIRROR` says otherwise.
pub const DEFAULT_DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// How many images [`build`] builds at once. Builds are mostly downloads and
/// unpacking; two overlap those well without starving a small machine.
const PARALLEL_BUILDS: usize = 2;

/// An image ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// What the matrix named: a catalog name or a reference.
    pub name: String,
    /// The local reference to create containers from (`ponyswarm/python-3.11:<hash>`).
    pub reference: String,
    /// The image id (`sha256:…`), for reports.
    pub id: String,
    /// What [`ensure`] had to do to get it.
    pub origin: Origin,
}

/// What [`ensure`] did to make an image available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A catalog image whose content tag was already in the engine: nothing was done.
    Cached,
    /// A catalog image that was built now (and its base made, if it was missing).
    Built,
    /// A reference that was already in the engine.
    Local,
    /// A reference pulled from its registry now.
    Pulled,
}

/// Whether ponyswarm may pull from a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Pull a reference or a `debian:<suite>-slim` base when it is not local.
    #[default]
    IfMissing,
    /// Never contact a registry: references must be local, bases are made with
    /// debootstrap.
    Never,
}

/// Options for [`ensure`], [`build`] and [`list`].
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// The directory holding one directory per catalog image. Default:
    /// `PONYSWARM_IMAGES_DIR`, else the `images/` directory of the source tree
    /// ponyswarm was built from.
    pub images_dir: PathBuf,
    /// The CA bundle and proxy settings image builds use to reach Debian and PyPI.
    /// Default: none.
    ///
    /// ## Security
    /// The bundle is copied into the build context and so into a layer of every image
    /// built (it is deleted from the final file system, not from the layer below).
    /// A CA bundle holds only public certificates; proxy variables are passed as
    /// build arguments, which Docker keeps out of the image history.
    pub egress: Egress,
    /// Whether registries may be contacted. Default: [`PullPolicy::IfMissing`].
    pub pull: PullPolicy,
    /// The repository prefix of every image made (`<prefix>/python-3.11:<hash>`,
    /// `<prefix>/debian:bookworm`). Default: `ponyswarm`. Tests use their own prefix
    /// to build from scratch without touching the shared images.
    pub tag_prefix: String,
    /// The Debian mirror for debootstrap. Default: `PONYSWARM_DEBIAN_MIRROR`, else
    /// <http://deb.debian.org/debian>.
    pub debian_mirror: String,
    /// Where to draw one progress bar per image being built; `None` logs only.
    pub progress: Option<indicatif::MultiProgress>,
}

impl Default for ImageOptions {
    fn default() -> Self {
        let images_dir = std::env::var_os("PONYSWARM_IMAGES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../images")));
        let debian_mirror = std::env::var("PONYSWARM_DEBIAN_MIRROR")
            .ok()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| DEFAULT_DEBIAN_MIRROR.to_owned());
        Self {
            images_dir,
            egress: Egress::none(),
            pull: PullPolicy::default(),
            tag_prefix: DEFAULT_PREFIX.to_owned(),
            debian_mirror,
            progress: None,
        }
    }
}

/// Makes `name` (catalog name or image reference) available locally: builds it (and
/// its base) when missing or changed, pulls a reference when a registry is reachable.
///
/// Safe to call concurrently: callers asking for the same image wait for one build.
pub async fn ensure(
    docker: &Docker,
    name: &str,
    opts: &ImageOptions,
) -> Result<ResolvedImage, ImageError> {
    if let Some(entry) = catalog::get(name) {
        ensure_catalog(docker, entry, opts).await
    } else if catalog::is_image_reference(name) {
        pull::ensure_reference(docker, name, opts).await
    } else {
        Err(ImageError::Unknown {
            name: name.to_owned(),
            known: catalog::ENTRIES.iter().map(|e| e.name).collect(),
        })
    }
}

/// Builds the catalog images `names` (every catalog image when empty), two at a
/// time, for `ponyswarm images build`. One image failing does not stop the others;
/// the results come back in the order asked for.
pub async fn build(
    docker: &Docker,
    names: &[&str],
    opts: &ImageOptions,
) -> Vec<Result<ResolvedImage, ImageError>> {
    let names: Vec<&str> = if names.is_empty() {
        catalog::ENTRIES.iter().map(|e| e.name).collect()
    } else {
        names.to_vec()
    };
    futures_util::stream::iter(names)
        .map(|name| async move {
            match catalog::get(name) {
                Some(entry) => ensure_catalog(docker, entry, opts).await,
                None => Err(ImageError::NotInCatalog {
                    name: name.to_owned(),
                    known: catalog::ENTRIES.iter().map(|e| e.name).collect(),
                }),
            }
        })
        .buffered(PARALLEL_BUILDS)
        .collect()
        .await
}

/// The tag of the catalog image `entry` whose content hash is `hash`.
pub fn content_tag(prefix: &str, entry: &Entry, hash: &str) -> String {
    format!("{prefix}/{}:{}", entry.dir, &hash[..12.min(hash.len())])
}

async fn ensure_catalog(
    docker: &Docker,
    entry: &'static Entry,
    opts: &ImageOptions,
) -> Result<ResolvedImage, ImageError> {
    let lock = lock_for(&format!("{}/{}", opts.tag_prefix, entry.dir));
    let _one_build = lock.lock().await;

    let base = base::ensure(docker, entry.suite, opts).await?;
    let dir = opts.images_dir.join(entry.dir);
    let ctx = context::Context::read(entry.name, &dir)?;
    let hash = ctx.content_hash(&base.id);
    let tag = content_tag(&opts.tag_prefix, entry, &hash);
    let resolved = |id, origin| ResolvedImage {
        name: entry.name.to_owned(),
        reference: tag.clone(),
        id,
        origin,
    };
    if let Some(id) = local_id(docker, &tag).await? {
        tracing::debug!(image = entry.name, %tag, "up to date");
        return Ok(resolved(id, Origin::Cached));
    }

    let progress = Progress::start(opts, entry.name);
    tracing::info!(image = entry.name, %tag, base = %base.reference, "building");
    let ca = opts.egress.read_ca_bundle()?;
    let labels = HashMap::from([
        (labels::MANAGED.to_owned(), "1".to_owned()),
        (labels::IMAGE.to_owned(), entry.name.to_owned()),
        (labels::CONTENT.to_owned(), hash.clone()),
    ]);
    let mut args: HashMap<String, String> = opts.egress.build_args().into_iter().collect();
    // The id, not the tag: the image is then built on exactly the base that was hashed.
    args.insert("BASE".to_owned(), base.id.clone());
    let spec = build::BuildSpec {
        name: entry.name,
        dockerfile: dir.join("Dockerfile"),
        tag: &tag,
        context: ctx.tar_gz(&ca)?,
        build_args: args,
        labels,
        base_id: &base.id,
    };
    let result = build::run(docker, spec, &progress).await;
    match &result {
        Ok(_) => progress.finish(format!("built {tag}")),
        Err(_) => progress.fail("failed"),
    }
    Ok(resolved(result?, Origin::Built))
}

/// The id of the local image `reference`, or `None` when the engine has no such image.
async fn local_id(docker: &Docker, reference: &str) -> Result<Option<String>, ImageError> {
    match docker.inspect_image(reference).await {
        Ok(image) => Ok(image.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(ImageError::Docker {
            image: reference.to_owned(),
            action: "inspect",
            source,
        }),
    }
}

/// One async mutex per key, for the life of the process: whoever holds it is the one
/// building that image (or base); the others wait and then find it by tag.
fn lock_for(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    // A panic while holding this short map lock leaves the map itself intact.
    let mut map = LOCKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(key.to_owned()).or_default().clone()
}
