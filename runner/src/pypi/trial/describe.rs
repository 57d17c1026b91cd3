//! Whether a release's long description renders on PyPI.
//!
//! Markdown and plain text always render (PyPI falls back to nothing worse than
//! showing them as they are); reStructuredText, PyPI's default when no content type is
//! given, fails on the first warning. That is checked with `readme_renderer`, the
//! renderer PyPI and `twine check` use, fetched into the release's wheelhouse by the
//! prepare phase and run offline in a container of its own: the description is
//! hostile input, and docutils is a large parser.

use crate::sandbox::container::{Container, Exec, ExecEnd, ExecLimits, Tracker};
use crate::sandbox::images::ResolvedImage;
use crate::sandbox::policy::{NetworkAccess, Owner, SandboxBuilder};
use bytes::Bytes;
use std::time::Duration;

/// The package that renders descriptions, as the prepare fetches it.
pub const RENDERER: &str = "readme_renderer";

pub use crate::pypi::description::without_renderer;

/// Renders the reStructuredText `description` with `readme_renderer` from the
/// wheelhouse `volume`, in a container of `image` without network. `Ok(true)` when it
/// renders; `Err` when the renderer could not be installed or the container failed.
pub async fn check_rst(
    docker: &bollard::Docker,
    image: &ResolvedImage,
    python: &str,
    volume: &str,
    owner: &Owner,
    description: &str,
) -> Result<bool, String> {
    let tracker = Tracker::new(docker);
    let config = SandboxBuilder::new(&image.reference)
        .command(vec!["sleep".into(), "infinity".into()])
        .working_dir("/work")
        .network(NetworkAccess::None)
        .work_area("/work", 64 << 20)
        .volume(volume, crate::run::prepare::WHEELS, false)
        .labels(owner.labels())
        .build()
        .map_err(|e| e.to_string())?;
    let name = format!("ponyswarm-{}-describe", owner.run);
    let container = Container::create(docker, &tracker, &name, config)
        .await
        .map_err(|e| e.to_string())?;
    let result = render_in(&container, python, description).await;
    let _ = container.remove().await;
    tracker.teardown().await;
    result
}

/// What names the wheelhouse of a release test's run (with the image and trust):
/// its prepare commands, source tree, and the instant its dependencies were
/// resolved as of.
pub struct RunWheels<'a> {
    /// The prepare commands.
    pub prepare: &'a [String],
    /// The source tree.
    pub src: &'a std::path::Path,
    /// The cutoff (see [`crate::pypi::as_of`]); `None`: today.
    pub cutoff: Option<&'a str>,
}

/// Whether `release`'s description renders (`None`: there is none, or it could not
/// be checked, with a note saying why). `wheels` names the run's wheelhouse; the
/// first Python of `opts` is the one whose wheelhouse is used (every Python's holds
/// the renderer).
pub async fn description_renders(
    docker: &bollard::Docker,
    meta: &crate::pypi::Metadata,
    opts: &super::TrialOptions,
    wheels: &RunWheels<'_>,
    run_id: &str,
    notes: &mut Vec<String>,
) -> Option<bool> {
    let (prepare, src, cutoff) = (wheels.prepare, wheels.src, wheels.cutoff);
    let description = meta.description.as_deref();
    if let Some(known) = without_renderer(description, meta.description_content_type.as_deref()) {
        return known;
    }
    let python = opts.pythons.first().map_or("3.11", String::as_str);
    let image = match crate::sandbox::images::ensure(docker, python, &opts.images).await {
        Ok(image) => image,
        Err(e) => {
            notes.push(format!("description not checked: image {python}: {e}"));
            return None;
        }
    };
    let key = crate::run::prepare::key_for(
        crate::run::prepare::Trust::Untrusted,
        cutoff,
        &image.id,
        prepare,
        src,
        &[],
    );
    let volume = crate::run::prepare::volume_name(&key);
    let pid = std::process::id();
    let owner = Owner {
        run: run_id.to_string(),
        job: None,
        pid,
        pid_start: crate::host::process_start(pid),
    };
    let command = crate::catalog::python_entry(python)
        .and_then(|e| e.python)
        .unwrap_or("python3");
    match check_rst(
        docker,
        &image,
        command,
        &volume,
        &owner,
        description.unwrap_or_default(),
    )
    .await
    {
        Ok(renders) => Some(renders),
        Err(e) => {
            notes.push(format!("description not checked: {e}"));
            None
        }
    }
}

async fn render_in(container: &Container, python: &str, description: &str) -> Result<bool, String> {
    let tar = file_tar("description.rst", description.as_bytes()).map_err(|e| e.to_string())?;
    // Started first: the work area is a tmpfs, mounted while the container runs.
    container.start().await.map_err(|e| e.to_string())?;
    container
        .upload("/work", futures_util::stream::once(async move { Ok(tar) }))
        .await
        .map_err(|e| e.to_string())?;
    let wheels = crate::run::prepare::WHEELS;
    let install = format!(
        "w=$(ls {wheels}/pip-*.whl | head -n 1) && {python} \"$w/pip\" install --quiet \
         --no-index --find-links {wheels} --target /tmp/renderer {RENDERER}"
    );
    let (end, out) = run(container, &install).await?;
    if end != ExecEnd::Exited(0) {
        return Err(format!("installing {RENDERER} failed: {}", out.trim()));
    }
    let render = format!(
        "PYTHONPATH=/tmp/renderer {python} -m {RENDERER} /work/description.rst -o /dev/null"
    );
    let (end, _) = run(container, &render).await?;
    match end {
        ExecEnd::Exited(code) => Ok(code == 0),
        other => Err(format!("rendering the description: {other:?}")),
    }
}

async fn run(container: &Container, line: &str) -> Result<(ExecEnd, String), String> {
    let mut out = Vec::new();
    let limits = ExecLimits {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(120)),
        ..ExecLimits::default()
    };
    let end = container
        .exec(&Exec::shell(line), limits, &mut |b: &[u8]| {
            out.extend_from_slice(b)
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok((end, String::from_utf8_lossy(&out).into_owned()))
}

/// A tar holding one file, owned by the sandbox user.
fn file_tar(name: &str, data: &[u8]) -> std::io::Result<Bytes> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mode(0o644);
    tar.append_data(&mut h, name, data)?;
    tar.into_inner().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rst_needs_the_renderer() {
        let cases = [
            (Some("text"), None, None),
            (Some("text"), Some("text/x-rst"), None),
            (Some("text"), Some("text/x-rst; charset=UTF-8"), None),
            (
                Some("text"),
                Some("text/markdown; variant=GFM"),
                Some(Some(true)),
            ),
            (Some("text"), Some("TEXT/PLAIN"), Some(Some(true))),
            (Some("text"), Some("text/html"), Some(Some(false))),
            (Some("  \n"), None, Some(None)),
            (None, Some("text/x-rst"), Some(None)),
        ];
        for (description, ct, want) in cases {
            assert_eq!(
                without_renderer(description, ct),
                want,
                "{description:?} {ct:?}"
            );
        }
    }
}
