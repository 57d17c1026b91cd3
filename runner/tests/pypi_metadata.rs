//! The score reads what was uploaded, on any index: a local index (a real HTTP server
//! on loopback) serves the fixture releases (real wheels and sdists built by
//! `tests/fixtures/pypi/build.py`) with or without PyPI's JSON API, and the metadata
//! the score reads is what the files say, whichever API answered.

mod pypi_support;

use ponyswarm::pypi::index::Index;
use ponyswarm::pypi::metadata::{self, Source};
use ponyswarm::pypi::{quality, DistFile, DistKind, Facts, Metadata, Release, Requirement};
use pypi_support::index::{FixtureRelease, LocalIndex};
use pypi_support::packages;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Resolves `name==version`, downloads its files into `dir`, and reads its metadata
/// from them, as `ponyswarm pypi test` does.
async fn read(index: &Index, name: &str, version: &str, dir: &Path) -> Release {
    let req: Requirement = format!("{name}=={version}").parse().expect("a requirement");
    let release = index.resolve(&req).await.expect("the release resolves");
    std::fs::create_dir_all(dir).expect("a download directory");
    let mut files: Vec<(DistFile, PathBuf)> = Vec::new();
    for f in &release.files {
        let path = index.download(f, dir).await.expect("the download verifies");
        files.push((f.clone(), path));
    }
    metadata::read_release(index, release, &files).await
}

/// The fields the score reads, as `build.py` wrote them into METADATA and PKG-INFO
/// from the package's `info`.
fn written(info: &Value) -> Metadata {
    let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_string);
    let list = |key: &str| -> Vec<String> {
        info.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let project_urls = info
        .get("project_urls")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Metadata {
        summary: text("summary"),
        // build.py ends the body with a newline.
        description: text("description")
            .filter(|d| !d.is_empty())
            .map(|d| format!("{d}\n")),
        description_content_type: text("description_content_type"),
        license: text("license"),
        classifiers: list("classifiers"),
        project_urls,
        requires_python: text("requires_python"),
        requires_dist: list("requires_dist"),
        author_email: text("author_email"),
        maintainer_email: None,
        origin: None,
    }
}

fn without_origin(meta: &Metadata) -> Metadata {
    Metadata {
        origin: None,
        ..meta.clone()
    }
}

/// Facts as a release test with everything passing would give: the score then
/// differs only by the metadata.
fn passing() -> Facts {
    Facts {
        wheel_available: true,
        sdist_available: true,
        sdist_has_tests: true,
        installs_cleanly: true,
        writes_outside_site_packages: false,
        tests_passed: Some(true),
        description_renders: None,
    }
}

#[tokio::test]
async fn without_the_json_api_the_metadata_is_what_the_wheel_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let releases = packages::build_all(&dir.path().join("dist"));
    let local = LocalIndex::start(releases.clone());
    local.set_json_api(false);
    let index = local.index();
    for simple_json in [true, false] {
        local.set_simple_json(simple_json);
        for fixture in &releases {
            let got = read(
                &index,
                &fixture.name,
                &fixture.version,
                &dir.path()
                    .join(format!("dl-{simple_json}-{}", fixture.name)),
            )
            .await;
            let origin = got.metadata.origin.clone().expect("an origin");
            assert_eq!(origin.source, Source::Wheel, "{}: {origin:?}", fixture.name);
            let dist = fixture.name.replace('-', "_");
            assert_eq!(
                origin.member.as_deref(),
                Some(format!("{dist}-1.0.dist-info/METADATA").as_str())
            );
            assert_eq!(
                origin.file.as_deref(),
                Some(format!("{dist}-1.0-py3-none-any.whl").as_str())
            );
            assert_eq!(origin.metadata_version.as_deref(), Some("2.1"));
            assert_eq!(origin.findings, Vec::<String>::new(), "{}", fixture.name);
            assert_eq!(
                without_origin(&got.metadata),
                written(&fixture.metadata),
                "{} (PEP 691 JSON: {simple_json})",
                fixture.name
            );
            let score = quality::score(&got.metadata, &passing());
            let license = score
                .checks
                .iter()
                .find(|c| c.id == "license")
                .expect("a license check");
            assert_eq!(
                license.source,
                format!("{dist}-1.0.dist-info/METADATA of {dist}-1.0-py3-none-any.whl")
            );
        }
    }
}

#[tokio::test]
async fn the_score_is_the_same_with_and_without_the_json_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let releases = packages::build_all(&dir.path().join("dist"));
    let local = LocalIndex::start(releases.clone());
    let index = local.index();
    for fixture in &releases {
        local.set_json_api(true);
        let with = read(
            &index,
            &fixture.name,
            &fixture.version,
            &dir.path().join("with"),
        )
        .await;
        local.set_json_api(false);
        let without = read(
            &index,
            &fixture.name,
            &fixture.version,
            &dir.path().join("without"),
        )
        .await;
        assert_eq!(
            with.metadata.origin.as_ref().map(|o| &o.findings),
            Some(&Vec::new()),
            "{}: the JSON API agrees with the files",
            fixture.name
        );
        let (a, b) = (
            quality::score(&with.metadata, &passing()),
            quality::score(&without.metadata, &passing()),
        );
        assert_eq!(a, b, "{}", fixture.name);
    }
    let json_asked = local
        .log()
        .iter()
        .filter(|l| l.path.starts_with("/pypi/") && l.status == 200)
        .count();
    assert_eq!(
        json_asked,
        releases.len(),
        "the JSON API answered while it was on"
    );
}

#[tokio::test]
async fn a_json_api_that_differs_from_the_file_is_a_finding_not_the_score() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = packages::build_all(&dir.path().join("dist"));
    let mut pure = packages::release(&built, "ponyswarm-pure").clone();
    pure.metadata["summary"] = "What the upload form said".into();
    pure.metadata["license"] = Value::Null;
    let local = LocalIndex::start(vec![pure.clone()]);
    let index = local.index();
    let with = read(&index, &pure.name, "1.0", &dir.path().join("with")).await;
    let findings = with.metadata.origin.clone().expect("an origin").findings;
    assert_eq!(
        findings,
        vec![
            "Summary: the JSON API says \"What the upload form said\", the file says \"ponyswarm fixture ponyswarm-pure\"".to_string(),
            "License: the JSON API says nothing, the file says \"MIT\"".to_string(),
        ]
    );
    assert_eq!(
        with.metadata.license.as_deref(),
        Some("MIT"),
        "the file wins"
    );
    local.set_json_api(false);
    let without = read(&index, &pure.name, "1.0", &dir.path().join("without")).await;
    assert_eq!(
        quality::score(&with.metadata, &passing()),
        quality::score(&without.metadata, &passing())
    );
}

/// `fixture` with only the files `keep` says.
fn only(fixture: &FixtureRelease, keep: impl Fn(&Path) -> bool) -> FixtureRelease {
    FixtureRelease {
        files: fixture.files.iter().filter(|f| keep(f)).cloned().collect(),
        ..fixture.clone()
    }
}

#[tokio::test]
async fn an_sdist_only_release_is_read_from_its_pkg_info() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = packages::build_all(&dir.path().join("dist"));
    let pure = packages::release(&built, "ponyswarm-pure");
    let sdist_only = only(pure, |f| f.to_string_lossy().ends_with(".tar.gz"));
    let local = LocalIndex::start(vec![sdist_only]);
    local.set_json_api(false);
    let index = local.index();
    let got = read(&index, &pure.name, "1.0", &dir.path().join("dl")).await;
    let origin = got.metadata.origin.clone().expect("an origin");
    assert_eq!(origin.source, Source::Sdist);
    assert_eq!(
        origin.member.as_deref(),
        Some("ponyswarm_pure-1.0/PKG-INFO")
    );
    assert_eq!(without_origin(&got.metadata), written(&pure.metadata));
}

/// A wheel that is not a zip, under a name and hash the index lists: downloading it
/// verifies, reading it does not.
fn broken_wheel(fixture: &FixtureRelease, dir: &Path) -> FixtureRelease {
    let wheel = fixture
        .files
        .iter()
        .find(|f| f.to_string_lossy().ends_with(".whl"))
        .expect("a wheel");
    let broken = dir.join(wheel.file_name().expect("a name"));
    std::fs::create_dir_all(dir).expect("a directory");
    std::fs::write(&broken, b"not a zip").expect("written");
    FixtureRelease {
        files: vec![broken],
        ..fixture.clone()
    }
}

#[tokio::test]
async fn the_pep_658_file_stands_in_for_an_unreadable_wheel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = packages::build_all(&dir.path().join("dist"));
    let pure = packages::release(&built, "ponyswarm-pure");
    let local = LocalIndex::start(vec![broken_wheel(pure, &dir.path().join("broken"))]);
    local.set_json_api(false);
    let filename = "ponyswarm_pure-1.0-py3-none-any.whl";
    let metadata = b"Metadata-Version: 2.4\nName: ponyswarm-pure\nVersion: 1.0\nSummary: From PEP 658\nLicense-Expression: MIT\nDynamic: Requires-Dist\n\nBody.\n";
    local.serve_core_metadata(filename, metadata, true);
    let index = local.index();
    for simple_json in [true, false] {
        local.set_simple_json(simple_json);
        let got = read(
            &index,
            &pure.name,
            "1.0",
            &dir.path().join(format!("dl-{simple_json}")),
        )
        .await;
        let origin = got.metadata.origin.clone().expect("an origin");
        assert_eq!(origin.source, Source::CoreMetadataFile, "{origin:?}");
        assert_eq!(origin.metadata_version.as_deref(), Some("2.4"));
        assert_eq!(origin.dynamic, vec!["requires-dist"]);
        assert_eq!(got.metadata.summary.as_deref(), Some("From PEP 658"));
        assert_eq!(got.metadata.license.as_deref(), Some("MIT"));
        assert!(
            origin
                .findings
                .iter()
                .any(|f| f.starts_with(filename) && f.contains("zip")),
            "{:?}",
            origin.findings
        );
        assert_eq!(
            got.files
                .iter()
                .filter(|f| f.kind == DistKind::Wheel)
                .count(),
            1
        );
    }
    local.serve_core_metadata(filename, metadata, false);
    let got = read(&index, &pure.name, "1.0", &dir.path().join("dl-tampered")).await;
    let origin = got.metadata.origin.clone().expect("an origin");
    assert_eq!(
        origin.source,
        Source::Unread,
        "a file whose hash differs is not read"
    );
    assert!(
        origin
            .findings
            .iter()
            .any(|f| f.contains("SHA-256 mismatch")),
        "{:?}",
        origin.findings
    );
    assert_eq!(without_origin(&got.metadata), Metadata::default());
    let score = quality::score(&got.metadata, &passing());
    assert!(score
        .checks
        .iter()
        .filter(|c| c.id == "summary")
        .all(|c| c.source.contains("no file's metadata could be read")));
}
