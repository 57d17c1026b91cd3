//! Reading a project page of the Simple API: PEP 691 JSON, else PEP 503 HTML.
//!
//! Pure: no I/O. Links are made absolute against the page's URL.

use super::files::{kind_of, version_of};
use crate::pypi::DistFile;
use serde::Deserialize;
use std::collections::BTreeMap;
use url::Url;

/// The `Accept` header asking for PEP 691 JSON first, HTML otherwise.
pub const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// A file a project page lists, with the version its name carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The file.
    pub file: DistFile,
    /// Its version, from its name.
    pub version: Option<String>,
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: serde_json::Value,
    size: Option<u64>,
    /// PEP 714's name; `dist-info-metadata` is PEP 658's.
    #[serde(rename = "core-metadata", alias = "dist-info-metadata", default)]
    core_metadata: serde_json::Value,
    /// PEP 700.
    #[serde(rename = "upload-time")]
    upload_time: Option<String>,
}

/// Parses a PEP 691 JSON page of `project` fetched from `page`.
pub fn parse_json(project: &str, page: &Url, body: &str) -> Result<Vec<Listed>, String> {
    let parsed: JsonPage = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for f in parsed.files {
        let url = page
            .join(&f.url)
            .map_err(|e| format!("link {:?}: {e}", f.url))?;
        // A string is the reason for yanking; `true` without one.
        let yanked = !matches!(
            f.yanked,
            serde_json::Value::Null | serde_json::Value::Bool(false)
        );
        let mut file = listed(
            project,
            &f.filename,
            url,
            f.hashes.get("sha256").cloned(),
            f.requires_python,
            yanked,
            f.size,
            core_metadata_hash(&f.core_metadata),
        );
        if let Some(l) = &mut file {
            l.file.upload_time = f.upload_time.filter(|t| !t.is_empty());
        }
        out.extend(file);
    }
    Ok(out)
}

/// The SHA-256 of a PEP 691 `core-metadata` value: `{"sha256": HEX}`; `true` (a
/// file without a hash, which is not used) and absence give `None`.
fn core_metadata_hash(value: &serde_json::Value) -> Option<String> {
    let hex = value.get("sha256")?.as_str()?;
    hash_of(Some(&format!("sha256={hex}")), "sha256")
}

/// Parses a PEP 503 HTML page of `project` fetched from `page`: every `<a>` whose
/// text is a distribution's file name. The hash is the link's `#sha256=` fragment;
/// `data-requires-python`, `data-yanked` and `data-core-metadata` (PEP 714; its older
/// name `data-dist-info-metadata` too) are read as PEP 503, 592 and 658 say.
///
/// The page is parsed by `scraper` (html5ever, the HTML5 parsing algorithm of
/// browsers), so any page a browser reads is read alike: unquoted and repeated
/// attributes, entities, unclosed tags, comments, upper-case names.
pub fn parse_html(project: &str, page: &Url, body: &str) -> Vec<Listed> {
    let document = scraper::Html::parse_document(body);
    let mut out = Vec::new();
    for anchor in document.select(&ANCHORS) {
        let attrs = anchor.value();
        let Some(href) = attrs.attr("href") else {
            continue;
        };
        let Ok(mut url) = page.join(href.trim()) else {
            continue;
        };
        let sha256 = hash_of(url.fragment(), "sha256");
        url.set_fragment(None);
        let filename: String = anchor.text().collect();
        let core_metadata = attrs
            .attr("data-core-metadata")
            .or_else(|| attrs.attr("data-dist-info-metadata"))
            .and_then(|v| hash_of(Some(v), "sha256"));
        out.extend(listed(
            project,
            filename.trim(),
            url,
            sha256,
            attrs.attr("data-requires-python").map(str::to_string),
            attrs.attr("data-yanked").is_some(),
            None,
            core_metadata,
        ));
    }
    out
}

/// `<a>` elements.
static ANCHORS: std::sync::LazyLock<scraper::Selector> = std::sync::LazyLock::new(|| {
    scraper::Selector::parse("a").unwrap_or_else(|_| unreachable!("`a` is a valid selector"))
});

/// The hex hash in `NAME=HEX` (a link's fragment, a `data-core-metadata` value),
/// lower-cased.
fn hash_of(value: Option<&str>, name: &str) -> Option<String> {
    let (algorithm, hex) = value?.split_once('=')?;
    let valid = algorithm.eq_ignore_ascii_case(name)
        && !hex.is_empty()
        && hex.chars().all(|c| c.is_ascii_hexdigit());
    valid.then(|| hex.to_ascii_lowercase())
}

#[allow(clippy::too_many_arguments)]
fn listed(
    project: &str,
    filename: &str,
    url: Url,
    sha256: Option<String>,
    requires_python: Option<String>,
    yanked: bool,
    size: Option<u64>,
    core_metadata: Option<String>,
) -> Option<Listed> {
    let kind = kind_of(filename)?;
    Some(Listed {
        version: version_of(project, filename),
        file: DistFile {
            filename: filename.to_string(),
            url: url.to_string(),
            sha256,
            kind,
            size,
            requires_python,
            yanked,
            core_metadata,
            // Only PEP 691 JSON pages say (see `parse_json`).
            upload_time: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pypi::DistKind;

    fn page() -> Url {
        Url::parse("https://example.org/simple/pony/").expect("a valid URL")
    }

    #[test]
    fn html_pages_give_files_hashes_and_attributes() {
        let body = r#"<!DOCTYPE html><html><body><h1>Links for pony</h1>
<a href="../../packages/pony-1.0.tar.gz#sha256=ABCD" data-requires-python="&gt;=3.8">pony-1.0.tar.gz</a><br/>
<A HREF='https://files.example.org/pony-1.0-py3-none-any.whl#sha256=ef01' data-yanked>pony-1.0-py3-none-any.whl</A>
<a href="pony-0.9.tar.gz">pony-0.9.tar.gz</a>
<a href="pony-0.1-py2.7.egg">pony-0.1-py2.7.egg</a>
<abbr>not a link</abbr>
</body></html>"#;
        let files = parse_html("pony", &page(), body);
        let got: Vec<_> = files
            .iter()
            .map(|l| {
                (
                    l.file.filename.as_str(),
                    l.file.url.as_str(),
                    l.file.sha256.as_deref(),
                    l.file.requires_python.as_deref(),
                    l.file.yanked,
                    l.file.kind,
                    l.version.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "pony-1.0.tar.gz",
                    "https://example.org/packages/pony-1.0.tar.gz",
                    Some("abcd"),
                    Some(">=3.8"),
                    false,
                    DistKind::Sdist,
                    Some("1.0")
                ),
                (
                    "pony-1.0-py3-none-any.whl",
                    "https://files.example.org/pony-1.0-py3-none-any.whl",
                    Some("ef01"),
                    None,
                    true,
                    DistKind::Wheel,
                    Some("1.0")
                ),
                (
                    "pony-0.9.tar.gz",
                    "https://example.org/simple/pony/pony-0.9.tar.gz",
                    None,
                    None,
                    false,
                    DistKind::Sdist,
                    Some("0.9")
                ),
            ]
        );
    }

    #[test]
    fn json_pages_give_files_hashes_and_attributes() {
        let body = r#"{"meta": {"api-version": "1.1"}, "name": "pony", "files": [
            {"filename": "pony-1.0.tar.gz", "url": "/packages/pony-1.0.tar.gz",
             "hashes": {"sha256": "abcd", "md5": "x"}, "requires-python": ">=3.8",
             "yanked": false, "size": 12, "upload-time": "2023-04-02T10:11:12.345678Z"},
            {"filename": "pony-1.1-py3-none-any.whl", "url": "https://f.example.org/w.whl",
             "hashes": {}, "yanked": "broken"},
            {"filename": "pony-1.0.exe", "url": "x.exe", "hashes": {}}
        ]}"#;
        let files = parse_json("pony", &page(), body).expect("a valid page");
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0].file.url,
            "https://example.org/packages/pony-1.0.tar.gz"
        );
        assert_eq!(files[0].file.sha256.as_deref(), Some("abcd"));
        assert_eq!(files[0].file.size, Some(12));
        assert_eq!(files[0].file.requires_python.as_deref(), Some(">=3.8"));
        assert!(!files[0].file.yanked);
        assert_eq!(files[1].file.sha256, None);
        assert!(files[1].file.yanked, "a reason string means yanked");
        assert_eq!(
            files[0].file.upload_time.as_deref(),
            Some("2023-04-02T10:11:12.345678Z")
        );
        assert_eq!(files[1].file.upload_time, None);
        assert_eq!(files[1].version.as_deref(), Some("1.1"));
        assert!(parse_json("pony", &page(), "<html>").is_err());
    }

    #[test]
    fn html_is_read_as_browsers_read_it() {
        let body = "<html><body>
<!-- <a href=\"x/pony-9.0.tar.gz\">pony-9.0.tar.gz</a> -->
<a href=pony-1.0.tar.gz#SHA256=AB data-requires-python='&gt;=3.8,&#x3C;4' data-core-metadata=\"sha256=CD\">
  pony-1.0.tar.gz </a>
<a href=\"pony-1.1.tar.gz?a=1&amp;b=2\" data-dist-info-metadata=true data-yanked=\"\">pony-1.1.tar.gz
<p><a href=\"pony-1.2.tar.gz#md5=00\">pony&#45;1.2.tar.gz</a>
<a>pony-1.3.tar.gz</a>";
        let files = parse_html("pony", &page(), body);
        let got: Vec<_> = files
            .iter()
            .map(|l| {
                (
                    l.file.filename.as_str(),
                    l.file.url.as_str(),
                    l.file.sha256.as_deref(),
                    l.file.requires_python.as_deref(),
                    l.file.yanked,
                    l.file.core_metadata.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "pony-1.0.tar.gz",
                    "https://example.org/simple/pony/pony-1.0.tar.gz",
                    Some("ab"),
                    Some(">=3.8,<4"),
                    false,
                    Some("cd")
                ),
                (
                    "pony-1.1.tar.gz",
                    "https://example.org/simple/pony/pony-1.1.tar.gz?a=1&b=2",
                    None,
                    None,
                    true,
                    None
                ),
                (
                    "pony-1.2.tar.gz",
                    "https://example.org/simple/pony/pony-1.2.tar.gz",
                    None,
                    None,
                    false,
                    None
                ),
            ]
        );
    }

    #[test]
    fn json_core_metadata_needs_a_hash() {
        let body = r#"{"files": [
            {"filename": "pony-1.0-py3-none-any.whl", "url": "a.whl", "hashes": {"sha256": "ab"},
             "core-metadata": {"sha256": "CD"}},
            {"filename": "pony-1.1-py3-none-any.whl", "url": "b.whl", "hashes": {},
             "dist-info-metadata": {"sha256": "ef"}},
            {"filename": "pony-1.2-py3-none-any.whl", "url": "c.whl", "hashes": {},
             "core-metadata": true}
        ]}"#;
        let files = parse_json("pony", &page(), body).expect("a valid page");
        let got: Vec<_> = files
            .iter()
            .map(|l| l.file.core_metadata.as_deref())
            .collect();
        assert_eq!(got, vec![Some("cd"), Some("ef"), None]);
    }
}
