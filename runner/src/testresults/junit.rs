//! JUnit XML (pytest's, and the generic `<testsuites>`/`<testsuite>` shapes other
//! runners write) parsed into a [`TestReport`]: counts, cases and failures.
//!
//! Hostile input: the size is capped before parsing, names and messages are cut, and a
//! malformed document is a [`JunitError`], never a panic.
//!
//! Pure: bytes in, values out.

use super::{CaseStatus, Counts, TestCase, TestReport};
use crate::shorten::shorten;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// JUnit files bigger than this are refused: a real report of many thousand tests is a
/// few MiB, and parsing is the only thing standing between the sandbox and our memory.
pub const MAX_XML_BYTES: usize = 64 << 20;

/// Messages are cut to this many characters: enough for an assertion diff, not a dump.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// Class and test names are cut to this many characters.
const MAX_NAME_CHARS: usize = 500;

/// How much of a failure's body text is kept while parsing, to find pytest's `E` line.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a JUnit file could not be read. The caller records the counts as unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JunitError {
    /// Bigger than [`MAX_XML_BYTES`]; not read at all.
    #[error("the JUnit XML is {size} bytes, more than the {limit} bytes ponyswarm reads")]
    TooLarge {
        /// The file's size.
        size: usize,
        /// [`MAX_XML_BYTES`].
        limit: usize,
    },
    /// Not well-formed, or cut short (a runner killed while writing it).
    #[error("malformed JUnit XML at byte {position}: {message}")]
    Malformed {
        /// Where the parser gave up.
        position: u64,
        /// What it found wrong.
        message: String,
    },
    /// Well-formed XML of another kind; holds the root element's name.
    #[error("not JUnit XML: the document starts with <{0}>, not <testsuites> or <testsuite>")]
    NotJunit(String),
    /// No element at all.
    #[error("the JUnit XML is empty")]
    Empty,
}

/// Parses a JUnit XML document.
///
/// Counts come from the `<testcase>` elements. A case with both `<failure>` and `<error>`
/// (pytest: failed, then its teardown failed too) counts once, as failed. When a document
/// has no cases at all, the counts come from the attributes of its outermost
/// `<testsuite>` elements, for runners that only write totals.
///
/// # Errors
///
/// A [`JunitError`] when the document is too big, malformed, empty or not JUnit.
pub fn parse(xml: &[u8]) -> Result<TestReport, JunitError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(JunitError::TooLarge {
            size: xml.len(),
            limit: MAX_XML_BYTES,
        });
    }
    let text = String::from_utf8_lossy(xml);
    let mut reader = Reader::from_str(&text);
    let mut parser = Parser::default();
    loop {
        let event = reader.read_event().map_err(|e| JunitError::Malformed {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        if let Event::Eof = event {
            break;
        }
        parser.event(event)?;
    }
    parser.finish(reader.buffer_position())
}

/// The parse state: where we are in the document and the case being read.
#[derive(Default)]
struct Parser {
    report: TestReport,
    seen_root: bool,
    /// Open elements, to tell an unfinished document from a finished one.
    depth: usize,
    /// Open `<testsuite>` elements.
    suite_depth: usize,
    /// Totals from outermost suites' attributes, used when there are no cases.
    suite_totals: Counts,
    case: Option<CaseBuilder>,
}

/// A `<testcase>` being read.
struct CaseBuilder {
    case: TestCase,
    /// Depth of the `<testcase>` element itself.
    depth: usize,
    /// The text of the `<failure>`/`<error>` element being read, if one is open.
    body: Option<String>,
}

impl Parser {
    fn event(&mut self, event: Event<'_>) -> Result<(), JunitError> {
        match event {
            Event::Start(e) => {
                self.element(&e)?;
                self.depth += 1;
            }
            Event::Empty(e) => {
                self.element(&e)?;
                self.close(e.local_name().as_ref());
            }
            Event::End(e) => {
                self.depth = self.depth.saturating_sub(1);
                self.close(e.local_name().as_ref());
            }
            Event::Text(t) => self.text(&t.xml10_content().unwrap_or_default()),
            Event::CData(t) => self.text(&t.decode().unwrap_or_default()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap_or_default();
                match r.resolve_char_ref() {
                    Ok(Some(c)) => self.text(c.encode_utf8(&mut [0; 4])),
                    _ => match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => self.text(s),
                        // Unknown entities stay as written: we never expand DTD entities.
                        None => self.text(&format!("&{name};")),
                    },
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn element(&mut self, e: &BytesStart<'_>) -> Result<(), JunitError> {
        let name = e.local_name();
        let name = name.as_ref();
        if !self.seen_root {
            if name != b"testsuites" && name != b"testsuite" {
                let name = String::from_utf8_lossy(name);
                return Err(JunitError::NotJunit(shorten(&name, MAX_NAME_CHARS)));
            }
            self.seen_root = true;
        }
        match (name, &mut self.case) {
            (b"testsuite", None) => {
                if self.suite_depth == 0 {
                    add_suite_totals(&mut self.suite_totals, e);
                }
                self.suite_depth += 1;
            }
            (b"testcase", None) => {
                self.case = Some(CaseBuilder {
                    case: TestCase {
                        classname: shorten(
                            &attr(e, "classname").unwrap_or_default(),
                            MAX_NAME_CHARS,
                        ),
                        name: shorten(&attr(e, "name").unwrap_or_default(), MAX_NAME_CHARS),
                        status: CaseStatus::Passed,
                        time: attr(e, "time")
                            .and_then(|t| t.trim().parse().ok())
                            .unwrap_or(0.0),
                        message: None,
                    },
                    depth: self.depth,
                    body: None,
                })
            }
            (b"failure" | b"error" | b"skipped", Some(builder))
                if self.depth == builder.depth + 1 =>
            {
                builder.result(name, e)
            }
            _ => {}
        }
        Ok(())
    }

    /// An element ended (or was empty): `name` at the current depth.
    fn close(&mut self, name: &[u8]) {
        match name {
            b"testsuite" if self.case.is_none() => {
                self.suite_depth = self.suite_depth.saturating_sub(1)
            }
            b"testcase" => {
                if let Some(builder) = self.case.take_if(|b| b.depth == self.depth) {
                    self.report.add(builder.case);
                }
            }
            b"failure" | b"error" => {
                if let Some(builder) = self.case.as_mut().filter(|b| b.depth + 1 == self.depth) {
                    builder.end_body();
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        if let Some(body) = self.case.as_mut().and_then(|b| b.body.as_mut()) {
            // Keep the last part: pytest puts the `E` lines at the end.
            body.push_str(text);
            if body.len() > 2 * MAX_BODY_BYTES {
                let from = floor_char_boundary(body, body.len() - MAX_BODY_BYTES);
                body.drain(..from);
            }
        }
    }

    fn finish(mut self, position: u64) -> Result<TestReport, JunitError> {
        if !self.seen_root {
            return Err(JunitError::Empty);
        }
        if self.depth > 0 {
            return Err(JunitError::Malformed {
                position,
                message: "the document ends before its elements are closed".to_string(),
            });
        }
        if self.report.cases.is_empty() && self.report.counts().total() == 0 {
            let t = self.suite_totals;
            (self.report.passed, self.report.failed) = (t.passed, t.failed);
            (self.report.skipped, self.report.errors) = (t.skipped, t.errors);
        }
        Ok(self.report)
    }
}

impl CaseBuilder {
    /// A `<failure>`, `<error>` or `<skipped>` inside the case.
    fn result(&mut self, name: &[u8], e: &BytesStart<'_>) {
        let status = match name {
            b"failure" => CaseStatus::Failed,
            b"error" => CaseStatus::Error,
            _ => CaseStatus::Skipped,
        };
        // failure > error > skipped: the worst thing that happened to the test is its story.
        let rank = |s: CaseStatus| match s {
            CaseStatus::Failed => 3,
            CaseStatus::Error => 2,
            CaseStatus::Skipped => 1,
            CaseStatus::Passed => 0,
        };
        if rank(status) <= rank(self.case.status) {
            return;
        }
        self.case.status = status;
        let message = attr(e, "message").filter(|m| !m.trim().is_empty());
        let kind = attr(e, "type").filter(|t| !t.trim().is_empty());
        self.case.message = message.or(kind).map(|m| shorten(&m, MAX_MESSAGE_CHARS));
        if status != CaseStatus::Skipped {
            self.body = Some(String::new());
        }
    }

    /// The `<failure>`/`<error>` element ended: use its text where the attributes said
    /// too little.
    fn end_body(&mut self) {
        let Some(body) = self.body.take() else { return };
        let body = body.trim();
        self.case.message = match self.case.message.take() {
            None if body.is_empty() => None,
            None => Some(shorten(body, MAX_MESSAGE_CHARS)),
            // pytest says only "collection failure"; the `E` line says which.
            Some(m) if m == "collection failure" => match pytest_error_line(body) {
                Some(line) => Some(shorten(&format!("{m}: {line}"), MAX_MESSAGE_CHARS)),
                None => Some(m),
            },
            Some(m) => Some(m),
        };
    }
}

/// The last `E   …` line of a pytest traceback, without its prefix.
fn pytest_error_line(body: &str) -> Option<&str> {
    body.lines()
        .rev()
        .filter_map(|l| l.strip_prefix("E "))
        .map(str::trim)
        .find(|l| !l.is_empty())
}

/// Adds a suite's `tests`/`failures`/`errors`/`skipped` attributes to `totals`.
fn add_suite_totals(totals: &mut Counts, e: &BytesStart<'_>) {
    let number = |name| {
        attr(e, name)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (tests, failures, errors, skipped) = (
        number("tests"),
        number("failures"),
        number("errors"),
        number("skipped"),
    );
    let passed = tests
        .saturating_sub(failures)
        .saturating_sub(errors)
        .saturating_sub(skipped);
    totals.passed = totals.passed.saturating_add(passed);
    totals.failed = totals.failed.saturating_add(failures);
    totals.errors = totals.errors.saturating_add(errors);
    totals.skipped = totals.skipped.saturating_add(skipped);
}

/// An attribute's value with entities resolved; the raw text when it does not unescape.
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    let a = e.try_get_attribute(name).ok()??;
    match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
        Ok(v) => Some(v.into_owned()),
        Err(_) => Some(String::from_utf8_lossy(&a.value).into_owned()),
    }
}

/// The largest char boundary of `s` at or below `i`.
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testresults::Failure;

    /// Written by pytest 9.2 (`--junitxml -o junit_family=xunit2`) for a file with a pass,
    /// an assertion failure, a skip, a fixture error, a class, a parametrized failure
    /// and an xfail.
    const PYTEST_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="2" skipped="2" tests="8" time="0.040" timestamp="2026-11-23T06:06:31.746404+00:00" hostname="vm"><testcase classname="test_sample" name="test_ok" time="0.000" /><testcase classname="test_sample" name="test_fail" time="0.000"><failure message="AssertionError: lists differ&#10;assert [1, 2] == [1, 3]&#10;  &#10;  At index 1 diff: 2 != 3&#10;  Use -v to get more diff">def test_fail():
&gt;       assert [1, 2] == [1, 3], "lists differ"
E       AssertionError: lists differ
E       assert [1, 2] == [1, 3]
E         
E         At index 1 diff: 2 != 3
E         Use -v to get more diff

test_sample.py:7: AssertionError</failure></testcase><testcase classname="test_sample" name="test_skipped" time="0.000"><skipped type="pytest.skip" message="not on this platform">/tmp/pysample/test_sample.py:9: not on this platform</skipped></testcase><testcase classname="test_sample" name="test_error" time="0.000"><error message="failed on setup with &quot;RuntimeError: fixture exploded&quot;">@pytest.fixture
    def broken():
&gt;       raise RuntimeError("fixture exploded")
E       RuntimeError: fixture exploded

test_sample.py:15: RuntimeError</error></testcase><testcase classname="test_sample.TestGroup" name="test_method" time="0.000" /><testcase classname="test_sample.TestGroup" name="test_param[1]" time="0.000" /><testcase classname="test_sample.TestGroup" name="test_param[2]" time="0.000"><failure message="assert 2 == 1">self = &lt;test_sample.TestGroup object at 0x7fe3e0daf010&gt;, x = 2

    @pytest.mark.parametrize("x", [1, 2])
    def test_param(self, x):
&gt;       assert x == 1
E       assert 2 == 1

test_sample.py:26: AssertionError</failure></testcase><testcase classname="test_sample" name="test_xfail" time="0.000"><skipped type="pytest.xfail" message="known bug" /></testcase></testsuite></testsuites>"#;

    /// pytest 9.2, a test module that fails to import (exit 2).
    const PYTEST_COLLECTION_ERROR: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="0" skipped="0" tests="1" time="0.148" timestamp="2026-11-23T06:06:35.224843+00:00" hostname="vm"><testcase classname="" name="test_c" time="0.000"><error message="collection failure">ImportError while importing test module '/tmp/pysample/coll/test_c.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
test_c.py:1: in &lt;module&gt;
    import nosuchmodule
E   ModuleNotFoundError: No module named 'nosuchmodule'</error></testcase></testsuite></testsuites>"#;

    /// pytest 9.2 with nothing collected (exit 5).
    const PYTEST_EMPTY: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="0" time="0.018" timestamp="2026-11-23T06:06:34.964983+00:00" hostname="vm" /></testsuites>"#;

    #[test]
    fn pytest_report_counts_cases_and_failures() {
        let report = parse(PYTEST_XML.as_bytes()).expect("parses");
        assert_eq!(report.counts(), Counts::new(3, 2, 2, 1));
        assert_eq!(report.cases.len(), 8);
        let param = &report.cases[6];
        assert_eq!(
            (param.classname.as_str(), param.name.as_str()),
            ("test_sample.TestGroup", "test_param[2]")
        );
        assert_eq!(
            report.cases[2].message.as_deref(),
            Some("not on this platform")
        );
        assert_eq!(
            report.failures(),
            vec![
                Failure {
                    test: "test_sample::test_fail".into(),
                    message:
                        "AssertionError: lists differ\nassert [1, 2] == [1, 3]\n  \n  At index 1 \
                              diff: 2 != 3\n  Use -v to get more diff"
                            .into(),
                },
                Failure {
                    test: "test_sample::test_error".into(),
                    message: "failed on setup with \"RuntimeError: fixture exploded\"".into(),
                },
                Failure {
                    test: "test_sample.TestGroup::test_param[2]".into(),
                    message: "assert 2 == 1".into()
                },
            ]
        );
    }

    #[test]
    fn pytest_collection_error_names_the_import() {
        let report = parse(PYTEST_COLLECTION_ERROR.as_bytes()).expect("parses");
        assert_eq!(report.counts(), Counts::new(0, 0, 0, 1));
        assert_eq!(
            report.failures(),
            vec![Failure {
                test: "test_c".into(),
                message: "collection failure: ModuleNotFoundError: No module named 'nosuchmodule'"
                    .into(),
            }]
        );
    }

    #[test]
    fn generic_shapes() {
        /// What, XML, counts, failures as (test, message).
        type Case = (
            &'static str,
            &'static str,
            Counts,
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            (
                "empty pytest run",
                PYTEST_EMPTY,
                Counts::new(0, 0, 0, 0),
                &[],
            ),
            (
                "bare testsuite root, body as message, type as fallback",
                r#"<testsuite name="x" tests="3"><testcase classname="a.B" name="t1"><failure>boom
at line 3</failure></testcase><testcase name="t2"><error type="IOError"/></testcase><testcase name="t3" time="1.5"/></testsuite>"#,
                Counts::new(1, 1, 0, 1),
                &[("a.B::t1", "boom\nat line 3"), ("t2", "IOError")],
            ),
            (
                "nested suites, CDATA, system-out ignored",
                r#"<?xml version="1.0"?><testsuites><testsuite name="outer"><testsuite name="inner"><testcase classname="c" name="n"><failure><![CDATA[x < y]]></failure><system-out>noise</system-out></testcase><testcase classname="c" name="s"><skipped/></testcase></testsuite></testsuite></testsuites>"#,
                Counts::new(0, 1, 1, 0),
                &[("c::n", "x < y")],
            ),
            (
                "failure beats a teardown error in the same case",
                r#"<testsuites><testsuite><testcase classname="m" name="t"><failure message="assert 0"/><error message="failed on teardown"/></testcase></testsuite></testsuites>"#,
                Counts::new(0, 1, 0, 0),
                &[("m::t", "assert 0")],
            ),
            (
                "totals only, no cases",
                r#"<testsuites><testsuite tests="10" failures="2" errors="1" skipped="3"/><testsuite tests="4" failures="x"/></testsuites>"#,
                Counts::new(8, 2, 3, 1),
                &[],
            ),
            (
                "unknown entity kept, not expanded",
                r#"<testsuite><testcase name="t"><failure>a &ent; b &#65;&amp;</failure></testcase></testsuite>"#,
                Counts::new(0, 1, 0, 0),
                &[("t", "a &ent; b A&")],
            ),
        ];
        for (what, xml, want, failures) in cases {
            let report = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(report.counts(), *want, "{what}");
            let got: Vec<(String, String)> = report
                .failures()
                .into_iter()
                .map(|f| (f.test, f.message))
                .collect();
            let want: Vec<(String, String)> = failures
                .iter()
                .map(|(t, m)| (t.to_string(), m.to_string()))
                .collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_crash() {
        let cases: &[(&str, &[u8])] = &[
            ("empty", b""),
            ("whitespace", b"  \n"),
            ("not junit", b"<html><body/></html>"),
            ("truncated", b"<testsuites><testsuite><testcase name=\"a\">"),
            (
                "mismatched",
                b"<testsuite><testcase></testsuite></testcase>",
            ),
            ("garbage", b"\x00\xff<<<>>>&&&"),
        ];
        for (what, xml) in cases {
            assert!(parse(xml).is_err(), "{what}: {:?}", parse(xml));
        }
        assert_eq!(parse(b"<html/>"), Err(JunitError::NotJunit("html".into())));
    }

    #[test]
    fn oversized_input_is_refused() {
        let xml = vec![b' '; MAX_XML_BYTES + 1];
        assert_eq!(
            parse(&xml),
            Err(JunitError::TooLarge {
                size: MAX_XML_BYTES + 1,
                limit: MAX_XML_BYTES
            })
        );
    }

    #[test]
    fn long_messages_and_names_are_cut() {
        let long = "é".repeat(10_000);
        let xml = format!(
            r#"<testsuite><testcase name="{long}"><failure message="{long}">{long}</failure></testcase></testsuite>"#
        );
        let report = parse(xml.as_bytes()).expect("parses");
        let case = &report.cases[0];
        assert_eq!(case.name.chars().count(), MAX_NAME_CHARS);
        assert_eq!(
            case.message.as_deref().map(|m| m.chars().count()),
            Some(MAX_MESSAGE_CHARS)
        );
        assert!(case.message.as_deref().is_some_and(|m| m.ends_with('…')));
    }

    #[test]
    fn invalid_utf8_is_read_lossily() {
        let xml = b"<testsuite><testcase name=\"caf\xe9\"/></testsuite>";
        let report = parse(xml).expect("parses");
        assert_eq!(report.cases[0].name, "caf\u{fffd}");
    }
}
