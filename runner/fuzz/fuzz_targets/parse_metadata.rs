//! Arbitrary bytes through the two parsers of what an index and an upload hand
//! ponyswarm before anything is verified beyond a hash: the core-metadata parser
//! (a wheel's METADATA, an sdist's PKG-INFO, a PEP 658 file) and the Simple API's
//! HTML page. Neither may panic; what they return must hold what they promise.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ponyswarm::pypi::index::simple;
use ponyswarm::pypi::metadata::parse;
use url::Url;

fuzz_target!(|data: &[u8]| {
    if let Ok(core) = parse::parse(data) {
        // A file without these is refused, not half-read.
        assert!(core.metadata_version.is_some() && core.name.is_some() && core.version.is_some());
        let m = &core.metadata;
        for value in [&m.summary, &m.license, &m.requires_python].into_iter().flatten() {
            assert!(!value.trim().is_empty() && value != "UNKNOWN");
        }
        assert!(m.project_urls.iter().all(|(k, v)| !k.is_empty() && !v.is_empty()));
        assert!(core.dynamic.iter().all(|d| *d == d.to_ascii_lowercase()));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let page = Url::parse("https://example.org/simple/pony/").expect("a valid URL");
    for listed in simple::parse_html("pony", &page, text) {
        let f = &listed.file;
        let url = Url::parse(&f.url).expect("links are absolute URLs");
        assert!(url.fragment().is_none(), "the hash fragment is taken off");
        for hash in [&f.sha256, &f.core_metadata].into_iter().flatten() {
            assert!(!hash.is_empty());
            assert!(hash.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        }
        assert_eq!(f.filename, f.filename.trim());
    }
});
