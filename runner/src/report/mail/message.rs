//! The mail itself: subject, a text and an HTML body rendered from the handlebars
//! templates `templates/mail.txt.hbs` and `templates/mail.html.hbs` (compiled in;
//! `PONYSWARM_TEMPLATES=DIR` overrides them like the HTML report's), sender and
//! recipients, as a `multipart/alternative` message.
//!
//! Pure but for reading template overrides: nothing is sent here (see [`super::smtp`]).

use super::view::{self, MailView};
use super::MailError;
use crate::outcome::RunResult;
use crate::report::compare::compare;
use crate::report::html::TEMPLATES_ENV;
use handlebars::Handlebars;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use url::Url;

/// The text body's template (file name, built-in text).
const TEXT: (&str, &str) = (
    "mail.txt.hbs",
    include_str!("../../../../templates/mail.txt.hbs"),
);
/// The HTML body's template (file name, built-in text).
const HTML: (&str, &str) = (
    "mail.html.hbs",
    include_str!("../../../../templates/mail.html.hbs"),
);

/// The two compiled templates: text without escaping, HTML escaped.
pub struct MailTemplates {
    text: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl MailTemplates {
    /// The built-in templates, overridden by files in [`TEMPLATES_ENV`]'s directory.
    pub fn load() -> Result<MailTemplates, MailError> {
        let dir = std::env::var_os(TEMPLATES_ENV).map(PathBuf::from);
        MailTemplates::from_dir(dir.as_deref())
    }

    /// The built-in templates, overridden by files in `dir` when given.
    pub fn from_dir(dir: Option<&Path>) -> Result<MailTemplates, MailError> {
        let mut text = Handlebars::new();
        // A text mail is not HTML: `<` and `&` stay as they are.
        text.register_escape_fn(handlebars::no_escape);
        let mut html = Handlebars::new();
        for hb in [&mut text, &mut html] {
            // A misspelt field is an error, not a blank: the tests render both bodies.
            hb.set_strict_mode(true);
        }
        register(&mut text, TEXT, dir)?;
        register(&mut html, HTML, dir)?;
        Ok(MailTemplates { text, html })
    }

    /// `(text, html)` bodies of `view`.
    pub fn render(&self, view: &MailView) -> Result<(String, String), MailError> {
        let render = |hb: &Handlebars<'_>, name: &str| {
            hb.render(name, view).map_err(|source| MailError::Render {
                template: name.to_string(),
                source: Box::new(source),
            })
        };
        Ok((render(&self.text, TEXT.0)?, render(&self.html, HTML.0)?))
    }
}

/// Registers `template` under its file name, from `dir` when the file is there.
fn register(
    hb: &mut Handlebars<'static>,
    (file, builtin): (&str, &str),
    dir: Option<&Path>,
) -> Result<(), MailError> {
    let text = match dir.map(|d| d.join(file)).filter(|p| p.is_file()) {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|source| MailError::TemplateFile { path, source })?,
        None => builtin.to_string(),
    };
    hb.register_template_string(file, text)
        .map_err(|source| MailError::Template {
            template: file.to_string(),
            source: Box::new(source),
        })
}

/// Who sends and who receives.
#[derive(Debug, Clone)]
pub struct Addresses {
    /// `From:`.
    pub from: Mailbox,
    /// `To:`, at least one.
    pub to: Vec<Mailbox>,
}

impl Addresses {
    /// Parses `from` and each of `to` (`ada@example.org` or `Ada <ada@example.org>`).
    pub fn parse(from: &str, to: &[String]) -> Result<Addresses, MailError> {
        let parse = |text: &str| {
            text.trim()
                .parse::<Mailbox>()
                .map_err(|source| MailError::Address {
                    address: text.to_string(),
                    source,
                })
        };
        if to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        Ok(Addresses {
            from: parse(from)?,
            to: to.iter().map(|t| parse(t)).collect::<Result<_, _>>()?,
        })
    }
}

/// The mail reporting `result`, compared with `previous` when given, with links under
/// `reports` when given, dated `now`.
pub fn build(
    templates: &MailTemplates,
    addresses: &Addresses,
    result: &RunResult,
    previous: Option<&RunResult>,
    reports: Option<&Url>,
    now: SystemTime,
) -> Result<Message, MailError> {
    let comparison = previous.map(|p| compare(result, p));
    let view = view::build(result, comparison.as_ref(), reports);
    let (text, html) = templates.render(&view)?;
    let mut builder = Message::builder()
        .from(addresses.from.clone())
        .subject(view::subject(&view))
        .date(now)
        .user_agent(concat!("ponyswarm/", env!("CARGO_PKG_VERSION")).to_string());
    for to in &addresses.to {
        builder = builder.to(to.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(MailError::Build)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;
    use crate::outcome::Tests;
    use crate::report::synthetic::SyntheticRun;
    use std::time::UNIX_EPOCH;

    /// A finished run of jobs `(python, status, failing tests)`.
    fn run(id: &str, jobs: &[(&str, Status, &[&str])]) -> RunResult {
        SyntheticRun::new(id, "demo")
            .matrix_file("ponyswarm.yaml")
            .python_jobs(jobs, |job| {
                job.tests = Some(Tests::new(3, job.failures.len() as u32, 1, 0));
                for failure in &mut job.failures {
                    failure.message = "assert 1 < 0 & more".to_string();
                }
            })
            .finished()
    }

    fn render(
        now: &RunResult,
        before: Option<&RunResult>,
        reports: Option<&str>,
    ) -> (String, String) {
        let reports = reports.map(|r| Url::parse(r).expect("a valid URL"));
        let comparison = before.map(|b| compare(now, b));
        let view = view::build(now, comparison.as_ref(), reports.as_ref());
        let templates = MailTemplates::from_dir(None).expect("built-in templates parse");
        templates.render(&view).expect("built-in templates render")
    }

    #[test]
    fn bodies_show_failures_changes_and_links() {
        let before = run(
            "r1",
            &[("3.12", Status::Passed, &[]), ("3.13", Status::Passed, &[])],
        );
        let now = run(
            "r2",
            &[
                ("3.12", Status::Passed, &[]),
                ("3.13", Status::Failed, &["t::a", "t::b"]),
            ],
        );
        let (text, html) = render(&now, Some(&before), Some("https://ci.example.org/reports/"));
        for want in [
            "demo: failed",
            "2 jobs: 1 passed, 1 failed",
            "10 tests: 6 passed, 2 failed, 2 skipped",
            "Report: https://ci.example.org/reports/r2/index.html",
            "- demo (3.13): failed",
            "first failure: t::a (and 1 more)",
            "      | assert 1 < 0 & more",
            "https://ci.example.org/reports/r2/jobs/002-demo-3.13.html",
            "Since run r1",
            "demo (3.13): passed → failed",
            "Newly failing (2):",
        ] {
            assert!(text.contains(want), "text lacks {want:?}:\n{text}");
        }
        for want in [
            "<a href=\"https://ci.example.org/reports/r2/index.html\">",
            "<a href=\"https://ci.example.org/reports/r2/jobs/002-demo-3.13.html\">demo (3.13)</a>",
            "assert 1 &lt; 0 &amp; more",
            "<code>t::a (demo (3.13))</code>",
        ] {
            assert!(html.contains(want), "html lacks {want:?}:\n{html}");
        }
        assert!(!html.contains("1 < 0"), "unescaped in HTML:\n{html}");
    }

    #[test]
    fn a_first_passing_run_has_no_changes_or_links() {
        let now = run("r1", &[("3.12", Status::Passed, &[])]);
        let (text, html) = render(&now, None, None);
        assert!(text.starts_with("demo: passed\n"), "{text}");
        for body in [&text, &html] {
            assert!(!body.contains("Since run"), "{body}");
            assert!(!body.contains("did not pass"), "{body}");
            assert!(!body.contains("http"), "{body}");
        }
    }

    #[test]
    fn subject_says_status_and_how_many_jobs_did_not_pass() {
        type Jobs<'a> = &'a [(&'a str, Status, &'a [&'a str])];
        #[rustfmt::skip]
        let table: &[(Jobs, &str)] = &[
            (&[("3.12", Status::Passed, &[])], "[ponyswarm] demo: passed — 1 job"),
            (&[("3.12", Status::Passed, &[]), ("3.13", Status::Failed, &["a"])],
             "[ponyswarm] demo: failed — 1 of 2 jobs did not pass"),
            (&[("3.12", Status::Error, &[]), ("3.13", Status::Error, &[])],
             "[ponyswarm] demo: error — 2 of 2 jobs did not pass"),
        ];
        for (jobs, want) in table {
            let r = run("r", jobs);
            assert_eq!(view::subject(&view::build(&r, None, None)), *want);
        }
    }

    #[test]
    fn addresses_are_checked() {
        let to = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = Addresses::parse(
            "CI <ci@example.org>",
            &to(&["a@example.org", "Bo <b@example.org>"]),
        )
        .expect("valid addresses");
        assert_eq!(ok.to.len(), 2);
        assert_eq!(ok.from.email.to_string(), "ci@example.org");
        #[rustfmt::skip]
        let table: &[(&str, &[&str], &str)] = &[
            ("ci@example.org", &[], "no recipient: give --mail-to"),
            ("ci@example.org", &["not-an-address"], "\"not-an-address\" is not a mail address"),
            ("ci", &["a@example.org"], "\"ci\" is not a mail address"),
        ];
        for (from, list, want) in table {
            let e = Addresses::parse(from, &to(list))
                .expect_err(from)
                .to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn the_message_is_multipart_alternative_to_every_recipient() {
        let r = run("r", &[("3.12", Status::Failed, &["a"])]);
        let addresses = Addresses::parse(
            "ci@example.org",
            &["a@example.org".into(), "b@example.org".into()],
        )
        .expect("valid addresses");
        let templates = MailTemplates::from_dir(None).expect("built-in templates parse");
        let message = build(&templates, &addresses, &r, None, None, UNIX_EPOCH).expect("builds");
        let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert_eq!(message.envelope().to().len(), 2);
    }

    #[test]
    fn an_override_with_a_misspelt_field_is_an_error_naming_the_template() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("mail.txt.hbs"), "{{nmae}}").expect("writable");
        let templates = MailTemplates::from_dir(Some(dir.path())).expect("parses");
        let r = run("r", &[("3.12", Status::Passed, &[])]);
        let e = templates
            .render(&view::build(&r, None, None))
            .expect_err("strict mode")
            .to_string();
        assert!(e.contains("mail.txt.hbs"), "{e}");
    }
}
