//! The packaging quality score, in the spirit of Cheesecake and pyroma: a list of
//! checks over a release's metadata and what testing it found, each with its points,
//! its maximum, the reason and the source of its fact (the file the metadata was read
//! from, the index's file list, the install jobs), so a maintainer sees what to fix
//! and can check it, not just a number.
//!
//! The metadata is what the files say ([`super::metadata`]), so the score is the same
//! whether or not the index has PyPI's JSON API. A field an sdist's `PKG-INFO` marks
//! `Dynamic` is missing for a reason, and its check says so.
//!
//! Pure: no I/O.

use super::description::{self, Rendered};
use super::{Facts, Metadata};
use serde::{Deserialize, Serialize};

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id (`license`, `tests-pass`), for machines.
    pub id: String,
    /// What is checked, for people.
    pub title: String,
    /// Points given.
    pub points: u32,
    /// Points possible.
    pub max: u32,
    /// Why these points: what was found, or what is missing.
    pub reason: String,
    /// Where the fact came from (`pony-1.0.dist-info/METADATA of
    /// pony-1.0-py3-none-any.whl`, `the index's file list`).
    #[serde(default)]
    pub source: String,
}

/// The score of a release: its checks and their sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// Points given.
    pub total: u32,
    /// Points possible (100).
    pub max: u32,
}

/// A summary longer than this is a description in the wrong field.
const SUMMARY_MAX: usize = 200;
/// A long description shorter than this says nothing a summary does not.
const DESCRIPTION_MIN: usize = 80;

/// Scores a release from its metadata and what testing it found.
pub fn score(meta: &Metadata, facts: &Facts) -> Score {
    let from_metadata = [
        summary(meta),
        description(meta),
        renders(meta, facts),
        license(meta),
        classifiers(meta),
        project_urls(meta),
        requires_python(meta),
    ];
    let source = metadata_source(meta);
    let mut checks: Vec<Check> = from_metadata
        .into_iter()
        .map(|c| Check {
            source: if c.source.is_empty() {
                source.clone()
            } else {
                c.source
            },
            ..c
        })
        .collect();
    checks.extend(from_facts(facts));
    let total = checks.iter().map(|c| c.points).sum();
    let max = checks.iter().map(|c| c.max).sum();
    Score { checks, total, max }
}

/// The file the metadata was read from, in words.
fn metadata_source(meta: &Metadata) -> String {
    meta.origin.as_ref().map_or_else(
        || "the index's answer (the files were not read)".to_string(),
        super::metadata::Origin::describe,
    )
}

/// The index's file list.
const FILE_LIST: &str = "the index's file list";
/// The sandboxed jobs.
const INSTALLS: &str = "pip install of each file on each Python, in the sandbox";

/// The checks of what testing the release found.
fn from_facts(facts: &Facts) -> Vec<Check> {
    let from = |source: &str, c: Check| Check {
        source: source.to_string(),
        ..c
    };
    vec![
        from(
            FILE_LIST,
            flag(
                "sdist",
                "Source distribution uploaded",
                5,
                facts.sdist_available,
                "an sdist is on the index",
                "no sdist: downstream packagers and auditors need the source",
            ),
        ),
        from(
            FILE_LIST,
            flag(
                "wheel",
                "Wheel uploaded",
                10,
                facts.wheel_available,
                "a wheel is on the index",
                "no wheel: every install runs the build backend",
            ),
        ),
        from(
            "the sdist's files (test detection)",
            flag(
                "sdist-tests",
                "Sdist includes its tests",
                10,
                facts.sdist_has_tests,
                "the sdist carries a test suite",
                "no test suite found in the sdist",
            ),
        ),
        from(
            INSTALLS,
            flag(
                "installs",
                "Installs cleanly",
                15,
                facts.installs_cleanly,
                "every pip install (wheel and sdist, each Python) worked",
                "at least one pip install failed",
            ),
        ),
        from("the sdist's tests, run in the sandbox", tests_pass(facts)),
        from(
            "the files each install changed",
            flag(
                "stays-in-site-packages",
                "Install stays in site-packages",
                5,
                !facts.writes_outside_site_packages,
                "the install wrote only site-packages and the scripts directory",
                "the install wrote files outside site-packages and the scripts directory",
            ),
        ),
    ]
}

/// Whether the long description renders on PyPI, rendered here
/// ([`description::render`]): Markdown, plain text and unknown types; `None` for
/// reStructuredText (the default without a content type), which only docutils can
/// tell, and when there is no description.
pub fn renders_without_checking(meta: &Metadata) -> Option<bool> {
    description::without_renderer(
        meta.description.as_deref(),
        meta.description_content_type.as_deref(),
    )
    .flatten()
}

fn check(id: &str, title: &str, points: u32, max: u32, reason: impl Into<String>) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        points,
        max,
        reason: reason.into(),
        source: String::new(),
    }
}

/// A check of a field the metadata lacks: when an sdist's `PKG-INFO` marks it
/// `Dynamic`, the reason says it is left to the build rather than missing.
fn missing(meta: &Metadata, fields: &[&str], c: Check) -> Check {
    let dynamic = meta
        .origin
        .as_ref()
        .and_then(|o| fields.iter().find(|f| o.is_dynamic(f)));
    match dynamic {
        Some(field) => Check {
            reason: format!(
                "{}; the sdist's PKG-INFO marks {field} Dynamic (PEP 643): only a build, or a wheel, would tell",
                c.reason
            ),
            ..c
        },
        None => c,
    }
}

/// All or nothing.
fn flag(id: &str, title: &str, max: u32, ok: bool, yes: &str, no: &str) -> Check {
    if ok {
        check(id, title, max, max, yes)
    } else {
        check(id, title, 0, max, no)
    }
}

fn summary(meta: &Metadata) -> Check {
    let (id, title) = ("summary", "Summary");
    match meta.summary.as_deref().map(str::trim) {
        None | Some("") => missing(
            meta,
            &["summary"],
            check(id, title, 0, 5, "no Summary in the metadata"),
        ),
        Some(s) if s.contains('\n') || s.chars().count() > SUMMARY_MAX => check(
            id,
            title,
            2,
            5,
            format!("the Summary should be one line of at most {SUMMARY_MAX} characters"),
        ),
        Some(_) => check(id, title, 5, 5, "a one-line Summary"),
    }
}

fn description(meta: &Metadata) -> Check {
    let (id, title) = ("description", "Long description");
    let length = meta
        .description
        .as_deref()
        .map_or(0, |d| d.trim().chars().count());
    if length == 0 {
        missing(
            meta,
            &["description"],
            check(
                id,
                title,
                0,
                5,
                "no long description (the project page will be empty)",
            ),
        )
    } else if length < DESCRIPTION_MIN {
        check(
            id,
            title,
            2,
            5,
            format!("the long description is only {length} characters"),
        )
    } else {
        check(
            id,
            title,
            5,
            5,
            format!("a long description of {length} characters"),
        )
    }
}

fn renders(meta: &Metadata, facts: &Facts) -> Check {
    let (id, title) = ("description-renders", "Long description renders");
    let Some(text) = meta.description.as_deref() else {
        return check(id, title, 0, 5, "no long description to render");
    };
    let of = metadata_source(meta);
    let here = |c: Check| Check {
        source: format!("the Description of {of}, rendered with pulldown-cmark"),
        ..c
    };
    let kind = meta.description_content_type.as_deref();
    match description::render(text, kind) {
        Rendered::Renders(size) => here(check(
            id,
            title,
            5,
            5,
            format!(
                "renders as {}: {size} characters on the page",
                kind.unwrap_or_default()
            ),
        )),
        Rendered::Empty => here(check(id, title, 0, 5, "renders to an empty page")),
        Rendered::UnknownType(t) => here(check(
            id,
            title,
            0,
            5,
            format!("PyPI renders text/markdown, text/x-rst and text/plain, not {t:?}"),
        )),
        Rendered::NeedsDocutils => {
            let kind = kind.unwrap_or("text/x-rst (no Description-Content-Type given)");
            let c = match facts.description_renders {
                Some(true) => check(id, title, 5, 5, format!("renders as {kind}")),
                Some(false) => check(
                    id,
                    title,
                    0,
                    5,
                    format!("does not render as {kind}: PyPI shows it as plain text"),
                ),
                None => check(
                    id,
                    title,
                    0,
                    5,
                    "not checked: readme_renderer could not run (the notes say why)",
                ),
            };
            Check {
                source: format!(
                    "the Description of {of}, rendered with readme_renderer in an offline container"
                ),
                ..c
            }
        }
    }
}

fn license(meta: &Metadata) -> Check {
    let (id, title) = ("license", "License");
    let classifier = meta
        .classifiers
        .iter()
        .find(|c| c.starts_with("License ::"));
    match (meta.license.as_deref(), classifier) {
        (Some(l), _) => check(id, title, 10, 10, format!("License: {}", first_line(l))),
        (None, Some(c)) => check(id, title, 10, 10, format!("classifier {c}")),
        (None, None) => missing(
            meta,
            &["license", "license-expression"],
            check(
                id,
                title,
                0,
                10,
                "no License, License-Expression or license classifier: nobody may legally reuse it",
            ),
        ),
    }
}

fn classifiers(meta: &Metadata) -> Check {
    let (id, title) = ("classifiers", "Trove classifiers");
    let python = meta
        .classifiers
        .iter()
        .any(|c| c.starts_with("Programming Language :: Python :: 3"));
    match (meta.classifiers.len(), python) {
        (0, _) => missing(
            meta,
            &["classifier"],
            check(id, title, 0, 5, "no classifiers"),
        ),
        (n, true) => check(
            id,
            title,
            5,
            5,
            format!("{n} classifiers, Python versions among them"),
        ),
        (n, false) => check(
            id,
            title,
            3,
            5,
            format!("{n} classifiers, but none names a Python 3 version"),
        ),
    }
}

fn project_urls(meta: &Metadata) -> Check {
    let (id, title) = ("project-urls", "Project URLs");
    if meta.project_urls.is_empty() {
        missing(
            meta,
            &["project-url", "home-page"],
            check(
                id,
                title,
                0,
                5,
                "no home page or Project-URL: users cannot find the source or report bugs",
            ),
        )
    } else {
        let labels: Vec<&str> = meta.project_urls.keys().map(String::as_str).collect();
        check(id, title, 5, 5, labels.join(", "))
    }
}

fn requires_python(meta: &Metadata) -> Check {
    let (id, title) = ("requires-python", "Requires-Python");
    match &meta.requires_python {
        Some(r) => check(id, title, 5, 5, format!("Requires-Python: {r}")),
        None => missing(
            meta,
            &["requires-python"],
            check(
                id,
                title,
                0,
                5,
                "no Requires-Python: pip installs it on Pythons it does not support",
            ),
        ),
    }
}

fn tests_pass(facts: &Facts) -> Check {
    let (id, title) = ("tests-pass", "Tests pass");
    match facts.tests_passed {
        Some(true) => check(
            id,
            title,
            15,
            15,
            "the sdist's tests passed on every Python",
        ),
        Some(false) => check(id, title, 0, 15, "the sdist's tests failed"),
        None => check(id, title, 0, 15, "no tests ran"),
    }
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("").trim();
    // A whole license text pasted in: name its start only.
    match line.char_indices().nth(60) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pypi::metadata::{Origin, Source};

    fn complete() -> (Metadata, Facts) {
        let meta = Metadata {
            summary: Some("Ponies".into()),
            description: Some("x".repeat(200)),
            description_content_type: Some("text/markdown".into()),
            license: Some("MIT".into()),
            classifiers: vec!["Programming Language :: Python :: 3.11".into()],
            project_urls: [("Source".to_string(), "https://src".to_string())].into(),
            requires_python: Some(">=3.9".into()),
            ..Metadata::default()
        };
        let facts = Facts {
            wheel_available: true,
            sdist_available: true,
            sdist_has_tests: true,
            installs_cleanly: true,
            writes_outside_site_packages: false,
            tests_passed: Some(true),
            description_renders: Some(true),
        };
        (meta, facts)
    }

    fn points(s: &Score, id: &str) -> u32 {
        s.checks
            .iter()
            .find(|c| c.id == id)
            .map_or(999, |c| c.points)
    }

    #[test]
    fn a_complete_release_scores_full_marks() {
        let (meta, facts) = complete();
        let s = score(&meta, &facts);
        assert_eq!((s.total, s.max), (100, 100), "{s:#?}");
    }

    #[test]
    fn an_empty_release_scores_what_it_did_not_break() {
        let s = score(&Metadata::default(), &Facts::default());
        // Only "nothing written outside site-packages" holds of an empty release.
        assert_eq!((s.total, s.max), (5, 100), "{s:#?}");
        assert!(s.checks.iter().all(|c| !c.reason.is_empty()));
    }

    #[test]
    fn each_shortcoming_costs_its_check() {
        type Change = fn(&mut Metadata, &mut Facts);
        let cases: &[(&str, Change, &str, u32)] = &[
            ("no summary", |m, _| m.summary = None, "summary", 0),
            (
                "multi-line summary",
                |m, _| m.summary = Some("a\nb".into()),
                "summary",
                2,
            ),
            (
                "short description",
                |m, _| m.description = Some("short".into()),
                "description",
                2,
            ),
            (
                "rst does not render",
                |m, f| {
                    m.description_content_type = Some("text/x-rst".into());
                    f.description_renders = Some(false);
                },
                "description-renders",
                0,
            ),
            (
                "markdown renders to nothing",
                |m, _| {
                    // Link reference definitions alone: text, but no page.
                    m.description = Some(
                        "[a]: https://example.org/aaaaaaaaaa\n[b]: https://example.org/bbbbbbbbbb\n[c]: https://example.org/cccccccccc\n".into(),
                    )
                },
                "description-renders",
                0,
            ),
            (
                "a type PyPI does not render",
                |m, _| m.description_content_type = Some("text/html".into()),
                "description-renders",
                0,
            ),
            ("no license", |m, _| m.license = None, "license", 0),
            (
                "license classifier only",
                |m, _| {
                    m.license = None;
                    m.classifiers
                        .push("License :: OSI Approved :: MIT License".into());
                },
                "license",
                10,
            ),
            (
                "no python classifier",
                |m, _| m.classifiers = vec!["Topic :: Games".into()],
                "classifiers",
                3,
            ),
            ("no urls", |m, _| m.project_urls.clear(), "project-urls", 0),
            (
                "no requires-python",
                |m, _| m.requires_python = None,
                "requires-python",
                0,
            ),
            ("no wheel", |_, f| f.wheel_available = false, "wheel", 0),
            ("no sdist", |_, f| f.sdist_available = false, "sdist", 0),
            (
                "no tests in sdist",
                |_, f| f.sdist_has_tests = false,
                "sdist-tests",
                0,
            ),
            (
                "install fails",
                |_, f| f.installs_cleanly = false,
                "installs",
                0,
            ),
            (
                "tests fail",
                |_, f| f.tests_passed = Some(false),
                "tests-pass",
                0,
            ),
            (
                "no tests ran",
                |_, f| f.tests_passed = None,
                "tests-pass",
                0,
            ),
            (
                "writes outside",
                |_, f| f.writes_outside_site_packages = true,
                "stays-in-site-packages",
                0,
            ),
        ];
        for (what, change, id, want) in cases {
            let (mut meta, mut facts) = complete();
            change(&mut meta, &mut facts);
            let s = score(&meta, &facts);
            assert_eq!(points(&s, id), *want, "{what}");
            let lost = s.checks.iter().find(|c| c.id == *id).map_or(0, |c| c.max) - want;
            assert_eq!(s.total, 100 - lost, "{what}: only {id} changes");
        }
    }

    #[test]
    fn markdown_and_plain_text_are_rendered_here() {
        let cases = [
            (Some("text/html"), Some(false)),
            (Some("text/markdown"), Some(true)),
            (
                Some("text/markdown; charset=UTF-8; variant=GFM"),
                Some(true),
            ),
            (Some("Text/Plain"), Some(true)),
            (Some("text/x-rst"), None),
            (None, None),
        ];
        for (kind, want) in cases {
            let meta = Metadata {
                description: Some("# Hi".into()),
                description_content_type: kind.map(str::to_string),
                ..Metadata::default()
            };
            assert_eq!(renders_without_checking(&meta), want, "{kind:?}");
        }
        let no_description = Metadata {
            description_content_type: Some("text/markdown".into()),
            ..Metadata::default()
        };
        assert_eq!(renders_without_checking(&no_description), None);
    }

    #[test]
    fn every_check_names_where_its_fact_came_from() {
        let (mut meta, facts) = complete();
        meta.origin = Some(Origin {
            file: Some("pony-1.0-py3-none-any.whl".into()),
            member: Some("pony-1.0.dist-info/METADATA".into()),
            ..Origin::new(Source::Wheel)
        });
        let s = score(&meta, &facts);
        let source = |id: &str| {
            s.checks
                .iter()
                .find(|c| c.id == id)
                .map_or(String::new(), |c| c.source.clone())
        };
        let from_wheel = "pony-1.0.dist-info/METADATA of pony-1.0-py3-none-any.whl";
        for id in [
            "summary",
            "license",
            "classifiers",
            "project-urls",
            "requires-python",
        ] {
            assert_eq!(source(id), from_wheel, "{id}");
        }
        assert_eq!(
            source("description-renders"),
            format!("the Description of {from_wheel}, rendered with pulldown-cmark")
        );
        assert_eq!(source("wheel"), FILE_LIST);
        assert!(s.checks.iter().all(|c| !c.source.is_empty()), "{s:#?}");
    }

    #[test]
    fn dynamic_fields_are_said_to_be_left_to_the_build() {
        let (mut meta, facts) = complete();
        meta.license = None;
        meta.origin = Some(Origin {
            dynamic: vec!["license".into()],
            ..Origin::new(Source::Sdist)
        });
        let s = score(&meta, &facts);
        let license = s
            .checks
            .iter()
            .find(|c| c.id == "license")
            .expect("a license check");
        assert_eq!(license.points, 0);
        assert!(
            license.reason.contains("marks license Dynamic"),
            "{}",
            license.reason
        );
    }

    #[test]
    fn no_description_also_means_nothing_renders() {
        let (mut meta, facts) = complete();
        meta.description = None;
        let s = score(&meta, &facts);
        assert_eq!(
            (points(&s, "description"), points(&s, "description-renders")),
            (0, 0)
        );
        assert_eq!(s.total, 90);
    }
}
