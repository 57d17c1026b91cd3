//! Running one image build on the engine: the classic builder (API 1.41 has no
//! BuildKit session support in bollard without extra features, and needs none),
//! streaming its log to tracing and the progress bar, and turning a failure into an
//! error that shows the failing step and the log's last lines.

use crate::shorten::shorten;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptions};
use bollard::Docker;

use super::progress::Progress;
use super::{local_id, ImageError};
use crate::sandbox::docker::{for_long_calls, next_or_stall, STALL};

/// How many log lines a failed build shows.
const TAIL_LINES: usize = 20;

/// What to build.
pub(super) struct BuildSpec<'a> {
    /// The catalog name, for messages.
    pub name: &'a str,
    /// The Dockerfile on the host, for messages.
    pub dockerfile: PathBuf,
    /// The tag to give the result.
    pub tag: &'a str,
    /// The build context, a tar.gz.
    pub context: Vec<u8>,
    /// Build arguments (`BASE`, proxy variables).
    pub build_args: HashMap<String, String>,
    /// Labels for the image.
    pub labels: HashMap<String, String>,
    /// The base image's id, which a failed build must never remove.
    pub base_id: &'a str,
}

/// Builds `spec` and returns the new image's id.
pub(super) async fn run(
    docker: &Docker,
    spec: BuildSpec<'_>,
    progress: &Progress,
) -> Result<String, ImageError> {
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(spec.tag)
        .rm(true)
        // Failed steps' containers too: a broken Dockerfile must not leave litter.
        .forcerm(true)
        .buildargs(&spec.build_args)
        .labels(&spec.labels)
        .build();
    // What the tag named before: a build whose stream broke is known to have finished
    // only if the tag now names another image.
    let before = local_id(docker, spec.tag).await?;
    let body = bollard::body_full(spec.context.into());
    let long = for_long_calls(docker);
    let mut stream = long.build_image(options, None, Some(body));
    let mut log = BuildLog::default();
    loop {
        let item = match next_or_stall(&mut stream, STALL).await {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(stalled) => {
                log.flush(spec.name);
                return Err(ImageError::BuildFailed {
                    name: spec.name.to_owned(),
                    dockerfile: spec.dockerfile,
                    step: log.step,
                    message: format!("the build stalled: {stalled}"),
                    tail: log.tail.into(),
                });
            }
        };
        match item {
            Ok(info) => {
                if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                    log.push(spec.name, text, progress);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                log.flush(spec.name);
                remove_last_layer(docker, &log, spec.base_id).await;
                return Err(ImageError::BuildFailed {
                    name: spec.name.to_owned(),
                    dockerfile: spec.dockerfile,
                    step: log.step,
                    message: error.trim().to_owned(),
                    tail: log.tail.into(),
                });
            }
            Err(source) => {
                log.flush(spec.name);
                // The engine's answer broke off (seen under load: "bytes remaining on
                // stream" after the last step), which says nothing of the build itself.
                let after = local_id(docker, spec.tag).await?;
                if let Some(id) = finished_despite(before.as_deref(), after) {
                    tracing::warn!(
                        "{}: the engine's build log broke off ({source}), but {} was built",
                        spec.name,
                        spec.tag
                    );
                    return Ok(id);
                }
                return Err(ImageError::Docker {
                    image: spec.tag.to_owned(),
                    action: "build",
                    source,
                });
            }
        }
    }
    log.flush(spec.name);
    local_id(docker, spec.tag)
        .await?
        .ok_or_else(|| ImageError::BuildFailed {
            name: spec.name.to_owned(),
            dockerfile: spec.dockerfile,
            step: log.step,
            message: format!("the build ended without producing {}", spec.tag),
            tail: log.tail.into(),
        })
}

/// The image a build produced although its log stream broke off: the id the tag names
/// `after`, when it names one and not the image it named `before` the build (an
/// unchanged tag may be a build the engine dropped with the connection).
fn finished_despite(before: Option<&str>, after: Option<String>) -> Option<String> {
    after.filter(|id| Some(id.as_str()) != before)
}

/// Removes the image of the last step that succeeded before a failure, which
/// nothing tags: the engine then also removes its untagged parents. Layers other
/// images are built on are refused by the engine (they have children), and the base
/// is skipped, so only this build's leftovers go.
async fn remove_last_layer(docker: &Docker, log: &BuildLog, base_id: &str) {
    let Some(layer) = &log.last_layer else { return };
    if base_id
        .trim_start_matches("sha256:")
        .starts_with(layer.as_str())
    {
        return;
    }
    let _ = docker
        .remove_image(layer, None::<RemoveImageOptions>, None)
        .await;
}

/// The build log as it streams in: chunks are not lines, so they are joined and
/// split here; the current step and the last lines are kept for errors.
#[derive(Default)]
struct BuildLog {
    partial: String,
    step: Option<String>,
    /// The image id the last finished step printed (` ---> 0123456789ab`).
    last_layer: Option<String>,
    tail: VecDeque<String>,
}

impl BuildLog {
    fn push(&mut self, name: &str, chunk: &str, progress: &Progress) {
        self.partial.push_str(chunk);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.line(name, line.trim_end(), progress);
        }
    }

    fn flush(&mut self, name: &str) {
        let rest = std::mem::take(&mut self.partial);
        if !rest.trim().is_empty() {
            self.line(name, rest.trim_end(), &Progress::hidden());
        }
    }

    fn line(&mut self, name: &str, line: &str, progress: &Progress) {
        let line = &crate::report::ansi::strip(line);
        if line.is_empty() {
            return;
        }
        tracing::debug!(image = name, "{line}");
        if let Some(id) = line.trim_start().strip_prefix("---> ") {
            if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.last_layer = Some(id.to_owned());
            }
        }
        if line.starts_with("Step ") {
            // A RUN continued over lines arrives with their indentation: squeeze it.
            let step = line.split_whitespace().collect::<Vec<_>>().join(" ");
            self.step = Some(shorten(&step, 121));
            progress.set(&shorten(&step, 71));
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_stream_counts_as_built_only_when_the_tag_moved() {
        let new = || Some("sha256:new".to_string());
        assert_eq!(finished_despite(None, new()), new());
        assert_eq!(finished_despite(Some("sha256:old"), new()), new());
        assert_eq!(finished_despite(Some("sha256:new"), new()), None);
        assert_eq!(finished_despite(None, None), None);
        assert_eq!(finished_despite(Some("sha256:old"), None), None);
    }

    #[test]
    fn log_lines_are_rejoined_and_the_step_tracked() {
        let mut log = BuildLog::default();
        let p = Progress::hidden();
        log.push("t", "Step 1/2 : FROM x\n ---> abc\nStep 2/2 : RU", &p);
        log.push("t", "N false\n", &p);
        log.push("t", "no newline at the end", &p);
        log.flush("t");
        assert_eq!(log.step.as_deref(), Some("Step 2/2 : RUN false"));
        assert_eq!(log.last_layer, None, "abc is not an image id");
        log.push(
            "t",
            " ---> Running in 0123456789ab\n ---> 0123456789ab\n",
            &p,
        );
        assert_eq!(log.last_layer.as_deref(), Some("0123456789ab"));
        log.tail.truncate(4);
        assert_eq!(
            Vec::from(log.tail),
            [
                "Step 1/2 : FROM x",
                " ---> abc",
                "Step 2/2 : RUN false",
                "no newline at the end"
            ]
        );
    }

    #[test]
    fn colour_codes_are_dropped() {
        assert_eq!(
            crate::report::ansi::strip("\u{1b}[91mE\u{1b}[0m: no"),
            "E: no"
        );
        assert_eq!(crate::report::ansi::strip("plain"), "plain");
    }

    #[test]
    fn the_tail_keeps_only_the_last_lines() {
        let mut log = BuildLog::default();
        for i in 0..50 {
            log.push("t", &format!("line {i}\n"), &Progress::hidden());
        }
        assert_eq!(log.tail.len(), TAIL_LINES);
        assert_eq!(log.tail.back().map(String::as_str), Some("line 49"));
    }
}
