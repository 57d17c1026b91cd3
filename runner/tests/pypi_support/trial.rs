//! Testing a fixture release end to end as `ponyswarm pypi test` does: served by a
//! [`LocalIndex`] (the extra index containers reach through the bridge gateway),
//! resolved and downloaded through its API, tried in real containers on Python
//! 3.11 with the host's CA bundle, dependencies from the real PyPI through the
//! egress door.

use super::index::LocalIndex;
use super::packages;
use ponyswarm::pypi::as_of::AsOf;
use ponyswarm::pypi::report::ReleaseReport;
use ponyswarm::pypi::trial::{self, TrialOptions};
use ponyswarm::pypi::{DistFile, Requirement};
use ponyswarm::run::progress::OutputMode;
use ponyswarm::sandbox::egress::Egress;
use ponyswarm::sandbox::images::ImageOptions;
use std::path::PathBuf;

/// Builds the packages of `tests/fixtures/<fixtures>/`, serves them as uploaded at
/// `uploaded` (seconds since 1970; `None`: now), and tests the release `name`
/// resolving its dependencies as `as_of` says.
pub async fn test_served(
    fixtures: &str,
    name: &str,
    uploaded: Option<u64>,
    as_of: AsOf,
) -> ReleaseReport {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = packages::sources().join("..").join(fixtures);
    let releases = packages::build_from(&sources, &dir.path().join("dist"));
    let index = LocalIndex::start(Vec::new());
    for r in releases {
        match uploaded {
            Some(t) => index.publish_at(r, t),
            None => index.publish(r),
        }
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
    let client = index.index();
    let release = client
        .resolve(&Requirement {
            name: name.into(),
            version: None,
        })
        .await
        .expect("the release resolves");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("a download directory");
    let mut files: Vec<(DistFile, PathBuf)> = Vec::new();
    for f in &release.files {
        let path = client.download(f, &downloads).await.expect("download");
        files.push((f.clone(), path));
    }
    let release = ponyswarm::pypi::metadata::read_release(&client, release, &files).await;
    trial::test_release(&docker, &release, &files, &opts)
        .await
        .expect("the release is tested")
}

/// Each install's file, judgement and reasons, for assertion messages.
pub fn judged(report: &ReleaseReport) -> Vec<(String, String, Vec<String>)> {
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
