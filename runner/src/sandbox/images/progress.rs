//! One progress bar per image being made, showing the step it is at. Without a
//! `MultiProgress` the bar is hidden and only the tracing log says what happens.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::ImageOptions;

/// The progress bar of one image build (or base image), possibly hidden.
pub(super) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A spinner named `name` in `opts.progress`, or a hidden one.
    pub(super) fn start(opts: &ImageOptions, name: &str) -> Self {
        let bar = match &opts.progress {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                // The template is a constant; should it ever be wrong, the default
                // style is still a working spinner.
                if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix:>16} {wide_msg}")
                {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            }
            None => ProgressBar::hidden(),
        };
        bar.set_prefix(name.to_owned());
        Self { bar }
    }

    /// A bar nobody sees, for work that reports nothing.
    pub(super) fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    /// Shows what the build is doing now (the current step).
    pub(super) fn set(&self, message: &str) {
        self.bar.set_message(message.to_owned());
    }

    /// Leaves the bar with a final message.
    pub(super) fn finish(&self, message: String) {
        self.bar.finish_with_message(message);
    }

    /// Leaves the bar saying the build failed (the error itself is reported elsewhere).
    pub(super) fn fail(&self, message: &str) {
        self.bar.abandon_with_message(message.to_owned());
    }
}
