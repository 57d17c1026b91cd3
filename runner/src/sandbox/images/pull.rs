//! Registry references (`postgres:16`, `ghcr.io/org/img@sha256:…`): used when the
//! engine has them, pulled when a registry is reachable, a clear error otherwise.

use std::time::Duration;

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;

use super::progress::Progress;
use super::{local_id, lock_for, ImageError, ImageOptions, Origin, PullPolicy, ResolvedImage};
use crate::sandbox::docker::{for_long_calls, next_or_stall};

/// A pull that reports nothing for this long is given up: an unreachable registry
/// usually fails at once, but a black-holed one would otherwise hang a run.
const PULL_STALL: Duration = Duration::from_secs(120);

/// Makes the reference available: local, else pulled (when the policy allows).
pub(super) async fn ensure_reference(
    docker: &Docker,
    reference: &str,
    opts: &ImageOptions,
) -> Result<ResolvedImage, ImageError> {
    let lock = lock_for(&format!("ref:{reference}"));
    let _one_pull = lock.lock().await;
    let resolved = |id, origin| ResolvedImage {
        name: reference.to_owned(),
        reference: reference.to_owned(),
        id,
        origin,
    };
    if let Some(id) = local_id(docker, reference).await? {
        return Ok(resolved(id, Origin::Local));
    }
    let not_available = |reason: String| ImageError::NotAvailable {
        reference: reference.to_owned(),
        reason,
    };
    if opts.pull == PullPolicy::Never {
        return Err(not_available("pulling is turned off".to_owned()));
    }
    let progress = Progress::start(opts, reference);
    match pull(docker, reference, &progress).await {
        Ok(()) => progress.finish(format!("pulled {reference}")),
        Err(reason) => {
            progress.fail("cannot pull");
            return Err(not_available(reason));
        }
    }
    let id = local_id(docker, reference)
        .await?
        .ok_or_else(|| not_available("the pull ended without the image".to_owned()))?;
    Ok(resolved(id, Origin::Pulled))
}

/// Pulls `reference`; the error is the engine's reason, for messages.
pub(super) async fn pull(
    docker: &Docker,
    reference: &str,
    progress: &Progress,
) -> Result<(), String> {
    let (image, tag) = split_tag(reference);
    let mut options = CreateImageOptionsBuilder::default().from_image(image);
    if let Some(tag) = tag {
        options = options.tag(tag);
    }
    let long = for_long_calls(docker);
    let mut stream = long.create_image(Some(options.build()), None, None);
    loop {
        match next_or_stall(&mut stream, PULL_STALL).await {
            Err(stalled) => return Err(stalled.to_string()),
            Ok(None) => return Ok(()),
            Ok(Some(Ok(info))) => {
                if let Some(status) = info.status {
                    tracing::debug!(%reference, "{status}");
                    progress.set(&status);
                }
            }
            Ok(Some(Err(e))) => return Err(engine_reason(e)),
        }
    }
}

/// The engine's message without bollard's wrapping, which repeats the status code.
fn engine_reason(e: bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        bollard::errors::Error::DockerStreamError { error } => error,
        other => other.to_string(),
    }
}

/// Splits `name:tag` for the pull API, which pulls every tag when given none: a
/// reference without tag or digest means `latest`, as with `docker pull`.
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            &reference[..last_slash + i],
            Some(&reference[last_slash + i + 1..]),
        ),
        None => (reference, Some("latest")),
    }
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn references_without_a_tag_mean_latest() {
        assert_eq!(split_tag("postgres:16"), ("postgres", Some("16")));
        assert_eq!(
            split_tag("library/postgres"),
            ("library/postgres", Some("latest"))
        );
        assert_eq!(
            split_tag("localhost:5000/img"),
            ("localhost:5000/img", Some("latest"))
        );
        assert_eq!(
            split_tag("localhost:5000/img:1"),
            ("localhost:5000/img", Some("1"))
        );
        assert_eq!(split_tag("img@sha256:ab"), ("img@sha256:ab", None));
    }
}
