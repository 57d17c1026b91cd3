//! The HTML report in a real browser: render a run's report, open it in headless
//! chromium (Debian's package), check that every link resolves to a file of the site and
//! that the grid shows every job, and save screenshots to look at.
//!
//! The run is a synthetic one with every status (see `report_support`), compared with a
//! previous run; set `PONYSWARM_REPORT_RESULTS=path/to/results.json` to check the report
//! of a real run as well. Screenshots go to `target/report-browser/`.

mod report_support;

use ponyswarm::outcome::RunResult;
use ponyswarm::report::{pages::job_files, results, write_html};
use report_support::{synthetic, SMALL};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn synthetic_report_opens_in_chromium_with_every_link_and_job() {
    let Some(chromium) = chromium() else { return };
    let previous = synthetic("20261122-101500-aaaaaa", SMALL, true, 40);
    let current = synthetic("20261123-101500-bbbbbb", SMALL, false, 400);
    let dir = out_dir("synthetic");
    check_site(&chromium, &current, Some(&previous), &dir);
}

#[test]
fn real_run_report_opens_in_chromium() {
    let Some(chromium) = chromium() else { return };
    // A real run through the binary (the planted-failure fixture: passes and failures
    // on one axis value), unless PONYSWARM_REPORT_RESULTS names one already made.
    let made = tempfile::tempdir().expect("tempdir");
    let path = match std::env::var("PONYSWARM_REPORT_RESULTS") {
        Ok(path) => PathBuf::from(path),
        Err(_) => real_run(made.path()),
    };
    let run = results::load(&path).expect("reads the results.json");
    assert!(!run.jobs.is_empty(), "the real run has jobs");
    check_site(&chromium, &run, None, &out_dir("real"));
}

/// Runs the planted-failure fixture with the binary; returns its results.json.
fn real_run(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/projects/planted/ponyswarm.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .arg("run")
        .arg(&fixture)
        .args(["--quiet", "--filter", "size=1", "--report-dir"])
        .arg(dir)
        .env(
            "PONYSWARM_DATABASE",
            format!("sqlite://{}", dir.join("store.db").display()),
        )
        .output()
        .expect("ponyswarm runs");
    // 1: the planted failure fails its job, as it should.
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.join("index.html").is_file(),
        "`run` writes the report beside results.json"
    );
    dir.join("results.json")
}

/// Renders `run`'s report into `dir` and checks it in the browser.
fn check_site(chromium: &Path, run: &RunResult, previous: Option<&RunResult>, dir: &Path) {
    let site = write_html(run, previous, dir).expect("writes the report");
    let files = job_files(run);

    // The index as the browser built it: every job in the grid, every link resolving.
    let dom = dump_dom(chromium, &site.index);
    assert!(
        dom.contains("id=\"matrix\""),
        "no grid in the DOM of {}",
        site.index.display()
    );
    let cells: BTreeSet<String> = anchors(&dom)
        .into_iter()
        .filter(|(class, _)| class.split_whitespace().any(|c| c == "cell"))
        .map(|(_, href)| href)
        .collect();
    let all: BTreeSet<String> = files.iter().cloned().collect();
    assert_eq!(cells, all, "the grid must show every job once");
    check_links(&site.index, &dom);

    // Job pages: a few through the browser, all by their files.
    let through_browser: BTreeSet<usize> =
        [0, files.len() / 2, files.len() - 1].into_iter().collect();
    for (i, file) in files.iter().enumerate() {
        let page = dir.join(file);
        let html = if through_browser.contains(&i) {
            dump_dom(chromium, &page)
        } else {
            std::fs::read_to_string(&page).expect("reads a job page")
        };
        assert!(html.contains("id=\"job-status\""), "{file} has no status");
        check_links(&page, &html);
    }

    screenshot(chromium, &site.index, &dir.join("index.png"), 1400, 2200);
    if let Some(failing) = run.jobs.iter().position(|j| !j.failures.is_empty()) {
        screenshot(
            chromium,
            &dir.join(&files[failing]),
            &dir.join("job.png"),
            1200,
            1800,
        );
    }
    eprintln!(
        "report: {} ({} bytes index, {} job pages, {} bytes in all); screenshots in {}",
        site.index.display(),
        site.index_bytes,
        site.job_pages,
        site.total_bytes,
        dir.display()
    );
}

/// Every relative link of `page` (its DOM or HTML) must name a file of the site.
fn check_links(page: &Path, html: &str) {
    let base = page.parent().expect("a page has a directory");
    let mut checked = 0;
    for (_, href) in anchors(html) {
        if href.is_empty() || href.starts_with('#') {
            continue;
        }
        assert!(
            !href.contains("://") && !href.starts_with("//"),
            "{}: external link {href}: the report must work offline",
            page.display()
        );
        let file = href.split(['#', '?']).next().unwrap_or(&href);
        let target = base.join(file);
        assert!(
            target.is_file(),
            "{}: link {href} goes nowhere ({})",
            page.display(),
            target.display()
        );
        checked += 1;
    }
    assert!(checked > 0, "{}: no links at all", page.display());
    // Text from logs is escaped, so a tag here is ours: there must be none that loads.
    for tag in ["<script", "<img", "<link", "<iframe"] {
        assert!(
            !html.contains(tag),
            "{}: has an asset tag {tag}",
            page.display()
        );
    }
}

/// `(class, href)` of every `<a>` in `html`.
fn anchors(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<a ") {
        let tag_end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = &rest[start..tag_end];
        out.push((
            attribute(tag, "class"),
            attribute(tag, "href").replace("&amp;", "&"),
        ));
        rest = &rest[tag_end..];
    }
    out
}

/// The value of `name="…"` in a tag, or empty.
fn attribute(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    tag.find(&key)
        .and_then(|i| {
            let v = &tag[i + key.len()..];
            v.find('"').map(|end| v[..end].to_string())
        })
        .unwrap_or_default()
}

// ---- chromium ----

/// Debian's chromium, or `CHROMIUM`; `None` (with a loud message) when missing.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var("CHROMIUM")
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(String::from));
    for c in candidates {
        let out = Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .ok()?;
        if out.status.success() {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    // In CI a missing browser is a failure, not a skip: .ci/run installs it.
    assert!(
        std::env::var_os("CI").is_none(),
        "no chromium on PATH in CI: .ci/run must install Debian's `chromium`"
    );
    eprintln!("\n!!!!!!!! SKIPPED: no chromium on PATH. Install Debian's `chromium`. !!!!!!!!\n");
    None
}

/// Runs chromium headless on `page` with `args`, in a profile of its own (other
/// chromiums may be running), under a deadline.
fn headless(chromium: &Path, page: &Path, args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page exists").display()
    );
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(&url)
        .output()
        .expect("runs chromium");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn dump_dom(chromium: &Path, page: &Path) -> String {
    let out = headless(chromium, page, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "chromium gave no DOM for {}",
        page.display()
    );
    dom
}

fn screenshot(chromium: &Path, page: &Path, png: &Path, width: u32, height: u32) {
    let _ = std::fs::remove_file(png);
    headless(
        chromium,
        page,
        &[
            &format!("--screenshot={}", png.display()),
            &format!("--window-size={width},{height}"),
        ],
    );
    let size = std::fs::metadata(png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "{} is empty or missing", png.display());
}

/// `target/report-browser/NAME`, emptied.
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/report-browser")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates the output directory");
    dir
}
