//! The Debian base every catalog image starts from, one per suite: the official
//! `debian:<suite>-slim` when the engine has it or can pull it, else one made here
//! with debootstrap ([`super::rootfs`]) and imported as `<prefix>/debian:<suite>`.
//!
//! Local images are preferred over pulling, so that a registry becoming reachable
//! later does not silently move every image onto a new base (and rebuild it).

use bollard::Docker;

use super::progress::Progress;
use super::{local_id, lock_for, pull, rootfs, ImageError, ImageOptions, PullPolicy};

/// A base image present in the engine.
#[derive(Debug, Clone)]
pub(super) struct Base {
    /// How it is tagged (`debian:bookworm-slim`, `ponyswarm/debian:bookworm`).
    pub reference: String,
    /// Its id; catalog images hash it, so a new base means new images.
    pub id: String,
}

/// The official slim image of `suite`.
pub(super) fn slim_reference(suite: &str) -> String {
    format!("debian:{suite}-slim")
}

/// The image ponyswarm makes for `suite` when the official one cannot be had.
pub(super) fn imported_reference(prefix: &str, suite: &str) -> String {
    format!("{prefix}/debian:{suite}")
}

/// Finds or makes the base for `suite`. Made once even when several images ask for
/// it at the same time.
pub(super) async fn ensure(
    docker: &Docker,
    suite: &str,
    opts: &ImageOptions,
) -> Result<Base, ImageError> {
    let lock = lock_for(&format!("base:{}/{suite}", opts.tag_prefix));
    let _one_base = lock.lock().await;
    if let Some(base) = find_local(docker, suite, &opts.tag_prefix).await? {
        return Ok(base);
    }

    let progress = Progress::start(opts, &format!("debian:{suite}"));
    if opts.pull == PullPolicy::IfMissing {
        let slim = slim_reference(suite);
        progress.set(&format!("pulling {slim}"));
        match pull::pull(docker, &slim, &progress).await {
            Ok(()) => {
                if let Some(id) = local_id(docker, &slim).await? {
                    progress.finish(format!("pulled {slim}"));
                    return Ok(Base {
                        reference: slim,
                        id,
                    });
                }
            }
            Err(reason) => {
                tracing::info!("{slim} cannot be pulled ({reason}); making it with debootstrap")
            }
        }
    }

    let reference = imported_reference(&opts.tag_prefix, suite);
    let made = rootfs::make(docker, suite, &opts.debian_mirror, &reference, &progress).await;
    match made {
        Ok(id) => {
            progress.finish(format!("made {reference} with debootstrap"));
            Ok(Base { reference, id })
        }
        Err(e) => {
            progress.fail("failed");
            Err(e)
        }
    }
}

/// The base for `suite` if the engine already has one.
pub(super) async fn find_local(
    docker: &Docker,
    suite: &str,
    prefix: &str,
) -> Result<Option<Base>, ImageError> {
    for reference in [slim_reference(suite), imported_reference(prefix, suite)] {
        if let Some(id) = local_id(docker, &reference).await? {
            return Ok(Some(Base { reference, id }));
        }
    }
    Ok(None)
}
