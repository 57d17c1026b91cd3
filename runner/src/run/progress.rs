//! What a run shows while it goes: on a terminal, one indicatif line per running job
//! (its phase and elapsed time); otherwise, or with `--quiet`, plain lines. A summary
//! table at the end either way.
//!
//! Only presentation: nothing here decides anything about a job.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How a run reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// A live line per running job (needs a terminal).
    #[default]
    Bars,
    /// A plain line when a job starts, changes phase, and ends.
    Lines,
    /// A plain line when a job ends, and the summary.
    Quiet,
    /// Nothing at all (tests, embedding).
    Silent,
}

impl OutputMode {
    /// Bars on a terminal, plain lines otherwise; `quiet` wins.
    pub fn auto(quiet: bool) -> Self {
        if quiet {
            OutputMode::Quiet
        } else if std::io::stdout().is_terminal() {
            OutputMode::Bars
        } else {
            OutputMode::Lines
        }
    }
}

/// A phase of a job's life, as shown and timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for a free slot (`--jobs`).
    Queued,
    /// Making the images available.
    Images,
    /// Starting services and waiting for their health checks.
    Services,
    /// Filling the wheelhouse (network on).
    Prepare,
    /// Installing, offline.
    Install,
    /// Running the tests, offline.
    Test,
    /// Removing containers and the network.
    Teardown,
}

impl Phase {
    /// The phase's name in results.json and on screen.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Images => "images",
            Phase::Services => "services",
            Phase::Prepare => "prepare",
            Phase::Install => "install",
            Phase::Test => "test",
            Phase::Teardown => "teardown",
        }
    }
}

/// One finished job, as the summary shows it.
#[derive(Debug, Clone)]
pub struct JobLine {
    /// The job's name.
    pub name: String,
    /// Its status (`passed`, `failed`, …).
    pub status: String,
    /// `passed/failed/skipped/errors`, or `-` when unknown.
    pub tests: String,
    /// How long it took.
    pub duration: Duration,
    /// Why it did not pass, in a line (the first failure, or the status's detail).
    pub why: Option<String>,
}

/// The run's display. Shared by the run's tasks.
pub struct Progress {
    mode: OutputMode,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<usize, ProgressBar>>,
}

impl Progress {
    /// A display in `mode`.
    pub fn new(mode: OutputMode) -> Self {
        let multi = (mode == OutputMode::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            mode,
            multi,
            bars: Mutex::default(),
        }
    }

    /// The indicatif root, for image builds to draw their bars under (bars mode only).
    pub fn multi(&self) -> Option<&MultiProgress> {
        self.multi.as_ref()
    }

    /// Job `index` (called `name`) entered `phase`.
    pub fn phase(&self, index: usize, name: &str, phase: Phase) {
        match (&self.multi, self.mode) {
            (Some(multi), _) => {
                let mut bars = self.bars.lock().unwrap_or_else(PoisonError::into_inner);
                let bar = bars.entry(index).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    let style = ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {prefix:10} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    bar.set_style(style);
                    bar.set_message(name.to_string());
                    bar.enable_steady_tick(Duration::from_millis(250));
                    bar
                });
                bar.set_prefix(phase.name());
            }
            (None, OutputMode::Lines) => println!("{name}: {}", phase.name()),
            _ => {}
        }
    }

    /// Job `index` ended.
    pub fn finished(&self, index: usize, line: &JobLine) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&index)
        {
            bar.finish_and_clear();
            if let Some(multi) = &self.multi {
                multi.remove(&bar);
                let _ = multi.println(format_line(line));
            }
            return;
        }
        if matches!(self.mode, OutputMode::Lines | OutputMode::Quiet) {
            println!("{}", format_line(line));
        }
    }

    /// Prints something above the bars (or as a plain line).
    pub fn note(&self, text: &str) {
        match (&self.multi, self.mode) {
            (Some(multi), _) => {
                let _ = multi.println(text);
            }
            (None, OutputMode::Silent) => {}
            (None, _) => println!("{text}"),
        }
    }

    /// Clears the bars and prints the summary table.
    pub fn summary(&self, lines: &[JobLine], wall: Duration) {
        for (_, bar) in self
            .bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
        {
            bar.finish_and_clear();
        }
        if self.mode == OutputMode::Silent {
            return;
        }
        println!("{}", summary_table(lines, wall));
    }
}

fn format_line(line: &JobLine) -> String {
    format!(
        "{:<15} {} (tests {}, {:.1}s)",
        line.status,
        line.name,
        line.tests,
        line.duration.as_secs_f64()
    )
}

/// The summary table: one row per job, then the totals per status.
pub fn summary_table(lines: &[JobLine], wall: Duration) -> String {
    let width = lines
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut out = format!(
        "\n{:<15} {:<width$} {:>13} {:>8}\n",
        "STATUS", "JOB", "TESTS p/f/s/e", "TIME"
    );
    for l in lines {
        out.push_str(&format!(
            "{:<15} {:<width$} {:>13} {:>7.1}s\n",
            l.status,
            l.name,
            l.tests,
            l.duration.as_secs_f64()
        ));
    }
    for l in lines {
        if let Some(why) = &l.why {
            out.push_str(&format!("\n{}: {why}", l.name));
        }
    }
    if lines.iter().any(|l| l.why.is_some()) {
        out.push('\n');
    }
    let mut totals: Vec<(String, usize)> = Vec::new();
    for l in lines {
        match totals.iter_mut().find(|(s, _)| *s == l.status) {
            Some((_, n)) => *n += 1,
            None => totals.push((l.status.clone(), 1)),
        }
    }
    let totals: Vec<String> = totals.iter().map(|(s, n)| format!("{n} {s}")).collect();
    out.push_str(&format!(
        "\n{} jobs: {} in {:.1}s",
        lines.len(),
        totals.join(", "),
        wall.as_secs_f64()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_every_job_and_totals() {
        let line = |name: &str, status: &str| JobLine {
            name: name.into(),
            status: status.into(),
            tests: "1/0/0/0".into(),
            duration: Duration::from_secs(2),
            why: (status == "failed").then(|| "test_x: boom".to_string()),
        };
        let t = summary_table(
            &[
                line("a (3.11)", "passed"),
                line("a (3.13)", "failed"),
                line("b", "passed"),
            ],
            Duration::from_secs(5),
        );
        assert!(t.contains("a (3.13): test_x: boom"), "{t}");
        assert!(t.contains("3 jobs: 2 passed, 1 failed in 5.0s"), "{t}");
    }
}
