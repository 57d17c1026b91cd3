//! How long the HTML report of a 1,000-job run takes, and how big its pages are.
//!
//! `cargo bench -p ponyswarm --bench report`. The goal is under a second for the whole
//! site; to judge the figure on a busy or slow machine, the same process also times a
//! baseline (writing the run's results.json), and prints the ratio.
//! `PONYSWARM_BENCH_KEEP=DIR` also writes the site into DIR, to look at.

#[path = "../tests/report_support/mod.rs"]
mod report_support;

use ponyswarm::report::pages::{job, job_files};
use ponyswarm::report::{attribution, html, junit};
use report_support::{synthetic, LARGE};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn main() {
    let previous = synthetic("20261122-101500-aaaaaa", LARGE, true, 60);
    let current = synthetic("20261123-101500-bbbbbb", LARGE, false, 200);
    assert_eq!(current.jobs.len(), 1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let hb = html::templates_from(None).expect("templates");

    let baseline = best(|| {
        let json = serde_json::to_vec(&current).expect("serializes");
        std::fs::write(dir.path().join("results.json"), json).expect("writes");
    });
    let attribution = best(|| {
        std::hint::black_box(attribution::attribute(&current.jobs));
    });
    let files = job_files(&current);
    let views = best(|| {
        for i in 0..current.jobs.len() {
            std::hint::black_box(job::build(&current, i, &files));
        }
    });
    let render = best(|| {
        std::hint::black_box(html::render(&hb, &current, Some(&previous)).expect("renders"));
    });
    let mut site = None;
    let whole = best(|| {
        site = Some(html::write_html(&current, Some(&previous), dir.path()).expect("writes"));
    });
    let junit_time = best(|| {
        std::hint::black_box(junit::merged(&current));
    });
    let site = site.expect("written");

    let rendered = html::render(&hb, &current, Some(&previous)).expect("renders");
    let job_sizes: Vec<usize> = rendered.pages[1..].iter().map(|(_, h)| h.len()).collect();
    let results_size = std::fs::metadata(dir.path().join("results.json")).map_or(0, |m| m.len());
    println!("report of a 1,000-job run (best of {ROUNDS}):");
    println!("  whole site (render + write)  {:>8.1} ms", ms(whole));
    println!("    of which attribution       {:>8.1} ms", ms(attribution));
    println!("    of which rendering         {:>8.1} ms", ms(render));
    println!(
        "      job views (ANSI, folding) {:>7.1} ms, one thread",
        ms(views)
    );
    println!("  merged JUnit XML             {:>8.1} ms", ms(junit_time));
    println!(
        "  baseline: write results.json {:>8.1} ms ({} KiB)",
        ms(baseline),
        results_size / 1024
    );
    println!(
        "  site / baseline              {:>8.1} ×",
        whole.as_secs_f64() / baseline.as_secs_f64()
    );
    println!("pages:");
    println!(
        "  index.html                   {:>8} KiB",
        site.index_bytes / 1024
    );
    println!(
        "  job pages                    {:>8} (avg {} KiB, max {} KiB)",
        site.job_pages,
        job_sizes.iter().sum::<usize>() / job_sizes.len().max(1) / 1024,
        job_sizes.iter().max().copied().unwrap_or(0) / 1024
    );
    println!(
        "  whole site                   {:>8} KiB",
        site.total_bytes / 1024
    );
    // To look at the big report: PONYSWARM_BENCH_KEEP=DIR keeps a copy of the site.
    if let Some(keep) = std::env::var_os("PONYSWARM_BENCH_KEEP") {
        let site = html::write_html(&current, Some(&previous), keep.as_ref()).expect("writes");
        println!("kept: {}", site.index.display());
    }
    if whole > Duration::from_secs(1) {
        println!("NOTE: over the one-second goal on this machine");
    }
}

/// The fastest of [`ROUNDS`] runs of `f`: the least disturbed by other work.
fn best(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
