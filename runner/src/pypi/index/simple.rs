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
        out.extend(listed(
            project,
            &f.filename,
            url,
            f.hashes.get("sha256").cloned(),
            f.requires_python,
            yanked,
            f.size,
        ));
    }
    Ok(out)
}

/// Parses a PEP 503 HTML page of `project` fetched from `page`: every `<a>` whose
/// text is a distribution's file name. The hash is the link's `#sha256=` fragment.
pub fn parse_html(project: &str, page: &Url, body: &str) -> Vec<Listed> {
    let mut out = Vec::new();
    for anchor in anchors(body) {
        let Some(href) = anchor.attr("href") else {
            continue;
        };
        let Ok(mut url) = page.join(&href) else {
            continue;
        };
        let sha256 = url
            .fragment()
            .and_then(|f| f.strip_prefix("sha256="))
            .map(str::to_ascii_lowercase);
        url.set_fragment(None);
        let filename = unescape(anchor.text.trim());
        let yanked = anchor.attr("data-yanked").is_some();
        out.extend(listed(
            project,
            &filename,
            url,
            sha256,
            anchor.attr("data-requires-python"),
            yanked,
            None,
        ));
    }
    out
}

fn listed(
    project: &str,
    filename: &str,
    url: Url,
    sha256: Option<String>,
    requires_python: Option<String>,
    yanked: bool,
    size: Option<u64>,
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
        },
    })
}

/// One `<a …>text</a>`.
struct Anchor<'a> {
    attrs: Vec<(String, Option<&'a str>)>,
    text: &'a str,
}

impl Anchor<'_> {
    /// The attribute's value, entities decoded; `Some("")` for a bare attribute.
    fn attr(&self, name: &str) -> Option<String> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| unescape(v.unwrap_or("")))
    }
}

/// The anchors of an HTML page: a forgiving scan (the pages are machine-written, but
/// not always well-formed XML), not a full HTML parser.
fn anchors(body: &str) -> Vec<Anchor<'_>> {
    let lower = body.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<a") {
        let start = at + found + 2;
        at = start;
        if !lower[start..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>') {
            continue;
        }
        let Some(tag_end) = tag_end(body, start) else {
            break;
        };
        let Some(close) = lower[tag_end + 1..].find("</a") else {
            break;
        };
        let text = &body[tag_end + 1..tag_end + 1 + close];
        out.push(Anchor {
            attrs: attributes(&body[start..tag_end]),
            text,
        });
        at = tag_end + 1 + close;
    }
    out
}

/// The index of the `>` closing the tag opened before `from`, skipping quoted values.
fn tag_end(body: &str, from: usize) -> Option<usize> {
    let mut quote = None;
    for (i, c) in body[from..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(from + i),
            _ => {}
        }
    }
    None
}

/// `name="value" name='value' name=value name`, names lower-cased.
fn attributes(tag: &str) -> Vec<(String, Option<&str>)> {
    let mut out = Vec::new();
    let mut rest = tag.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = None;
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                    Some(end) => (&after[1..1 + end], &after[end + 2..]),
                    None => (&after[1..], ""),
                },
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = Some(v);
            rest = remaining;
        } else if name.is_empty() {
            // A stray `/` or similar: skip one character.
            rest = rest.get(1..).unwrap_or("");
        }
        if !name.is_empty() {
            out.push((name, value));
        }
        rest = rest.trim_start();
    }
    out
}

/// Decodes the entities PEP 503 pages use (`&lt;` in `data-requires-python`, `&amp;`
/// in links, numeric ones).
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
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
             "yanked": false, "size": 12},
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
        assert_eq!(files[1].version.as_deref(), Some("1.1"));
        assert!(parse_json("pony", &page(), "<html>").is_err());
    }

    #[test]
    fn entities_decode() {
        for (text, want) in [
            ("&gt;=3.8,&lt;4", ">=3.8,<4"),
            ("a&amp;b", "a&b"),
            ("&#62;&#x3C;", "><"),
            ("AT&T", "AT&T"),
            ("&bogus;", "&bogus;"),
        ] {
            assert_eq!(unescape(text), want, "{text}");
        }
    }
}
