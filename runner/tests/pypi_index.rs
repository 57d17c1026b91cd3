//! Resolving and downloading releases against a local index served by a real HTTP
//! server, holding the fixture packages built by the tests: the JSON API, the Simple
//! API in both formats, hash checks, retries.

mod pypi_support;

use ponyswarm::pypi::index::IndexError;
use ponyswarm::pypi::{DistKind, Release, Requirement};
use pypi_support::index::{FixtureRelease, LocalIndex};
use pypi_support::packages;
use std::path::Path;

/// The fixture releases, plus an older `ponyswarm-pure` 0.9 (the same bytes under 0.9
/// names: the index does not look inside) published before 1.0.
fn fixtures(dir: &Path) -> Vec<FixtureRelease> {
    let built = packages::build_all(dir);
    let pure = packages::release(&built, "ponyswarm-pure").clone();
    let old_dir = dir.join("old");
    std::fs::create_dir_all(&old_dir).expect("a directory");
    let files = pure
        .files
        .iter()
        .map(|f| {
            let name = f
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .replace("-1.0", "-0.9");
            let to = old_dir.join(name);
            std::fs::copy(f, &to).expect("a copy");
            to
        })
        .collect();
    let mut metadata = pure.metadata.clone();
    metadata["version"] = "0.9".into();
    let old = FixtureRelease {
        version: "0.9".into(),
        files,
        metadata,
        ..pure
    };
    std::iter::once(old).chain(built).collect()
}

fn req(text: &str) -> Requirement {
    text.parse().expect("a requirement")
}

/// (filename, kind, has sha256) of each file, sorted.
fn files(release: &Release) -> Vec<(String, DistKind, bool)> {
    let mut out: Vec<_> = release
        .files
        .iter()
        .map(|f| (f.filename.clone(), f.kind, f.sha256.is_some()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn json_api_resolves_latest_and_pinned_releases_with_metadata() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let local = LocalIndex::start(fixtures(dir.path()));
    let index = local.index();

    let latest = index
        .resolve(&req("Ponyswarm_Pure"))
        .await
        .expect("resolves");
    assert_eq!(
        (latest.name.as_str(), latest.version.as_str()),
        ("ponyswarm-pure", "1.0")
    );
    assert_eq!(
        files(&latest),
        vec![
            (
                "ponyswarm_pure-1.0-py3-none-any.whl".to_string(),
                DistKind::Wheel,
                true
            ),
            (
                "ponyswarm_pure-1.0.tar.gz".to_string(),
                DistKind::Sdist,
                true
            ),
        ]
    );
    assert_eq!(latest.metadata.license.as_deref(), Some("MIT"));
    assert!(latest.metadata.summary.is_some());

    let pinned = index
        .resolve(&req("ponyswarm-pure==0.9"))
        .await
        .expect("resolves");
    assert_eq!(pinned.version, "0.9");
    assert!(
        pinned.files.iter().all(|f| f.filename.contains("-0.9")),
        "{pinned:?}"
    );
}

#[tokio::test]
async fn simple_api_answers_when_there_is_no_json_api_in_either_format() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let local = LocalIndex::start(fixtures(dir.path()));
    let index = local.index();
    let from_json_api = index
        .resolve(&req("ponyswarm-pure"))
        .await
        .expect("resolves");
    local.set_json_api(false);

    for pep691 in [true, false] {
        local.set_simple_json(pep691);
        let latest = index
            .resolve(&req("ponyswarm-pure"))
            .await
            .expect("resolves");
        assert_eq!(latest.version, "1.0", "pep691={pep691}");
        assert_eq!(files(&latest), files(&from_json_api), "pep691={pep691}");
        let urls: Vec<_> = latest.files.iter().map(|f| (&f.url, &f.sha256)).collect();
        let want: Vec<_> = from_json_api
            .files
            .iter()
            .map(|f| (&f.url, &f.sha256))
            .collect();
        assert_eq!(urls.len(), want.len());
        for u in &urls {
            assert!(want.contains(u), "pep691={pep691}: {u:?} not in {want:?}");
        }
        let pinned = index
            .resolve(&req("ponyswarm-pure==0.9"))
            .await
            .expect("resolves");
        assert!(pinned.files.iter().all(|f| f.filename.contains("-0.9")));
        let missing = index.resolve(&req("ponyswarm-pure==7.0")).await;
        assert!(
            matches!(missing, Err(IndexError::NotFound { .. })),
            "{missing:?}"
        );
    }
    let simple_requests = local
        .log()
        .iter()
        .filter(|l| l.path == "/simple/ponyswarm-pure/")
        .count();
    assert_eq!(simple_requests, 6, "{:?}", local.log());
}

#[tokio::test]
async fn unknown_projects_are_not_found() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let local = LocalIndex::start(fixtures(dir.path()));
    let index = local.index();
    for json_api in [true, false] {
        local.set_json_api(json_api);
        let err = index
            .resolve(&req("no-such-pony"))
            .await
            .expect_err("not there");
        assert!(matches!(err, IndexError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-pony"), "{err}");
    }
}

#[tokio::test]
async fn downloads_are_the_published_bytes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let releases = fixtures(dir.path());
    let local = LocalIndex::start(releases.clone());
    let index = local.index();
    let out = tempfile::tempdir().expect("a temp dir");
    let release = index
        .resolve(&req("ponyswarm-entry"))
        .await
        .expect("resolves");
    let original = packages::release(&releases, "ponyswarm-entry");
    for file in &release.files {
        let path = index.download(file, out.path()).await.expect("downloads");
        assert_eq!(path, out.path().join(&file.filename));
        let source = original
            .files
            .iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy() == file.filename)
            })
            .expect("a published file");
        assert_eq!(
            std::fs::read(&path).ok(),
            std::fs::read(source).ok(),
            "{}",
            file.filename
        );
    }
    let left: Vec<_> = std::fs::read_dir(out.path())
        .expect("a dir")
        .flatten()
        .collect();
    assert_eq!(
        left.len(),
        release.files.len(),
        "no partial files left: {left:?}"
    );
}

#[tokio::test]
async fn a_file_whose_hash_differs_is_refused_and_removed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let local = LocalIndex::start(fixtures(dir.path()));
    let index = local.index();
    let release = index
        .resolve(&req("ponyswarm-pure"))
        .await
        .expect("resolves");
    let wheel = release
        .files
        .iter()
        .find(|f| f.kind == DistKind::Wheel)
        .expect("a wheel");
    local.corrupt(&wheel.filename);
    let out = tempfile::tempdir().expect("a temp dir");
    let err = index
        .download(wheel, out.path())
        .await
        .expect_err("refused");
    assert!(matches!(err, IndexError::HashMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains(&wheel.filename), "{err}");
    assert_eq!(
        std::fs::read_dir(out.path()).expect("a dir").count(),
        0,
        "nothing kept"
    );
}

#[tokio::test]
async fn a_file_without_hash_is_not_downloaded() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let local = LocalIndex::start(fixtures(dir.path()));
    let index = local.index();
    let release = index
        .resolve(&req("ponyswarm-pure"))
        .await
        .expect("resolves");
    let mut sdist = release
        .files
        .iter()
        .find(|f| f.kind == DistKind::Sdist)
        .expect("an sdist")
        .clone();
    sdist.sha256 = None;
    let before = local.log().len();
    let out = tempfile::tempdir().expect("a temp dir");
    let err = index
        .download(&sdist, out.path())
        .await
        .expect_err("refused");
    assert!(matches!(err, IndexError::MissingHash { .. }), "{err:?}");
    assert!(err.to_string().contains(&sdist.filename), "{err}");
    assert_eq!(local.log().len(), before, "nothing was fetched");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_then_reported() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let local = LocalIndex::start(fixtures(dir.path()));
    let index = local.index();

    local.fail_next(1, 429, Some("0"));
    local.fail_next(1, 503, None);
    let release = index
        .resolve(&req("ponyswarm-pure"))
        .await
        .expect("resolves after retries");
    assert_eq!(release.version, "1.0");
    let statuses: Vec<u16> = local.log().iter().map(|l| l.status).collect();
    assert_eq!(statuses, vec![429, 503, 200]);

    local.fail_next(4, 503, None);
    let err = index
        .resolve(&req("ponyswarm-pure"))
        .await
        .expect_err("gives up");
    assert!(matches!(err, IndexError::Status { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/pypi/ponyswarm-pure/json"),
        "{err}"
    );
}
