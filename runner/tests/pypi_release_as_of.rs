//! End to end: a release's test tools and dependencies are resolved as of its upload.
//!
//! The fixture `ponyswarm-asof` (tests/fixtures/pypi-as-of/) is served by a local
//! index that lists it as uploaded on 2023-01-01; its test passes only with the
//! pytest of that time (7.2). The prepare phase fetches pytest from the real PyPI
//! through the egress door and the host's CA bundle, as every release test does.
//! Resolved as of the upload, its tests pass; as of today (`--as-of now`) the same
//! test fails; as of a time before a build requirement existed, the install fails
//! naming it.

mod pypi_support;

use ponyswarm::pypi::as_of::{AsOf, Basis};
use ponyswarm::pypi::report::ReleaseReport;
use pypi_support::trial::{judged, test_served};

/// 2023-01-01T00:00:00Z, when the index says the fixture was uploaded.
const UPLOADED: u64 = 1_672_531_200;

/// Tests the fixture, uploaded at [`UPLOADED`], resolving as `as_of` says.
async fn test_as_of(as_of: AsOf) -> ReleaseReport {
    test_served("pypi-as-of", "ponyswarm-asof", Some(UPLOADED), as_of).await
}

#[tokio::test]
async fn a_release_is_tested_with_the_tools_of_its_upload() {
    let report = test_as_of(AsOf::Release).await;
    let resolution = report
        .resolution
        .clone()
        .expect("the resolution is recorded");
    assert_eq!(resolution.cutoff.as_deref(), Some("2023-01-01T00:00:00Z"));
    assert_eq!(resolution.basis, Basis::Release);
    assert_eq!(report.installs.len(), 2, "{:#?}", judged(&report));
    for i in &report.installs {
        assert_eq!(
            i.judged.judgement.as_str(),
            "passed",
            "{}: {:#?}\n{}",
            i.filename,
            i.judged.why,
            i.outcome.log
        );
        let tests = i.outcome.tests.expect("tests counted");
        assert_eq!((tests.passed, tests.failed), (2, 0), "{}", i.filename);
    }
}

#[tokio::test]
async fn as_of_now_the_same_release_gets_todays_pytest_and_fails() {
    let report = test_as_of(AsOf::Now).await;
    let resolution = report
        .resolution
        .clone()
        .expect("the resolution is recorded");
    assert_eq!((resolution.cutoff, resolution.basis), (None, Basis::Now));
    assert_eq!(report.installs.len(), 2, "{:#?}", judged(&report));
    for i in &report.installs {
        assert_eq!(
            i.judged.judgement.as_str(),
            "failed",
            "{}: {:#?}",
            i.filename,
            i.judged.why
        );
        let tests = i.outcome.tests.expect("tests counted");
        assert_eq!((tests.passed, tests.failed), (1, 1), "{}", i.filename);
    }
}

#[tokio::test]
async fn a_cutoff_before_a_requirement_existed_fails_the_install_naming_it() {
    // 2016-01-01: the fixture's build backend, setuptools>=61 (2022), did not exist.
    let report = test_as_of(AsOf::At(1_451_606_400)).await;
    let resolution = report
        .resolution
        .clone()
        .expect("the resolution is recorded");
    assert_eq!(resolution.cutoff.as_deref(), Some("2016-01-01T00:00:00Z"));
    assert_eq!(resolution.basis, Basis::Asked);
    assert!(!report.installs.is_empty());
    for i in &report.installs {
        assert_eq!(
            i.judged.judgement.as_str(),
            "install-failed",
            "{}: {:#?}",
            i.filename,
            i.judged.why
        );
        let why = i.judged.why.join("\n");
        assert!(
            why.contains("no version of setuptools uploaded before 2016-01-01T00:00:00Z"),
            "{}: {why}",
            i.filename
        );
    }
}
