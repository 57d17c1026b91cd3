//! What a release test's job says about the release, and why: passed; failed (with
//! the failures); `tests-need-network` (every failure is a network call to somewhere
//! other than this machine: the tests need the internet, which the sandbox does not
//! give); `incomplete-setup` (every failure is an import of a module the release
//! declares nowhere: the author should declare it); no tests; install failed; error
//! (ours: a timeout, a limit, a crash of ponyswarm).
//!
//! A missing module shows in two ways: `No module named 'x'`, or, when the test
//! module imports it inside `try: … except ImportError:` and then uses a name that
//! import binds anyway, a `NameError` for that name (mccabe 0.7.0's test module
//! imports hypothesmith and hypothesis so, and decorates a test with hypothesis's
//! `@settings` unconditionally).
//!
//! Facts (the job's status, its failures' messages, the names the release declares,
//! the guarded imports of the failing test modules: an [`Evidence`]) are kept apart
//! from the judgement; the rules are numbered in [`judge`].
//!
//! Pure.

use crate::outcome::{JobOutcome, Status};
use crate::pypi::pysource::Guarded;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one (Python, file) job says about the release.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judgement {
    /// Installed, and the tests ran and passed.
    Passed,
    /// Installed, and tests failed.
    Failed,
    /// Installed; the only failures are network calls to other machines.
    TestsNeedNetwork,
    /// Installed; the tests could not import a module the release does not declare.
    IncompleteSetup,
    /// Installed; no tests were found or run.
    NoTests,
    /// `pip install` failed.
    InstallFailed,
    /// Ours: the job did not get as far as a result (timeout, limit, error).
    #[default]
    Error,
}

impl Judgement {
    /// The name the report and the JSON use (`tests-need-network`).
    pub fn as_str(self) -> &'static str {
        match self {
            Judgement::Passed => "passed",
            Judgement::Failed => "failed",
            Judgement::TestsNeedNetwork => "tests-need-network",
            Judgement::IncompleteSetup => "incomplete-setup",
            Judgement::NoTests => "no-tests",
            Judgement::InstallFailed => "install-failed",
            Judgement::Error => "error",
        }
    }
}

/// A judgement and the reasons for it, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judged {
    /// The judgement.
    pub judgement: Judgement,
    /// Sentences saying why: the modules missing, the tests needing the network, …
    pub why: Vec<String>,
}

/// Messages that say a connection to another machine failed or a name did not
/// resolve.
const NETWORK_MARKERS: &[&str] = &[
    "Temporary failure in name resolution",
    "Name or service not known",
    "nodename nor servname provided",
    "No address associated with hostname",
    "getaddrinfo failed",
    "Network is unreachable",
    "Failed to establish a new connection",
    "NewConnectionError",
    "Max retries exceeded with url",
    "ConnectTimeout",
    "urlopen error",
    "socket.gaierror",
    "ProxyError",
];

/// Message parts that put the failing call on this machine: not a network need.
const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "[::1]", "0.0.0.0"];

/// Whether `message` is a failed network call to another machine.
fn network_failure(message: &str) -> bool {
    NETWORK_MARKERS.iter().any(|m| message.contains(m))
        && !LOOPBACK.iter().any(|l| message.contains(l))
}

/// The modules `text` says could not be imported (`No module named 'x.y'` → `x`).
pub fn missing_modules(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split("No module named ").skip(1) {
        let name: String = part
            .trim_start_matches(['\'', '"'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
            .collect();
        let top = name.split('.').next().unwrap_or("").to_string();
        if !top.is_empty() && !out.contains(&top) {
            out.push(top);
        }
    }
    out
}

/// The name a `NameError` says is not defined (`NameError: name 'settings' is not
/// defined` → `settings`).
pub fn name_error(text: &str) -> Option<&str> {
    let marker = "NameError: name '";
    let at = text.find(marker)? + marker.len();
    let rest = &text[at..];
    let end = rest.find('\'')?;
    let name = &rest[..end];
    let ok = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    ok.then_some(name)
}

/// A name as modules and projects are compared: lower case, `-` and `.` as `_`.
fn comparable(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '.'], "_")
}

/// What the release declares: the project names of its `Requires-Dist`, its test
/// dependencies, and its own name and top-level modules.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    names: Vec<String>,
}

impl Declared {
    /// From project and module names.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Declared {
        Declared {
            names: names.into_iter().map(|n| comparable(n.as_ref())).collect(),
        }
    }

    /// Whether `module` is declared (as a project of the same name, or a module the
    /// release ships).
    pub fn has(&self, module: &str) -> bool {
        self.names.contains(&comparable(module))
    }
}

/// What the rules know besides the job's outcome: facts read from the release.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The sdist ships a test suite.
    pub suite_found: bool,
    /// What the release declares.
    pub declared: Declared,
    /// For a failing test (as its failure names it) whose message is a `NameError`:
    /// the guarded imports of its test module.
    pub guarded: BTreeMap<String, Vec<Guarded>>,
}

/// The modules not declared that `text`, the message of `test`'s failure (or the
/// log, without a test), shows missing, and for a `NameError` the sentence saying
/// which guarded import left the name unbound.
fn undeclared(
    text: &str,
    test: Option<&str>,
    evidence: &Evidence,
) -> (Vec<String>, Option<String>) {
    let declared = &evidence.declared;
    let mut modules: Vec<String> = missing_modules(text)
        .into_iter()
        .filter(|m| !declared.has(m))
        .collect();
    let (Some(name), Some(test)) = (name_error(text), test) else {
        return (modules, None);
    };
    let mut guarded: Vec<String> = Vec::new();
    for g in evidence.guarded.get(test).into_iter().flatten() {
        if g.names.iter().any(|n| n == name) {
            for m in &g.modules {
                if !declared.has(m) && !guarded.contains(m) {
                    guarded.push(m.clone());
                }
            }
        }
    }
    if guarded.is_empty() {
        return (modules, None);
    }
    let why = format!(
        "{test}: NameError for `{name}`, which the test module binds only inside \
         `try: … except ImportError` importing {}",
        guarded.join(", ")
    );
    modules.extend(guarded);
    (modules, Some(why))
}

/// The judgement of one job. The first rule that matches wins:
///
/// 1. the install failed → install-failed;
/// 2. a timeout, a limit, an error or a cancellation → error, with the detail;
/// 3. passed with tests run (or a test suite in the sdist) → passed;
/// 4. passed or no tests without any → no-tests;
/// 5. failed before any test ran, and the sdist ships no tests → no-tests: the
///    author's runner, configured for tests the sdist leaves out (pytest-django's
///    `DJANGO_SETTINGS_MODULE = tests.settings`), stopped at its start;
/// 6. failed, and every failure (or, without JUnit failures, the log) is an import of
///    a module not declared — `No module named`, or a `NameError` for a name that the
///    failing test's module binds only by a guarded import of such modules →
///    incomplete-setup, naming the modules;
/// 7. failed, and every failure is a network call to another machine →
///    tests-need-network, naming the tests;
/// 8. otherwise → failed, naming the first failures.
pub fn judge(outcome: &JobOutcome, evidence: &Evidence) -> Judged {
    let suite_found = evidence.suite_found;
    let judged = |judgement, why| Judged { judgement, why };
    let counted = outcome
        .tests
        .is_some_and(|t| t.passed + t.failed + t.errors > 0);
    match outcome.status {
        Status::InstallFailed => return judged(Judgement::InstallFailed, detail(outcome)),
        Status::Timeout | Status::LimitExceeded | Status::Error | Status::Cancelled => {
            return judged(Judgement::Error, detail(outcome))
        }
        Status::Passed if suite_found || counted => return judged(Judgement::Passed, vec![]),
        Status::Passed | Status::NoTests => return judged(Judgement::NoTests, vec![]),
        Status::Failed => {}
    }
    let failures = &outcome.failures;
    if !suite_found && !counted && failures.is_empty() {
        let mut why = vec![
            "the sdist ships no tests, and the configured runner stopped before any ran"
                .to_string(),
        ];
        why.extend(detail(outcome));
        return judged(Judgement::NoTests, why);
    }
    let texts: Vec<(&str, Option<&str>)> = if failures.is_empty() {
        vec![(outcome.log.as_str(), None)]
    } else {
        failures
            .iter()
            .map(|f| (f.message.as_str(), Some(f.test.as_str())))
            .collect()
    };
    let found: Vec<(Vec<String>, Option<String>)> = texts
        .iter()
        .map(|(t, test)| undeclared(t, *test, evidence))
        .collect();
    if found.iter().all(|(modules, _)| !modules.is_empty()) {
        let mut modules: Vec<String> = found.iter().flat_map(|(m, _)| m.clone()).collect();
        modules.sort();
        modules.dedup();
        let mut why: Vec<String> = modules
            .iter()
            .map(|m| format!("module {m:?} is imported by the tests but declared nowhere"))
            .collect();
        why.extend(found.into_iter().filter_map(|(_, w)| w).take(5));
        return judged(Judgement::IncompleteSetup, why);
    }
    if !failures.is_empty() && failures.iter().all(|f| network_failure(&f.message)) {
        let why = failures
            .iter()
            .map(|f| format!("{} needs the network", f.test))
            .collect();
        return judged(Judgement::TestsNeedNetwork, why);
    }
    let mut why: Vec<String> = failures
        .iter()
        .take(5)
        .map(|f| {
            let first = f.message.lines().next().unwrap_or("");
            format!("{} failed: {first}", f.test)
        })
        .collect();
    if failures.len() > 5 {
        why.push(format!("and {} more", failures.len() - 5));
    }
    why.extend(outcome.detail.clone());
    judged(Judgement::Failed, why)
}

fn detail(outcome: &JobOutcome) -> Vec<String> {
    outcome.detail.clone().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testresults::Failure;

    fn outcome(status: Status, failures: &[(&str, &str)], log: &str) -> JobOutcome {
        let mut o = JobOutcome::new("j", Default::default(), status);
        o.failures = failures
            .iter()
            .map(|(t, m)| Failure {
                test: t.to_string(),
                message: m.to_string(),
            })
            .collect();
        o.log = log.into();
        o
    }

    #[test]
    fn names_are_the_json_names() {
        for j in [
            Judgement::Passed,
            Judgement::Failed,
            Judgement::TestsNeedNetwork,
            Judgement::IncompleteSetup,
            Judgement::NoTests,
            Judgement::InstallFailed,
            Judgement::Error,
        ] {
            assert_eq!(serde_json::to_value(j).expect("json"), j.as_str());
        }
    }

    #[test]
    fn missing_modules_are_read_from_messages() {
        let cases: &[(&str, &[&str])] = &[
            (
                "ModuleNotFoundError: No module named 'hypothesis'",
                &["hypothesis"],
            ),
            (
                "E   ModuleNotFoundError: No module named 'freezegun.api'",
                &["freezegun"],
            ),
            ("ImportError: No module named pretend", &["pretend"]),
            ("AssertionError: 1 != 2", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(missing_modules(text), *want, "{text}");
        }
    }

    #[test]
    fn each_rule_gives_its_judgement() {
        let declared = Declared::new(["requests", "PyYAML", "mypkg", "typing-extensions"]);
        let refused = "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='example.org', port=443): Max retries exceeded with url: / (Caused by NewConnectionError('Failed to establish a new connection: [Errno -3] Temporary failure in name resolution'))";
        let local =
            "ConnectionRefusedError: Failed to establish a new connection to 127.0.0.1:5432";
        let cases: Vec<(JobOutcome, bool, Judgement, &[&str])> = vec![
            (
                outcome(Status::InstallFailed, &[], ""),
                true,
                Judgement::InstallFailed,
                &[],
            ),
            (
                outcome(Status::Timeout, &[], ""),
                true,
                Judgement::Error,
                &[],
            ),
            (
                outcome(Status::Passed, &[], ""),
                true,
                Judgement::Passed,
                &[],
            ),
            (
                outcome(Status::Passed, &[], ""),
                false,
                Judgement::NoTests,
                &[],
            ),
            (
                outcome(Status::NoTests, &[], ""),
                true,
                Judgement::NoTests,
                &[],
            ),
            (
                outcome(
                    Status::Failed,
                    &[
                        (
                            "tests/test_a.py",
                            "ModuleNotFoundError: No module named 'hypothesis'",
                        ),
                        (
                            "tests/test_b.py",
                            "E ModuleNotFoundError: No module named 'freezegun'",
                        ),
                    ],
                    "",
                ),
                true,
                Judgement::IncompleteSetup,
                &["module \"freezegun\" is imported by the tests but declared nowhere"],
            ),
            (
                outcome(
                    Status::Failed,
                    &[],
                    "ERROR collecting\nModuleNotFoundError: No module named 'pretend'",
                ),
                true,
                Judgement::IncompleteSetup,
                &["module \"pretend\" is imported by the tests but declared nowhere"],
            ),
            (
                // A declared module that is missing is the install's fault, not the setup's.
                outcome(
                    Status::Failed,
                    &[("t", "No module named 'typing_extensions'")],
                    "",
                ),
                true,
                Judgement::Failed,
                &[],
            ),
            (
                outcome(
                    Status::Failed,
                    &[("tests/test_net.py::test_get", refused)],
                    "",
                ),
                true,
                Judgement::TestsNeedNetwork,
                &["tests/test_net.py::test_get needs the network"],
            ),
            (
                // django-cors-headers 4.2.0: no tests shipped, pytest-django's settings
                // module among them, so pytest stops at its start.
                outcome(
                    Status::Failed,
                    &[],
                    "pytest_django/plugin.py\nImportError: No module named 'tests'",
                ),
                false,
                Judgement::NoTests,
                &["the sdist ships no tests, and the configured runner stopped before any ran"],
            ),
            (
                // No tests shipped, but doctests ran and one failed: that is a failure.
                outcome(Status::Failed, &[("p.m::p.m.f", "Expected: 1 Got: 2")], ""),
                false,
                Judgement::Failed,
                &[],
            ),
            (
                outcome(Status::Failed, &[("t::db", local)], ""),
                true,
                Judgement::Failed,
                &[],
            ),
            (
                outcome(
                    Status::Failed,
                    &[("t::net", refused), ("t::math", "assert 1 == 2")],
                    "",
                ),
                true,
                Judgement::Failed,
                &["t::math failed: assert 1 == 2"],
            ),
        ];
        for (o, found, want, why) in cases {
            let evidence = Evidence {
                suite_found: found,
                declared: declared.clone(),
                guarded: Default::default(),
            };
            let got = judge(&o, &evidence);
            assert_eq!(got.judgement, want, "{:?} {:?}", o.status, o.failures);
            for w in why {
                assert!(got.why.iter().any(|g| g == w), "{w} not in {:?}", got.why);
            }
        }
    }

    #[test]
    fn name_errors_are_read_from_messages() {
        let cases = [
            (
                "collection failure: NameError: name 'settings' is not defined",
                Some("settings"),
            ),
            (
                "NameError: name 'st' is not defined. Did you mean: 'os'?",
                Some("st"),
            ),
            ("NameError: free variable 'x' referenced", None),
            ("AssertionError", None),
        ];
        for (text, want) in cases {
            assert_eq!(name_error(text), want, "{text}");
        }
    }

    #[test]
    fn a_name_error_for_a_guarded_import_of_undeclared_modules_is_incomplete_setup() {
        // mccabe 0.7.0: `@settings(...)` at the module's top, its import guarded.
        let hypothesis = Guarded {
            modules: vec!["hypothesmith".into(), "hypothesis".into()],
            names: vec!["hypothesmith".into(), "given".into(), "settings".into()],
        };
        let collection = "collection failure: NameError: name 'settings' is not defined";
        let evidence = |declared: &[&str], guarded: Vec<Guarded>| Evidence {
            suite_found: true,
            declared: Declared::new(declared),
            guarded: [("test_mccabe".to_string(), guarded)].into_iter().collect(),
        };
        let cases: Vec<(&str, JobOutcome, Evidence, Judgement, &[&str])> = vec![
            (
                "nothing of the block declared",
                outcome(Status::Failed, &[("test_mccabe", collection)], ""),
                evidence(&["mccabe"], vec![hypothesis.clone()]),
                Judgement::IncompleteSetup,
                &[
                    "module \"hypothesis\" is imported by the tests but declared nowhere",
                    "module \"hypothesmith\" is imported by the tests but declared nowhere",
                    "test_mccabe: NameError for `settings`, which the test module binds only \
                     inside `try: … except ImportError` importing hypothesmith, hypothesis",
                ],
            ),
            (
                "hypothesis declared: hypothesmith alone is named",
                outcome(Status::Failed, &[("test_mccabe", collection)], ""),
                evidence(&["hypothesis"], vec![hypothesis.clone()]),
                Judgement::IncompleteSetup,
                &["module \"hypothesmith\" is imported by the tests but declared nowhere"],
            ),
            (
                "every module of the block declared: the test's own failure",
                outcome(Status::Failed, &[("test_mccabe", collection)], ""),
                evidence(&["hypothesis", "hypothesmith"], vec![hypothesis.clone()]),
                Judgement::Failed,
                &[],
            ),
            (
                "a name no guarded import binds",
                outcome(
                    Status::Failed,
                    &[("test_mccabe", "NameError: name 'typo' is not defined")],
                    "",
                ),
                evidence(&[], vec![hypothesis.clone()]),
                Judgement::Failed,
                &[],
            ),
            (
                "another test module's guarded import",
                outcome(Status::Failed, &[("test_other", collection)], ""),
                evidence(&[], vec![hypothesis.clone()]),
                Judgement::Failed,
                &[],
            ),
            (
                "beside a real failure",
                outcome(
                    Status::Failed,
                    &[("test_mccabe", collection), ("test_b::t", "assert 1 == 2")],
                    "",
                ),
                evidence(&[], vec![hypothesis]),
                Judgement::Failed,
                &[],
            ),
        ];
        for (what, o, e, want, why) in cases {
            let got = judge(&o, &e);
            assert_eq!(got.judgement, want, "{what}: {:?}", got.why);
            for w in why {
                assert!(
                    got.why.iter().any(|g| g == w),
                    "{what}: {w} not in {:?}",
                    got.why
                );
            }
        }
    }
}
