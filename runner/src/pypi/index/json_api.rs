//! Reading the index's JSON API (`/pypi/NAME/json`, `/pypi/NAME/VERSION/json`): the
//! release's metadata (`info`) and its files (`urls`).
//!
//! Pure: no I/O.

use super::files::kind_of;
use crate::pypi::metadata::parse::{add_home_page, present};
use crate::pypi::metadata::{Origin, Source};
use crate::pypi::{normalize, DistFile, Metadata, Release};
use serde::Deserialize;
use std::collections::BTreeMap;
use url::Url;

#[derive(Deserialize)]
struct Page {
    info: Info,
    #[serde(default)]
    urls: Vec<File>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Info {
    name: String,
    version: String,
    summary: Option<String>,
    description: Option<String>,
    description_content_type: Option<String>,
    license: Option<String>,
    license_expression: Option<String>,
    classifiers: Option<Vec<String>>,
    project_urls: Option<BTreeMap<String, String>>,
    home_page: Option<String>,
    requires_python: Option<String>,
    requires_dist: Option<Vec<String>>,
    author_email: Option<String>,
    maintainer_email: Option<String>,
}

#[derive(Deserialize)]
struct File {
    filename: String,
    url: String,
    #[serde(default)]
    digests: BTreeMap<String, String>,
    size: Option<u64>,
    requires_python: Option<String>,
    #[serde(default)]
    yanked: bool,
    upload_time_iso_8601: Option<String>,
}

/// Parses a JSON API page fetched from `page` into the release it describes. Files of
/// formats ponyswarm does not test (eggs, installers) are left out.
pub fn parse(page: &Url, body: &str) -> Result<Release, String> {
    let parsed: Page = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let info = parsed.info;
    if info.name.is_empty() || info.version.is_empty() {
        return Err("`info` has no name or version".into());
    }
    let mut files = Vec::new();
    for f in parsed.urls {
        let Some(kind) = kind_of(&f.filename) else {
            continue;
        };
        let url = page
            .join(&f.url)
            .map_err(|e| format!("link {:?}: {e}", f.url))?;
        files.push(DistFile {
            filename: f.filename,
            url: url.to_string(),
            sha256: f.digests.get("sha256").map(|h| h.to_ascii_lowercase()),
            kind,
            size: f.size,
            requires_python: f.requires_python.filter(|s| !s.is_empty()),
            yanked: f.yanked,
            // The JSON API does not say; the Simple API does.
            core_metadata: None,
            upload_time: f.upload_time_iso_8601.filter(|t| !t.is_empty()),
        });
    }
    Ok(Release {
        name: normalize(&info.name),
        version: info.version.clone(),
        files,
        metadata: metadata(info),
    })
}

fn metadata(info: Info) -> Metadata {
    let mut project_urls = info.project_urls.unwrap_or_default();
    add_home_page(&mut project_urls, present(info.home_page), "Homepage");
    Metadata {
        summary: present(info.summary),
        description: present(info.description),
        description_content_type: present(info.description_content_type),
        license: present(info.license_expression).or(present(info.license)),
        classifiers: info.classifiers.unwrap_or_default(),
        project_urls,
        requires_python: present(info.requires_python),
        requires_dist: info.requires_dist.unwrap_or_default(),
        author_email: present(info.author_email),
        maintainer_email: present(info.maintainer_email),
        origin: Some(Origin::new(Source::JsonApi)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pypi::DistKind;

    fn page() -> Url {
        Url::parse("https://example.org/pypi/pony/json").expect("a valid URL")
    }

    #[test]
    fn a_full_page_gives_metadata_and_files() {
        let body = r#"{"info": {"name": "Pony_Tools", "version": "1.2",
            "summary": "Ponies", "description": "Long", "description_content_type": "text/markdown",
            "license": "", "license_expression": "MIT", "classifiers": ["A :: B"],
            "project_urls": {"Source": "https://src"}, "home_page": "https://home",
            "requires_python": ">=3.9", "requires_dist": ["requests>=2"],
            "author_email": "a@example.org", "maintainer_email": null},
          "urls": [
            {"filename": "pony_tools-1.2.tar.gz", "url": "/packages/pony_tools-1.2.tar.gz",
             "digests": {"sha256": "ABC", "md5": "x"}, "packagetype": "sdist", "size": 10,
             "requires_python": ">=3.9", "yanked": false,
             "upload_time_iso_8601": "2023-04-02T10:11:12.345678Z"},
            {"filename": "pony_tools-1.2-py3-none-any.whl", "url": "https://files/w.whl",
             "digests": {}, "packagetype": "bdist_wheel", "requires_python": null, "yanked": true},
            {"filename": "pony_tools-1.2.exe", "url": "https://files/x.exe", "digests": {}}
          ]}"#;
        let release = parse(&page(), body).expect("a valid page");
        assert_eq!(release.name, "pony-tools");
        assert_eq!(release.version, "1.2");
        let m = &release.metadata;
        assert_eq!(m.summary.as_deref(), Some("Ponies"));
        assert_eq!(m.license.as_deref(), Some("MIT"));
        assert_eq!(m.classifiers, vec!["A :: B"]);
        assert_eq!(
            m.project_urls.get("Homepage").map(String::as_str),
            Some("https://home")
        );
        assert_eq!(
            m.project_urls.get("Source").map(String::as_str),
            Some("https://src")
        );
        assert_eq!(m.requires_dist, vec!["requests>=2"]);
        assert_eq!(m.maintainer_email, None);
        assert_eq!(release.files.len(), 2);
        assert_eq!(
            release.files[0].url,
            "https://example.org/packages/pony_tools-1.2.tar.gz"
        );
        assert_eq!(release.files[0].sha256.as_deref(), Some("abc"));
        assert_eq!(release.files[0].kind, DistKind::Sdist);
        assert_eq!(release.files[1].kind, DistKind::Wheel);
        assert!(release.files[1].yanked);
        assert_eq!(release.files[1].sha256, None);
        assert_eq!(
            release.files[0].upload_time.as_deref(),
            Some("2023-04-02T10:11:12.345678Z")
        );
        assert_eq!(release.files[1].upload_time, None);
    }

    #[test]
    fn empty_and_unknown_fields_are_absent() {
        let body = r#"{"info": {"name": "p", "version": "1", "summary": "UNKNOWN",
            "license": " ", "home_page": "", "classifiers": null, "project_urls": null}, "urls": []}"#;
        let release = parse(&page(), body).expect("a valid page");
        assert_eq!(
            release.metadata,
            Metadata {
                origin: Some(Origin::new(Source::JsonApi)),
                ..Metadata::default()
            }
        );
        assert!(release.files.is_empty());
    }

    #[test]
    fn pages_without_name_or_version_are_refused() {
        for body in [r#"{"info": {"name": "p"}}"#, r#"{"urls": []}"#, "<html>"] {
            assert!(parse(&page(), body).is_err(), "{body}");
        }
    }
}
