//! One report per release: what installing and testing it found, as JSON
//! (`release.json`) and as one static HTML page (`index.html`).
//!
//! Everything in a report that came from the package (names, metadata, file names,
//! paths it wrote, test names and messages, logs) is hostile input: the page is
//! rendered by handlebars with HTML escaping on, and the template never uses the
//! unescaped `{{{…}}}` form. The page has no scripts and no external assets.

use super::{DistKind, Facts, Metadata};
use crate::outcome::{JobOutcome, Status};
use crate::sandbox::changes::InstallChange;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The packaging quality score, filled in by the caller (see [`super::quality`]).
pub type Score = super::quality::Score;

/// The page's template.
const TEMPLATE: &str = include_str!("../../../templates/pypi-release.html.hbs");

/// Everything the release test found out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseReport {
    /// The project's normalized name.
    pub name: String,
    /// The version tested.
    pub version: String,
    /// When the test ended (UTC, RFC 3339).
    pub tested_at: String,
    /// The run id of the jobs that installed and tested it.
    pub run_id: String,
    /// The release's metadata, as its files say (see [`super::metadata`]), with
    /// where it was read and what reading it found.
    pub metadata: Metadata,
    /// The release's files.
    pub files: Vec<FileReport>,
    /// The sdist's test suite: found or not, and how it would be run.
    pub tests: TestSuite,
    /// One entry per Python and file installed.
    pub installs: Vec<InstallReport>,
    /// The facts the score is computed from.
    pub facts: Facts,
    /// The packaging quality score; `None` until the caller computes it.
    pub score: Option<Score>,
    /// Things the reader should know (entries skipped when unpacking, files not tried).
    pub notes: Vec<String>,
    /// As of when the test tools and dependencies were resolved (`None` in reports
    /// written before it was recorded).
    #[serde(default)]
    pub resolution: Option<super::as_of::Resolution>,
}

/// One file of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// Its name.
    pub filename: String,
    /// Sdist or wheel.
    pub kind: DistKind,
    /// Its verified SHA-256.
    pub sha256: Option<String>,
    /// Whether it was installed (a second wheel or sdist of the release is not).
    pub tried: bool,
}

/// The sdist's test suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSuite {
    /// Whether the sdist carries tests (`false`: "no tests found in the sdist", a
    /// result, not an error).
    pub found: bool,
    /// The command detection chose.
    pub command: String,
    /// Why detection chose it, or where the author's command was read.
    pub reason: String,
    /// The test dependencies installed besides the release, and where each was
    /// declared (see [`super::testdeps`]).
    #[serde(default)]
    pub dependencies: Vec<super::testdeps::Dependency>,
}

/// What the tests of one install did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestVerdict {
    /// They ran and passed.
    Passed,
    /// They ran and some failed (or the runner failed).
    Failed,
    /// The sdist has no tests, or the runner found none.
    NoTests,
    /// They did not run: the install failed, or a limit or an error stopped the job.
    NotRun,
}

/// One install of one file on one Python, and its tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallReport {
    /// The Python (catalog name, e.g. `3.11`).
    pub python: String,
    /// What was installed.
    pub dist: DistKind,
    /// The file installed.
    pub filename: String,
    /// Whether `pip install` succeeded.
    pub installed: bool,
    /// The paths the install changed outside site-packages and the scripts
    /// directory (the flagged ones of `outcome.install_changes`).
    pub flagged: Vec<String>,
    /// What the tests did.
    pub tests: TestVerdict,
    /// What this job says about the release, and why (see [`super::judgement`]).
    #[serde(default)]
    pub judged: super::judgement::Judged,
    /// The job's whole outcome: status, test counts and failures, every change, log.
    pub outcome: JobOutcome,
}

impl InstallReport {
    /// The report of one job's outcome.
    pub fn from_outcome(
        python: &str,
        dist: DistKind,
        filename: &str,
        suite_found: bool,
        outcome: JobOutcome,
    ) -> InstallReport {
        let installed = matches!(
            outcome.status,
            Status::Passed | Status::Failed | Status::NoTests
        );
        // Tests counted are tests run, whatever the layout check thought.
        let counted = outcome
            .tests
            .is_some_and(|t| t.passed + t.failed + t.errors > 0);
        let tests = match outcome.status {
            Status::Passed if suite_found || counted => TestVerdict::Passed,
            Status::Passed | Status::NoTests => TestVerdict::NoTests,
            Status::Failed => TestVerdict::Failed,
            _ if installed => TestVerdict::Failed,
            _ => TestVerdict::NotRun,
        };
        let flagged = outcome
            .install_changes
            .iter()
            .filter(|c: &&InstallChange| c.flagged)
            .map(|c| c.path.clone())
            .collect();
        let evidence = super::judgement::Evidence {
            suite_found,
            ..Default::default()
        };
        InstallReport {
            python: python.to_string(),
            dist,
            filename: filename.to_string(),
            installed,
            flagged,
            tests,
            judged: super::judgement::judge(&outcome, &evidence),
            outcome,
        }
    }
}

/// The facts for the score, from the files and the installs.
pub fn facts_of(files: &[FileReport], suite_found: bool, installs: &[InstallReport]) -> Facts {
    let ran: Vec<&InstallReport> = installs
        .iter()
        .filter(|i| matches!(i.tests, TestVerdict::Passed | TestVerdict::Failed))
        .collect();
    Facts {
        wheel_available: files.iter().any(|f| f.kind == DistKind::Wheel),
        sdist_available: files.iter().any(|f| f.kind == DistKind::Sdist),
        sdist_has_tests: suite_found,
        installs_cleanly: !installs.is_empty() && installs.iter().all(|i| i.installed),
        writes_outside_site_packages: installs.iter().any(|i| !i.flagged.is_empty()),
        tests_passed: (!ran.is_empty()).then(|| ran.iter().all(|i| i.tests == TestVerdict::Passed)),
        description_renders: None,
    }
}

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The directory or a file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The page could not be rendered (a bug in the template).
    #[error("cannot render the release page: {0}")]
    Render(String),
}

/// Writes `release.json` and `index.html` into `dir` (created); returns their paths.
pub fn write(report: &ReleaseReport, dir: &Path) -> Result<(PathBuf, PathBuf), ReportError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let json_path = dir.join("release.json");
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| ReportError::Render(format!("JSON: {e}")))?;
    std::fs::write(&json_path, json).map_err(err(&json_path))?;
    let html_path = dir.join("index.html");
    std::fs::write(&html_path, render_html(report)?).map_err(err(&html_path))?;
    Ok((json_path, html_path))
}

/// The report as one HTML page. Pure.
pub fn render_html(report: &ReleaseReport) -> Result<String, ReportError> {
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(false);
    // The default escape function: every `{{…}}` is HTML-escaped.
    hb.register_template_string("release", TEMPLATE)
        .map_err(|e| ReportError::Render(e.to_string()))?;
    hb.render("release", report)
        .map_err(|e| ReportError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::changes::ChangeKind;

    fn outcome(status: Status, flagged: &[&str]) -> JobOutcome {
        let mut o = JobOutcome::new("j", Default::default(), status);
        o.install_changes = flagged
            .iter()
            .map(|p| InstallChange {
                path: p.to_string(),
                kind: ChangeKind::Added,
                flagged: true,
                inside: 0,
            })
            .chain(std::iter::once(InstallChange {
                path: "/work/venv".into(),
                kind: ChangeKind::Added,
                flagged: false,
                inside: 3,
            }))
            .collect();
        o
    }

    #[test]
    fn verdicts_follow_the_job_status() {
        use TestVerdict::*;
        // Status, tests found in the sdist → installed, verdict.
        let cases = [
            (Status::Passed, true, true, Passed),
            (Status::Passed, false, true, NoTests),
            (Status::NoTests, true, true, NoTests),
            (Status::Failed, true, true, Failed),
            (Status::InstallFailed, true, false, NotRun),
            (Status::Error, true, false, NotRun),
            (Status::Timeout, true, false, NotRun),
        ];
        for (status, found, installed, verdict) in cases {
            let r = InstallReport::from_outcome(
                "3.11",
                DistKind::Wheel,
                "p.whl",
                found,
                outcome(status, &[]),
            );
            assert_eq!((r.installed, r.tests), (installed, verdict), "{status:?}");
        }
    }

    fn file(kind: DistKind) -> FileReport {
        FileReport {
            filename: "f".into(),
            kind,
            sha256: None,
            tried: true,
        }
    }

    #[test]
    fn facts_sum_up_the_installs() {
        let report = |status, flagged: &[&str]| {
            InstallReport::from_outcome(
                "3.11",
                DistKind::Sdist,
                "p.tar.gz",
                true,
                outcome(status, flagged),
            )
        };
        let files = [file(DistKind::Sdist)];
        let f = facts_of(
            &files,
            true,
            &[report(Status::Passed, &[]), report(Status::Passed, &[])],
        );
        assert!(f.sdist_available && !f.wheel_available && f.installs_cleanly);
        assert_eq!(f.tests_passed, Some(true));
        assert!(!f.writes_outside_site_packages);
        let f = facts_of(
            &files,
            true,
            &[
                report(Status::Passed, &["/etc/x"]),
                report(Status::Failed, &[]),
            ],
        );
        assert!(f.writes_outside_site_packages);
        assert_eq!(f.tests_passed, Some(false));
        let f = facts_of(&files, true, &[report(Status::InstallFailed, &[])]);
        assert!(!f.installs_cleanly);
        assert_eq!(f.tests_passed, None);
        assert!(!facts_of(&files, false, &[]).installs_cleanly);
    }

    #[test]
    fn the_page_escapes_everything_from_the_package() {
        let evil = "<script>alert(1)</script>";
        let mut o = outcome(Status::Failed, &["/etc/<b>x</b>"]);
        o.log = evil.into();
        o.failures = vec![crate::testresults::Failure {
            test: evil.into(),
            message: evil.into(),
        }];
        let report = ReleaseReport {
            name: evil.into(),
            version: "1\"><img src=x onerror=alert(1)>".into(),
            tested_at: "t".into(),
            run_id: "r".into(),
            metadata: Metadata {
                summary: Some(evil.into()),
                license: Some(evil.into()),
                classifiers: vec![evil.into()],
                project_urls: [("<i>home</i>".to_string(), "javascript:alert(1)".to_string())]
                    .into(),
                origin: Some(crate::pypi::metadata::Origin {
                    file: Some(evil.into()),
                    member: Some(evil.into()),
                    metadata_version: Some(evil.into()),
                    dynamic: vec![evil.into()],
                    findings: vec![evil.into()],
                    ..crate::pypi::metadata::Origin::new(crate::pypi::metadata::Source::JsonApi)
                }),
                ..Metadata::default()
            },
            files: vec![FileReport {
                filename: evil.into(),
                ..file(DistKind::Wheel)
            }],
            tests: TestSuite {
                found: true,
                command: evil.into(),
                reason: evil.into(),
                dependencies: vec![crate::pypi::testdeps::Dependency {
                    requirement: evil.into(),
                    source: evil.into(),
                }],
            },
            installs: vec![InstallReport::from_outcome(
                "3.11",
                DistKind::Wheel,
                evil,
                true,
                o,
            )],
            facts: Facts::default(),
            score: None,
            notes: vec![evil.into()],
            resolution: Some(crate::pypi::as_of::Resolution::of(
                crate::pypi::as_of::AsOf::At(1_680_430_272),
                &[],
                &[],
            )),
        };
        let mut report = report;
        let mut score = crate::pypi::quality::score(&report.metadata, &report.facts);
        score.checks[0].source = evil.into();
        report.score = Some(score);
        let html = render_html(&report).expect("renders");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            !html.contains("<b>x") && !html.contains("<i>home"),
            "{html}"
        );
        assert!(
            !html.contains("href="),
            "no links from package data: {html}"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("/etc/&lt;b&gt;x&lt;/b&gt;"));
        assert!(
            html.contains("resolved as of 2023-04-02T10:11:12Z"),
            "the cutoff is on the page: {html}"
        );
    }
}
