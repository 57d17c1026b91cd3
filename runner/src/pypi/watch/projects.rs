//! Following named projects (`pypi watch --project`): each poll asks every project's
//! page for its versions, and queues the ones not seen before.
//!
//! Works against any index or mirror: the JSON API (`/pypi/NAME/json`) first, else the
//! Simple API (`/simple/NAME/`, PEP 691 JSON, else PEP 503 HTML), so an index that serves
//! neither the changelog nor an RSS feed can still be followed. Requests are
//! conditional (`If-None-Match` with the last `ETag`, `If-Modified-Since` with the last
//! `Last-Modified`): an unchanged project costs a 304 and no parsing.
//!
//! State per (index, project) is in the store ([`Store::watched_project`]): the API that
//! answered, its validators, and the versions seen. The first poll of a project records
//! what it has without testing it, as the feeds start "from now"; from then on a new
//! version is queued in the same transaction that records it.
//!
//! The page parsers and the set arithmetic are pure; [`poll`] is the I/O shell.

use super::{wanted, WatchError, WatchOptions};
use crate::pypi::index::retry::{self, Backoff};
use crate::pypi::index::simple::{self, Listed};
use crate::pypi::index::version::Version;
use crate::pypi::index::Index;
use crate::pypi::normalize;
use crate::store::{QueueState, Store, WatchedProject};
use reqwest::header::{
    ACCEPT, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;
use serde::Deserialize;
use std::collections::BTreeMap;
use url::Url;

/// [`WatchedProject::api`] of a project read through the JSON API.
const JSON_API: &str = "json";
/// [`WatchedProject::api`] of a project read through the Simple API.
const SIMPLE_API: &str = "simple";

/// Polls every project of `opts.projects` once. A project that fails does not stop
/// the others; the first failure is returned after all were tried, so the watcher
/// backs off.
pub(super) async fn poll(
    index: &Index,
    store: &Store,
    opts: &WatchOptions,
) -> Result<(), WatchError> {
    let mut first_error = None;
    for name in &opts.projects {
        if let Err(e) = poll_one(index, store, opts, name).await {
            tracing::warn!("{name}: {e}");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn poll_one(
    index: &Index,
    store: &Store,
    opts: &WatchOptions,
    name: &str,
) -> Result<(), WatchError> {
    let key = index.url().to_string();
    let known = store.watched_project(&key, name).await?;
    let mut now = match fetch(index, name, known.as_ref(), &opts.backoff).await? {
        Fetched::Unchanged => return Ok(()),
        Fetched::Missing => {
            tracing::warn!("{key} has no project {name}");
            return Ok(());
        }
        Fetched::Changed(now) => now,
    };
    let (fresh, state) = match &known {
        Some(known) => (
            new_versions(&known.versions, &now.versions),
            QueueState::Queued,
        ),
        // First sight: what the project already has is not new.
        None => (now.versions.clone(), QueueState::Skipped),
    };
    if let Some(known) = &known {
        // A version deleted from the index stays seen: re-uploaded, it is not new.
        for v in &known.versions {
            if !now.versions.contains(v) {
                now.versions.push(v.clone());
            }
        }
    }
    let releases = wanted(fresh.iter().map(|v| (name, v.as_str())), &opts.filters);
    store
        .record_watched_project(&key, &now, &releases, state)
        .await?;
    Ok(())
}

/// What asking for a project's page gave.
#[derive(Debug)]
enum Fetched {
    /// 304: nothing changed since the validators were given.
    Unchanged,
    /// The index does not know the project.
    Missing,
    /// The page, read.
    Changed(WatchedProject),
}

/// Asks the JSON API (unless the index is known to lack it), else the Simple API,
/// conditionally when the last answer from that API gave validators.
async fn fetch(
    index: &Index,
    name: &str,
    known: Option<&WatchedProject>,
    backoff: &Backoff,
) -> Result<Fetched, WatchError> {
    // Validators belong to the URL that gave them.
    let validators = |api: &str| known.filter(|k| k.api == api);
    if known.is_none_or(|k| k.api != SIMPLE_API) {
        let url = index.join(&format!("pypi/{name}/json"))?;
        let response = get(
            index,
            &url,
            "application/json",
            validators(JSON_API),
            backoff,
        )
        .await?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::Unchanged);
        }
        // Any 4xx but 429: no JSON API here (or no such project): the Simple API decides.
        if !(status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS) {
            let (etag, last_modified) = validators_of(&response);
            let body = read(&url, status, response).await?;
            let versions = versions_from_json_api(&body).map_err(|r| bad_page(&url, r))?;
            return Ok(Fetched::Changed(WatchedProject {
                name: name.to_string(),
                api: JSON_API.into(),
                etag,
                last_modified,
                versions,
            }));
        }
    }
    let url = index.join(&format!("simple/{name}/"))?;
    let response = get(index, &url, simple::ACCEPT, validators(SIMPLE_API), backoff).await?;
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Fetched::Unchanged);
    }
    if status == StatusCode::NOT_FOUND {
        return Ok(Fetched::Missing);
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let (etag, last_modified) = validators_of(&response);
    let page = response.url().clone();
    let body = read(&url, status, response).await?;
    let listed = if is_json {
        simple::parse_json(name, &page, &body).map_err(|r| bad_page(&url, r))?
    } else {
        simple::parse_html(name, &page, &body)
    };
    Ok(Fetched::Changed(WatchedProject {
        name: name.to_string(),
        api: SIMPLE_API.into(),
        etag,
        last_modified,
        versions: versions_from_listed(&listed),
    }))
}

/// A GET of `url`, with `If-None-Match` / `If-Modified-Since` from `known`.
async fn get(
    index: &Index,
    url: &Url,
    accept: &str,
    known: Option<&WatchedProject>,
    backoff: &Backoff,
) -> Result<reqwest::Response, WatchError> {
    retry::send(
        || {
            let mut req = index.client().get(url.clone()).header(ACCEPT, accept);
            if let Some(tag) = known.and_then(|k| k.etag.as_deref()) {
                req = req.header(IF_NONE_MATCH, tag);
            }
            if let Some(date) = known.and_then(|k| k.last_modified.as_deref()) {
                req = req.header(IF_MODIFIED_SINCE, date);
            }
            req
        },
        backoff,
    )
    .await
    .map_err(|e| WatchError::Feed {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

fn validators_of(response: &reqwest::Response) -> (Option<String>, Option<String>) {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    (header(ETAG), header(LAST_MODIFIED))
}

/// The body of a successful answer; any other status is an error.
async fn read(
    url: &Url,
    status: StatusCode,
    response: reqwest::Response,
) -> Result<String, WatchError> {
    let failed = |reason: String| WatchError::Feed {
        url: url.to_string(),
        reason,
    };
    if !status.is_success() {
        return Err(failed(format!("answered {status}")));
    }
    response.text().await.map_err(|e| failed(e.to_string()))
}

fn bad_page(url: &Url, reason: String) -> WatchError {
    WatchError::Feed {
        url: url.to_string(),
        reason: format!("unreadable page: {reason}"),
    }
}

#[derive(Deserialize)]
struct ProjectPage {
    #[serde(default)]
    releases: BTreeMap<String, Vec<ReleaseFile>>,
}

#[derive(Deserialize)]
struct ReleaseFile {
    #[serde(default)]
    yanked: bool,
}

/// The versions a JSON API project page (`/pypi/NAME/json`) lists with at least one
/// file not yanked: a version without files cannot be tested yet (its upload is under
/// way), and a yanked one is not offered. Pure.
pub fn versions_from_json_api(body: &str) -> Result<Vec<String>, String> {
    let page: ProjectPage = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(page
        .releases
        .into_iter()
        .filter(|(_, files)| files.iter().any(|f| !f.yanked))
        .map(|(version, _)| version)
        .collect())
}

/// The versions of the files a Simple API page lists, once each, yanked files left
/// out. Pure.
pub fn versions_from_listed(listed: &[Listed]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for version in listed
        .iter()
        .filter(|l| !l.file.yanked)
        .filter_map(|l| l.version.as_ref())
    {
        if !out.contains(version) {
            out.push(version.clone());
        }
    }
    out
}

/// The versions of `current` not in `known`, oldest first (PEP 440 order; a version
/// that does not parse comes last), so releases are tested in the order they were made.
/// Pure.
pub fn new_versions(known: &[String], current: &[String]) -> Vec<String> {
    let is_known = |v: &str| {
        let parsed = Version::parse(v);
        known
            .iter()
            .any(|k| k == v || (parsed.is_some() && Version::parse(k) == parsed))
    };
    let mut fresh: Vec<String> = Vec::new();
    for v in current {
        if !is_known(v) && !fresh.contains(v) {
            fresh.push(v.clone());
        }
    }
    fresh.sort_by(|a, b| match (Version::parse(a), Version::parse(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    fresh
}

/// The project names of a `--projects-file`: one per line, `#` starts a comment, blank
/// lines ignored; names normalized, each once, in file order. Pure.
pub fn parse_projects_file(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let name = line.split('#').next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let name = normalize(name);
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pypi::{DistFile, DistKind};

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn json_api_versions_are_those_with_files_not_all_yanked() {
        let body = r#"{"info": {"name": "p", "version": "2.0"}, "releases": {
            "1.0": [{"filename": "p-1.0.tar.gz", "yanked": false}],
            "1.1": [{"filename": "p-1.1.tar.gz", "yanked": true}],
            "1.2": [{"filename": "p-1.2.tar.gz", "yanked": true},
                    {"filename": "p-1.2-py3-none-any.whl"}],
            "2.0": []
        }}"#;
        assert_eq!(
            versions_from_json_api(body).expect("parses"),
            strings(&["1.0", "1.2"])
        );
        assert_eq!(
            versions_from_json_api(r#"{"info": {}}"#).expect("parses"),
            Vec::<String>::new()
        );
        assert!(versions_from_json_api("<html>").is_err());
    }

    #[test]
    fn simple_api_versions_are_listed_once_without_yanked_files() {
        let listed = |filename: &str, version: Option<&str>, yanked: bool| Listed {
            file: DistFile {
                filename: filename.into(),
                url: "https://example.org/f".into(),
                sha256: None,
                kind: DistKind::Sdist,
                size: None,
                requires_python: None,
                yanked,
                core_metadata: None,
                upload_time: None,
            },
            version: version.map(str::to_string),
        };
        let page = [
            listed("p-1.0.tar.gz", Some("1.0"), false),
            listed("p-1.0-py3-none-any.whl", Some("1.0"), false),
            listed("p-1.1.tar.gz", Some("1.1"), true),
            listed("p-odd.zip", None, false),
            listed("p-2.0.tar.gz", Some("2.0"), false),
        ];
        assert_eq!(versions_from_listed(&page), strings(&["1.0", "2.0"]));
    }

    #[test]
    fn new_versions_are_the_unseen_ones_oldest_first() {
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["1.0"], &["1.0"], &[]),
            (&["1.0"], &["1.0", "1.1"], &["1.1"]),
            // The JSON API lists keys as text: 1.10 after 1.9 all the same.
            (&["1.0"], &["1.10", "1.9", "1.0"], &["1.9", "1.10"]),
            // Spelled otherwise, the same version is not new.
            (&["1.0"], &["1.0.0", "v1.0", "2.0rc1"], &["2.0rc1"]),
            (&[], &["not-pep440", "0.1"], &["0.1", "not-pep440"]),
            (&["2.0"], &[], &[]),
        ];
        for (known, current, want) in cases {
            assert_eq!(
                new_versions(&strings(known), &strings(current)),
                strings(want),
                "known {known:?}, current {current:?}"
            );
        }
    }

    #[test]
    fn projects_file_reads_names_comments_and_blank_lines() {
        let text =
            "# projects we own\nPony_Lib\n\n  pony-tools   # the CLI\npony.lib\n#gone\nzebra\n";
        assert_eq!(
            parse_projects_file(text),
            strings(&["pony-lib", "pony-tools", "zebra"])
        );
        assert!(parse_projects_file("# nothing\n\n").is_empty());
    }
}
