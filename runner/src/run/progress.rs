//! What a run shows while it goes: on a terminal, an overall line (jobs done of the
//! total, failures so far, time left estimated from the jobs finished so far) above
//! one indicatif line per running job (its phase and elapsed time); inside GitHub
//! Actions (`GITHUB_ACTIONS=true`), a `::group::` per finished job, `::error`
//! annotations for its failing tests and a Markdown summary appended to
//! `$GITHUB_STEP_SUMMARY` (see [`super::actions`]); otherwise (`CI` set, not a
//! terminal), or with `--quiet`, plain lines. A summary table at the end either way.
//!
//! Only presentation: nothing here decides anything about a job.

use super::actions;
use crate::testresults::Failure;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

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
    /// Inside GitHub Actions: a group per finished job, annotations for failing
    /// tests, the step summary.
    GithubActions,
    /// Nothing at all (tests, embedding).
    Silent,
}

impl OutputMode {
    /// GitHub Actions' own output on its runners; else bars on a terminal, plain
    /// lines otherwise; `quiet` wins over the last two.
    pub fn auto(quiet: bool) -> Self {
        if actions::detected() {
            OutputMode::GithubActions
        } else if quiet {
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
    /// Its failing tests, for annotations.
    pub failures: Vec<Failure>,
}

/// The run's display. Shared by the run's tasks.
pub struct Progress {
    mode: OutputMode,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<usize, ProgressBar>>,
    /// The overall line above the jobs' (bars mode only).
    overall: Option<ProgressBar>,
    total: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
    started: Instant,
}

impl Progress {
    /// A display in `mode`.
    pub fn new(mode: OutputMode) -> Self {
        let multi = (mode == OutputMode::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        // Added first, so it stays above every job's line.
        let overall = multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        Progress {
            mode,
            multi,
            bars: Mutex::default(),
            overall,
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            started: Instant::now(),
        }
    }

    /// The run has `total` jobs.
    pub fn set_total(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.update_overall();
    }

    fn update_overall(&self) {
        if let Some(bar) = &self.overall {
            bar.set_message(overall_line(
                self.done.load(Ordering::Relaxed),
                self.total.load(Ordering::Relaxed),
                self.failed.load(Ordering::Relaxed),
                self.started.elapsed(),
            ));
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
        self.done.fetch_add(1, Ordering::Relaxed);
        if line.status != "passed" && !line.status.ends_with("(allowed)") {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.update_overall();
        if self.mode == OutputMode::GithubActions {
            print!("{}", actions::job_block(line, &format_line(line)));
            return;
        }
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

    /// Clears the bars and prints the summary table; inside GitHub Actions also
    /// appends the step summary of the run `run_name` to `$GITHUB_STEP_SUMMARY`.
    pub fn summary(&self, run_name: &str, lines: &[JobLine], wall: Duration) {
        if let Some(bar) = &self.overall {
            bar.finish_and_clear();
        }
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
        if self.mode == OutputMode::GithubActions {
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
                let text = actions::step_summary(run_name, lines, wall);
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(text.as_bytes()));
                if let Err(e) = written {
                    println!("ponyswarm: could not write the step summary: {e}");
                }
            }
        }
    }
}

/// The overall line: `3/12 jobs done, 1 failed, about 2m10s left`; the time left is
/// the mean time per finished job (wall clock, so parallelism counts) times the jobs
/// still to go.
pub fn overall_line(done: usize, total: usize, failed: usize, elapsed: Duration) -> String {
    let mut out = format!("{done}/{total} jobs done");
    if failed > 0 {
        out.push_str(&format!(", {failed} failed"));
    }
    if done > 0 && done < total {
        let left = elapsed.as_secs_f64() / done as f64 * (total - done) as f64;
        let secs = left.round() as u64;
        let shown = if secs >= 60 {
            format!("{}m{:02}s", secs / 60, secs % 60)
        } else {
            format!("{secs}s")
        };
        out.push_str(&format!(", about {shown} left"));
    }
    out
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
            failures: vec![],
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

    #[test]
    fn overall_line_counts_and_estimates_time_left() {
        let s = Duration::from_secs;
        let cases = [
            (0, 4, 0, s(5), "0/4 jobs done"),
            (1, 4, 0, s(20), "1/4 jobs done, about 1m00s left"),
            (3, 4, 1, s(30), "3/4 jobs done, 1 failed, about 10s left"),
            (4, 4, 2, s(40), "4/4 jobs done, 2 failed"),
        ];
        for (done, total, failed, elapsed, want) in cases {
            assert_eq!(overall_line(done, total, failed, elapsed), want);
        }
    }
}
