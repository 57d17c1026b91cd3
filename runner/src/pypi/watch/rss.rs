//! PyPI's latest-updates feed (`{index}/rss/updates.xml`): the newest uploads, each an
//! `<item>` titled `NAME VERSION` with a link `…/project/NAME/VERSION/` and a
//! `pubDate`. It only holds the newest items (40 on PyPI), so it is the fallback for
//! indexes without the changelog.
//!
//! Pure: no I/O.

use super::xml;
use crate::pypi::index::retry::http_date;
use std::time::UNIX_EPOCH;

/// One upload the feed announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The project's name.
    pub name: String,
    /// The version.
    pub version: String,
    /// Unix time of `pubDate`, when it reads.
    pub published: Option<i64>,
}

/// Reads the feed's items, newest first as the feed gives them; items whose release
/// cannot be told are left out.
pub fn parse(body: &str) -> Result<Vec<Item>, String> {
    let root = xml::parse(body)?;
    let channel = root
        .child("channel")
        .ok_or_else(|| format!("<{}> has no <channel>: not an RSS feed", root.name))?;
    let items = channel
        .all("item")
        .filter_map(|item| {
            let (name, version) = item
                .child_text("link")
                .and_then(from_link)
                .or_else(|| item.child_text("title").and_then(from_title))?;
            let published = item
                .child_text("pubDate")
                .and_then(http_date)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok());
            Some(Item {
                name,
                version,
                published,
            })
        })
        .collect();
    Ok(items)
}

/// `https://pypi.org/project/NAME/VERSION/` → (NAME, VERSION).
fn from_link(link: &str) -> Option<(String, String)> {
    let path = link.split("/project/").nth(1)?;
    let mut parts = path.trim_end_matches('/').split('/');
    let (name, version) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !name.is_empty() && !version.is_empty())
        .then(|| (name.to_string(), version.to_string()))
}

/// `NAME VERSION` → (NAME, VERSION).
fn from_title(title: &str) -> Option<(String, String)> {
    let (name, version) = title.trim().split_once(' ')?;
    let version = version.trim();
    (!name.is_empty() && !version.is_empty() && !version.contains(' '))
        .then(|| (name.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_items_become_releases() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>PyPI recent updates</title>
<item><title>pony-tools 2.0</title><link>https://pypi.org/project/pony-tools/2.0/</link>
  <pubDate>Sun, 06 Nov 1994 08:49:37 GMT</pubDate></item>
<item><title>Other 1.0b1</title><link>https://elsewhere/</link></item>
<item><title>no version here</title></item>
<item><link>https://pypi.org/project/x/</link></item>
</channel></rss>"#;
        let items = parse(body).expect("a valid feed");
        assert_eq!(
            items,
            vec![
                Item {
                    name: "pony-tools".into(),
                    version: "2.0".into(),
                    published: Some(784_111_777)
                },
                Item {
                    name: "Other".into(),
                    version: "1.0b1".into(),
                    published: None
                },
            ]
        );
    }

    #[test]
    fn other_documents_are_not_feeds() {
        assert!(parse("<html><body/></html>").is_err());
        assert!(parse("not xml at all <").is_err());
    }
}
