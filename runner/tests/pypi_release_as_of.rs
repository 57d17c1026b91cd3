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
use ponyswarm::pypi::trial::{self, TrialOptions};
use ponyswarm::pypi::{DistFile, Requirement};
use ponyswarm::run::progress::OutputMode;
use ponyswarm::sandbox::egress::Egress;
use ponyswarm::sandbox::images::ImageOptions;
use pypi_support::index::LocalIndex;
use pypi_support::packages;
use std::path::PathBuf;

/// 2023-01-01T00:00:00Z, when the index says the fixture was uploaded.
const UPLOADED: u64 = 1_672_531_200;

/// Serves the fixture uploaded at [`UPLOADED`], resolves and downloads it from the
/// index, and tests it on Python 3.11 resolving as `as_of` says.
async fn test_as_of(as_of: AsOf) -> ReleaseReport {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = packages::sources().join("../pypi-as-of");
    let releases = packages::build_from(&sources, &dir.path().join("dist"));
    let index = LocalIndex::start(Vec::new());
    for r in releases {
        index.publish_at(r, UPLOADED);
    }
    let egress = Egress::from_host(None).expect("host CA bundle");
    let docker = ponyswarm::sandbox::docker::connect()
        .await
        .expect("Docker is reachable");
    let mut opts = TrialOptions::new(dir.path().join("work"));
    opts.images = ImageOptions {
        egress: egress.clone(),
        ..ImageOptions::default()
    };
    opts.egress = egress;
    opts.output = OutputMode::Silent;
    opts.extra_index = Some(trial::container_index_url(&docker, &index.url()).await);
    opts.as_of = as_of;
    let release = index
        .index()
        .resolve(&Requirement {
            name: "ponyswarm-asof".into(),
            version: None,
        })
        .await
        .expect("the release resolves");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("a download directory");
    let mut files: Vec<(DistFile, PathBuf)> = Vec::new();
    for f in &release.files {
        let path = index
            .index()
            .download(f, &downloads)
            .await
            .expect("download");
        files.push((f.clone(), path));
    }
    trial::test_release(&docker, &release, &files, &opts)
        .await
        .expect("the release is tested")
}

/// Each install's judgement and its reasons, for assertion messages.
fn judged(report: &ReleaseReport) -> Vec<(String, String, Vec<String>)> {
    report
        .installs
        .iter()
        .map(|i| {
            (
                i.filename.clone(),
                i.judged.judgement.as_str().to_string(),
                i.judged.why.clone(),
            )
        })
        .collect()
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
