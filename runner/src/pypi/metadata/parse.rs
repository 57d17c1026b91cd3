//! Reading a core-metadata file (a wheel's `METADATA`, an sdist's `PKG-INFO`, a PEP 658
//! `.metadata` file): the email-header format of the Core Metadata specification,
//! Metadata-Version 1.0 to 2.4.
//!
//! The headers are split by `mailparse` (folded values, repeated fields, the body after
//! the blank line); this module only maps fields to [`Metadata`]. The long description
//! is the body (2.1 and later) or the `Description` header, whose continuation lines
//! carry the 8-space or `       |` indent the specification prescribes.
//!
//! Pure: no I/O.

use crate::pypi::Metadata;
use std::collections::BTreeMap;

/// A core-metadata file, read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoreMetadata {
    /// `Metadata-Version`.
    pub metadata_version: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Version`.
    pub version: Option<String>,
    /// The fields the score reads.
    pub metadata: Metadata,
    /// `Dynamic` (PEP 643, 2.2 and later): fields an sdist leaves to the build,
    /// lower-cased (`license`, `requires-dist`).
    pub dynamic: Vec<String>,
}

/// A core-metadata file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not UTF-8, as the specification requires.
    #[error("not UTF-8 text: {0}")]
    NotUtf8(String),
    /// The header block is malformed.
    #[error("malformed headers: {0}")]
    Headers(String),
    /// No `Metadata-Version`, `Name` or `Version`: not a core-metadata file.
    #[error("no {0} field: not a core-metadata file")]
    Missing(&'static str),
}

/// Parses the text of a core-metadata file.
pub fn parse(bytes: &[u8]) -> Result<CoreMetadata, ParseError> {
    let (headers, body_at) =
        mailparse::parse_headers(bytes).map_err(|e| ParseError::Headers(e.to_string()))?;
    let mut out = CoreMetadata::default();
    let mut home_page = None;
    let mut download_url = None;
    let mut license = None;
    let mut license_expression = None;
    let mut description_header = None;
    for header in &headers {
        let key = header.get_key_ref().trim().to_ascii_lowercase();
        let value = header
            .get_value_utf8()
            .map_err(|e| ParseError::NotUtf8(format!("{key}: {e}")))?;
        let value = value.trim().to_string();
        let m = &mut out.metadata;
        match key.as_str() {
            "metadata-version" => out.metadata_version = present(Some(value)),
            "name" => out.name = present(Some(value)),
            "version" => out.version = present(Some(value)),
            "summary" => m.summary = present(Some(value)),
            "description" => {
                let raw = std::str::from_utf8(header.get_value_raw())
                    .map_err(|e| ParseError::NotUtf8(format!("description: {e}")))?;
                description_header = present(Some(unfold_description(raw)));
            }
            "description-content-type" => m.description_content_type = present(Some(value)),
            "license" => {
                let raw = std::str::from_utf8(header.get_value_raw())
                    .map_err(|e| ParseError::NotUtf8(format!("license: {e}")))?;
                license = present(Some(unfold_description(raw)));
            }
            "license-expression" => license_expression = present(Some(value)),
            "classifier" => m.classifiers.extend(present(Some(value))),
            "home-page" => home_page = present(Some(value)),
            "download-url" => download_url = present(Some(value)),
            "project-url" => {
                if let Some((label, url)) = value.split_once(',') {
                    let (label, url) = (label.trim(), url.trim());
                    if !label.is_empty() && !url.is_empty() {
                        m.project_urls.insert(label.to_string(), url.to_string());
                    }
                }
            }
            "requires-python" => m.requires_python = present(Some(value)),
            "requires-dist" => m.requires_dist.extend(present(Some(value))),
            "author-email" => m.author_email = present(Some(value)),
            "maintainer-email" => m.maintainer_email = present(Some(value)),
            "dynamic" => out
                .dynamic
                .extend(present(Some(value.to_ascii_lowercase()))),
            _ => {}
        }
    }
    let body = std::str::from_utf8(&bytes[body_at..])
        .map_err(|e| ParseError::NotUtf8(format!("the description body: {e}")))?;
    let m = &mut out.metadata;
    // 2.1 puts the description in the body; a file that has both is read as pip
    // and PyPI's `packaging` reads it, the body first.
    m.description = present(Some(body.to_string())).or(description_header);
    m.license = license_expression.or(license);
    add_home_page(&mut m.project_urls, home_page, "Homepage");
    add_home_page(&mut m.project_urls, download_url, "Download");
    for (field, name) in [
        (&out.metadata_version, "Metadata-Version"),
        (&out.name, "Name"),
        (&out.version, "Version"),
    ] {
        if field.is_none() {
            return Err(ParseError::Missing(name));
        }
    }
    Ok(out)
}

/// A field's value, or `None` for what tools write when the author gave nothing:
/// an empty value or `UNKNOWN` (old setuptools, and PyPI's JSON API after it).
pub fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| {
        let v = v.trim();
        !v.is_empty() && v != "UNKNOWN"
    })
}

/// Adds `url` as `label` to `urls` unless one of them already points there (PyPI
/// shows `Home-page` and `Download-URL` among the project URLs).
pub fn add_home_page(urls: &mut BTreeMap<String, String>, url: Option<String>, label: &str) {
    if let Some(url) = url {
        if !urls.values().any(|u| *u == url) {
            urls.entry(label.to_string()).or_insert(url);
        }
    }
}

/// A folded `Description` (or `License`) header back as written: continuation lines
/// lose the 8 spaces (or the 7 spaces and `|`) the writer indented them with.
fn unfold_description(raw: &str) -> String {
    let text = raw.replace("\r\n", "\n");
    let mut lines = text.split('\n');
    let mut out = lines.next().unwrap_or("").trim().to_string();
    for line in lines {
        let line = line
            .strip_prefix("       |")
            .or_else(|| line.strip_prefix("        "))
            .unwrap_or_else(|| line.trim_start());
        out.push('\n');
        out.push_str(line);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> CoreMetadata {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Metadata-Version 1.0 (PEP 241): the description is a folded header.
    const V1_0: &str = "Metadata-Version: 1.0
Name: old-pony
Version: 0.1
Summary: An old pony
Home-page: https://example.org/old
Author-email: old@example.org
License: UNKNOWN
Description: Old pony
        ========
        
          indented line
        last line
Platform: UNKNOWN
";

    /// 1.1 (PEP 314), as setuptools wrote it with the `|` continuation.
    const V1_1: &str = "Metadata-Version: 1.1
Name: pony
Version: 1.1
Summary: Ponies
Home-page: https://example.org/pony
Download-URL: https://example.org/pony/download
License: BSD
Description: First line
       |
       |    code block
       |end
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: BSD License
";

    /// 1.2 (PEP 345).
    const V1_2: &str = "Metadata-Version: 1.2
Name: pony
Version: 1.2
Summary: Ponies
Requires-Python: >=3.6
Requires-Dist: requests (>=2)
Project-URL: Source, https://example.org/src
Project-URL: Bug Tracker, https://example.org/issues
Maintainer-email: m@example.org
";

    /// 2.1 (PEP 566): the description is the body.
    const V2_1: &str = "Metadata-Version: 2.1
Name: pony
Version: 2.1
Summary: Ponies
Description-Content-Type: text/markdown
License: MIT License
        
        Permission is hereby granted, free of charge, to any person
Requires-Dist: pytest; extra == \"test\"
Provides-Extra: test

# Pony

Multi-line
description.
";

    /// 2.2 (PEP 643): a PKG-INFO with Dynamic fields.
    const V2_2: &str = "Metadata-Version: 2.2
Name: pony
Version: 2.2
Summary: Ponies
Dynamic: License
Dynamic: Requires-Dist

Body.
";

    /// 2.4 (PEP 639): License-Expression wins over License.
    const V2_4: &str = "Metadata-Version: 2.4
Name: pony
Version: 2.4
Summary: Ponies
License-Expression: MIT OR Apache-2.0
License-File: LICENSE
Project-URL: Homepage, https://example.org/pony
Home-page: https://example.org/pony
Requires-Python: >=3.9

Body.
";

    #[test]
    fn every_metadata_version_gives_its_fields() {
        let v = read(V1_0);
        assert_eq!(v.metadata_version.as_deref(), Some("1.0"));
        assert_eq!(v.metadata.license, None, "UNKNOWN is no license");
        assert_eq!(
            v.metadata.description.as_deref(),
            Some("Old pony\n========\n\n  indented line\nlast line")
        );
        assert_eq!(
            v.metadata.project_urls.get("Homepage").map(String::as_str),
            Some("https://example.org/old")
        );
        assert_eq!(v.metadata.author_email.as_deref(), Some("old@example.org"));

        let v = read(V1_1);
        assert_eq!(
            v.metadata.description.as_deref(),
            Some("First line\n\n    code block\nend")
        );
        assert_eq!(v.metadata.classifiers.len(), 2);
        assert_eq!(v.metadata.license.as_deref(), Some("BSD"));
        assert_eq!(v.metadata.project_urls.len(), 2, "home page and download");

        let v = read(V1_2);
        assert_eq!(v.metadata.requires_python.as_deref(), Some(">=3.6"));
        assert_eq!(v.metadata.requires_dist, vec!["requests (>=2)"]);
        assert_eq!(
            v.metadata
                .project_urls
                .get("Bug Tracker")
                .map(String::as_str),
            Some("https://example.org/issues")
        );
        assert_eq!(
            v.metadata.maintainer_email.as_deref(),
            Some("m@example.org")
        );
        assert_eq!(v.metadata.description, None);

        let v = read(V2_1);
        assert_eq!(
            v.metadata.description.as_deref(),
            Some("# Pony\n\nMulti-line\ndescription.\n")
        );
        assert_eq!(
            v.metadata.description_content_type.as_deref(),
            Some("text/markdown")
        );
        assert_eq!(
            v.metadata.license.as_deref(),
            Some("MIT License\n\nPermission is hereby granted, free of charge, to any person"),
            "a folded License keeps its lines"
        );
        assert_eq!(v.metadata.requires_dist, vec!["pytest; extra == \"test\""]);

        let v = read(V2_2);
        assert_eq!(v.dynamic, vec!["license", "requires-dist"]);
        assert_eq!(v.metadata.license, None);

        let v = read(V2_4);
        assert_eq!(v.metadata.license.as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(
            v.metadata.project_urls.len(),
            1,
            "a Home-page already among the Project-URLs is not added twice"
        );
        assert_eq!(v.name.as_deref(), Some("pony"));
        assert_eq!(v.version.as_deref(), Some("2.4"));
    }

    #[test]
    fn crlf_files_and_non_ascii_text_read_alike() {
        let text = "Metadata-Version: 2.1\r\nName: pony\r\nVersion: 1\r\nAuthor-email: Jos\u{e9} <j@example.org>\r\nSummary: Poneys \u{e0} gogo\r\n\r\nBody \u{2014} text\r\n";
        let v = read(text);
        assert_eq!(v.metadata.summary.as_deref(), Some("Poneys \u{e0} gogo"));
        assert_eq!(
            v.metadata.author_email.as_deref(),
            Some("Jos\u{e9} <j@example.org>")
        );
        assert_eq!(
            v.metadata.description.as_deref(),
            Some("Body \u{2014} text\r\n")
        );
    }

    #[test]
    fn a_folded_summary_is_one_value() {
        let v = read("Metadata-Version: 2.1\nName: p\nVersion: 1\nSummary: one\n two\n");
        assert_eq!(v.metadata.summary.as_deref(), Some("one two"));
    }

    #[test]
    fn files_that_are_not_core_metadata_are_refused() {
        let cases: &[(&[u8], &str)] = &[
            (b"Name: p\nVersion: 1\n", "Metadata-Version"),
            (b"Metadata-Version: 2.1\nVersion: 1\n", "Name"),
            (b"Metadata-Version: 2.1\nName: p\n", "Version"),
            (b"Metadata-Version: 2.1\nName: \xff\nVersion: 1\n", "UTF-8"),
            (b"<html>not metadata</html>", ""),
        ];
        for (bytes, says) in cases {
            let err = parse(bytes).expect_err("refused");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
