//! Test results of one run of a test command: counts, cases and failures, read from
//! what the runner left behind, either its JUnit XML ([`junit`]) or, for runners that
//! write none, its summary lines ([`summary`]).
//!
//! The input comes out of the sandbox, so it is hostile: sizes are capped, nothing here
//! panics on it, and malformed input is an error value or `None` the caller turns into
//! "counts unknown".
//!
//! Pure: bytes and strings in, values out.

pub mod junit;
pub mod summary;

use serde::{Deserialize, Serialize};

/// At most this many cases are kept; the counts still cover all of them.
pub const MAX_CASES: usize = 100_000;

/// Test counts of one run of a test command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Passed, including pytest's xpassed.
    pub passed: u32,
    /// Failed an assertion (unittest: also unexpected successes).
    pub failed: u32,
    /// Skipped, including expected failures (pytest's xfailed).
    pub skipped: u32,
    /// Could not run properly: setup, fixture or collection errors.
    pub errors: u32,
}

impl Counts {
    /// Counts of `passed`, `failed`, `skipped` and `errors` tests.
    pub const fn new(passed: u32, failed: u32, skipped: u32, errors: u32) -> Counts {
        Counts {
            passed,
            failed,
            skipped,
            errors,
        }
    }

    /// All tests, whatever their outcome.
    pub fn total(&self) -> u32 {
        self.passed
            .saturating_add(self.failed)
            .saturating_add(self.skipped)
            .saturating_add(self.errors)
    }
}

/// How one test case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// No `<failure>`, `<error>` or `<skipped>` inside.
    Passed,
    /// An assertion failed (`<failure>`).
    Failed,
    /// Skipped, including pytest's xfail (`<skipped>`).
    Skipped,
    /// The test could not run properly: fixture, setup, collection (`<error>`).
    Error,
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// `classname`, e.g. `tests.test_views.TestIndex`; empty for pytest collection errors.
    pub classname: String,
    /// The test's name, e.g. `test_param[2]`.
    pub name: String,
    /// How it ended.
    pub status: CaseStatus,
    /// Seconds.
    pub time: f64,
    /// For failures, errors and skips: the message, cut to [`junit::MAX_MESSAGE_CHARS`].
    pub message: Option<String>,
}

/// A failed or errored test, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// `classname::name`, or just `name` when there is no class name.
    pub test: String,
    /// The failure's message (for pytest, the assertion and its diff), cut to
    /// [`junit::MAX_MESSAGE_CHARS`]; empty when the runner gave none.
    pub message: String,
}

/// A parsed JUnit report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// Cases that passed.
    pub passed: u32,
    /// Cases with a `<failure>`.
    pub failed: u32,
    /// Cases with a `<skipped>` (pytest's xfail included).
    pub skipped: u32,
    /// Cases with an `<error>` and no `<failure>`.
    pub errors: u32,
    /// The cases in file order, at most [`MAX_CASES`].
    pub cases: Vec<TestCase>,
}

impl TestReport {
    /// The counts alone.
    pub fn counts(&self) -> Counts {
        Counts {
            passed: self.passed,
            failed: self.failed,
            skipped: self.skipped,
            errors: self.errors,
        }
    }

    /// Failed and errored cases, in file order.
    pub fn failures(&self) -> Vec<Failure> {
        self.cases
            .iter()
            .filter(|c| matches!(c.status, CaseStatus::Failed | CaseStatus::Error))
            .map(|c| Failure {
                test: if c.classname.is_empty() {
                    c.name.clone()
                } else {
                    format!("{}::{}", c.classname, c.name)
                },
                message: c.message.clone().unwrap_or_default(),
            })
            .collect()
    }

    fn add(&mut self, case: TestCase) {
        let count = match case.status {
            CaseStatus::Passed => &mut self.passed,
            CaseStatus::Failed => &mut self.failed,
            CaseStatus::Skipped => &mut self.skipped,
            CaseStatus::Error => &mut self.errors,
        };
        *count = count.saturating_add(1);
        if self.cases.len() < MAX_CASES {
            self.cases.push(case);
        }
    }
}
