//! Resolving a release through a package index and downloading its files.
//!
//! The JSON API (`{index}/pypi/NAME/json`, `{index}/pypi/NAME/VERSION/json`) is asked
//! first; an index without it (a devpi, a plain file server) is read through the
//! Simple API, `{index}/simple/NAME/`, asking for PEP 691 JSON and reading PEP 503
//! HTML when that is what comes back. Either way the score's metadata is then read
//! from the downloaded files ([`crate::pypi::metadata`]); the JSON API's is only a
//! cross-check.
//! Downloads are checked against the index's SHA-256 before anything uses them: a file
//! without a hash, or with another one, is refused. Every answer is read within a cap
//! ([`MAX_PAGE_BYTES`], [`MAX_FILE_BYTES`], the metadata file's own), so an index that
//! streams forever stops at it.
//!
//! I/O: this is the HTTP edge; the page parsers are pure ([`json_api`], [`simple`]).

pub mod files;
pub mod json_api;
pub mod retry;
pub mod simple;
pub mod version;

use super::{normalize, DistFile, Release, Requirement};
use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use retry::Backoff;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tokio::io::AsyncWriteExt;
use url::Url;

/// Most bytes of an index page (a project's JSON API or Simple API page): the pages
/// of the largest projects on PyPI are a few tens of MB.
pub const MAX_PAGE_BYTES: u64 = 128 << 20;

/// Most bytes of a downloaded distribution file: twice PyPI's default upload cap
/// (100 MB) with room for projects granted more; the sdist unpack cap is lower.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// What went wrong talking to an index, worded for the user.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// `--index` is not an http(s) URL.
    #[error("the index URL {url:?} is not usable: {reason}")]
    BadUrl {
        /// As given.
        url: String,
        /// Why not.
        reason: String,
    },
    /// `NAME[==VERSION]` could not be read.
    #[error("{0:?} is not NAME or NAME==VERSION")]
    BadRequirement(String),
    /// The index could not be reached.
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why not.
        #[source]
        source: reqwest::Error,
    },
    /// The index answered with an error.
    #[error("{url} answered {status}")]
    Status {
        /// What was asked.
        url: String,
        /// The answer.
        status: StatusCode,
    },
    /// The index has no such project, or no such version of it.
    #[error("{what} is not on the index {index}")]
    NotFound {
        /// `pony` or `pony==1.0`.
        what: String,
        /// The index's base URL.
        index: String,
    },
    /// A page the index sent could not be read.
    #[error("cannot read {url}: {reason}")]
    BadPage {
        /// The page.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The release has no sdist or wheel to test.
    #[error("{name} {version} has no sdist or wheel on the index")]
    NoFiles {
        /// The project.
        name: String,
        /// The version.
        version: String,
    },
    /// The index gives no SHA-256 for a file, so it cannot be verified.
    #[error("{filename}: the index gives no SHA-256 for it, so it cannot be verified; refusing to use it")]
    MissingHash {
        /// The file.
        filename: String,
    },
    /// A downloaded file is not what the index said.
    #[error("{filename}: SHA-256 mismatch: the index says {expected}, the download from {url} is {actual}")]
    HashMismatch {
        /// The file.
        filename: String,
        /// Where it came from.
        url: String,
        /// The index's hash.
        expected: String,
        /// The download's.
        actual: String,
    },
    /// A file name that could escape the download directory.
    #[error("the index names a file {0:?}, which is not a plain file name; refusing it")]
    UnsafeFilename(String),
    /// Writing the download failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}

impl FromStr for Requirement {
    type Err = IndexError;

    /// `NAME` or `NAME==VERSION`, spaces allowed around `==`.
    fn from_str(text: &str) -> Result<Requirement, IndexError> {
        let bad = || IndexError::BadRequirement(text.to_string());
        let (name, version) = match text.split_once("==") {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (text.trim(), None),
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let valid_version = version.is_none_or(|v| {
            !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == '/' || c == '=')
        });
        if !valid_name || !valid_version {
            return Err(bad());
        }
        Ok(Requirement {
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }
}

/// A package index: PyPI, a mirror, a devpi, or the tests' local one.
#[derive(Debug, Clone)]
pub struct Index {
    base: Url,
    client: Client,
    backoff: Backoff,
}

impl Index {
    /// The index at `base` (`https://pypi.org`, `http://127.0.0.1:8080`), asked through
    /// `client` (see [`crate::http::client`]).
    pub fn new(base: &str, client: Client) -> Result<Index, IndexError> {
        let bad = |reason: String| IndexError::BadUrl {
            url: base.to_string(),
            reason,
        };
        let mut url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(bad("use an http:// or https:// URL".into()));
        }
        // A base given as `…/simple` is the index's root one level up.
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/simple").unwrap_or(path).to_string();
        url.set_path(&format!("{path}/"));
        Ok(Index {
            base: url,
            client,
            backoff: Backoff::default(),
        })
    }

    /// Retries as `backoff` says instead of the default.
    pub fn with_backoff(mut self, backoff: Backoff) -> Index {
        self.backoff = backoff;
        self
    }

    /// The base URL, ending in `/`.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// The client requests go through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `path` (relative, no leading `/`) under the base.
    pub fn join(&self, path: &str) -> Result<Url, IndexError> {
        self.base.join(path).map_err(|e| IndexError::BadUrl {
            url: format!("{}{path}", self.base),
            reason: e.to_string(),
        })
    }

    /// The release `req` names (the latest when unpinned), with its files and, when the
    /// JSON API answers, its metadata. A release without sdist or wheel is an error.
    pub async fn resolve(&self, req: &Requirement) -> Result<Release, IndexError> {
        let release = match self.via_json_api(req).await? {
            Some(release) => release,
            None => self.via_simple_api(req).await?,
        };
        if release.files.is_empty() {
            return Err(IndexError::NoFiles {
                name: release.name,
                version: release.version,
            });
        }
        Ok(release)
    }

    /// The JSON API's answer; `None` when the index has no JSON API (any 4xx but 429:
    /// an index without the API answers 404 for every project, so the Simple API
    /// decides whether the project exists).
    async fn via_json_api(&self, req: &Requirement) -> Result<Option<Release>, IndexError> {
        let name = normalize(&req.name);
        let path = match &req.version {
            Some(v) => format!("pypi/{name}/{v}/json"),
            None => format!("pypi/{name}/json"),
        };
        let url = self.join(&path)?;
        let response = self.get(&url, "application/json").await?;
        if response.status().is_client_error() {
            return Ok(None);
        }
        let (page, body) = self.body(url, response).await?;
        json_api::parse(&page, &body)
            .map(Some)
            .map_err(|reason| IndexError::BadPage {
                url: page.to_string(),
                reason,
            })
    }

    async fn via_simple_api(&self, req: &Requirement) -> Result<Release, IndexError> {
        let name = normalize(&req.name);
        let url = self.join(&format!("simple/{name}/"))?;
        let response = self.get(&url, simple::ACCEPT).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(self.not_found(&req.name, None));
        }
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let (page, body) = self.body(url, response).await?;
        let listed = if is_json {
            simple::parse_json(&name, &page, &body).map_err(|reason| IndexError::BadPage {
                url: page.to_string(),
                reason,
            })?
        } else {
            simple::parse_html(&name, &page, &body)
        };
        let version = match &req.version {
            Some(v) => v.clone(),
            None => {
                let offered = listed
                    .iter()
                    .filter(|l| !l.file.yanked)
                    .filter_map(|l| l.version.as_deref());
                version::latest(offered)
                    .ok_or_else(|| self.not_found(&req.name, None))?
                    .to_string()
            }
        };
        let wanted = version::Version::parse(&version);
        let files: Vec<DistFile> = listed
            .into_iter()
            .filter(|l| match (&l.version, &wanted) {
                (Some(v), Some(w)) => version::Version::parse(v).as_ref() == Some(w),
                (Some(v), None) => *v == version,
                (None, _) => false,
            })
            .map(|l| l.file)
            .collect();
        if files.is_empty() {
            return Err(self.not_found(&req.name, Some(&version)));
        }
        Ok(Release {
            name,
            version,
            files,
            metadata: Default::default(),
        })
    }

    /// Downloads `file` into `dir` (as `dir/FILENAME`) and checks its SHA-256; a file
    /// that fails the check is deleted. Returns the file's path.
    pub async fn download(&self, file: &DistFile, dir: &Path) -> Result<PathBuf, IndexError> {
        if !files::is_safe_filename(&file.filename) {
            return Err(IndexError::UnsafeFilename(file.filename.clone()));
        }
        let expected = file
            .sha256
            .as_deref()
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| IndexError::MissingHash {
                filename: file.filename.clone(),
            })?;
        let url = Url::parse(&file.url).map_err(|e| IndexError::BadPage {
            url: file.url.clone(),
            reason: format!("not a URL: {e}"),
        })?;
        let response = self.get(&url, "*/*").await?;
        let response = ok(&url, response)?;
        let path = dir.join(&file.filename);
        let partial = dir.join(format!(".{}.part", file.filename));
        let actual = save(response, &url, &partial).await?;
        if actual != expected {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(IndexError::HashMismatch {
                filename: file.filename.clone(),
                url: file.url.clone(),
                expected,
                actual,
            });
        }
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|source| IndexError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }

    /// The PEP 658 core-metadata file of `file` (served at its URL + `.metadata`),
    /// checked against the SHA-256 the index gives for it.
    pub async fn core_metadata(&self, file: &DistFile) -> Result<Vec<u8>, IndexError> {
        let name = format!("{}.metadata", file.filename);
        let expected = file
            .core_metadata
            .clone()
            .ok_or_else(|| IndexError::MissingHash {
                filename: name.clone(),
            })?;
        let url =
            Url::parse(&format!("{}.metadata", file.url)).map_err(|e| IndexError::BadPage {
                url: file.url.clone(),
                reason: format!("not a URL: {e}"),
            })?;
        let response = ok(&url, self.get(&url, "*/*").await?)?;
        let cap = crate::pypi::metadata::archive::MAX_MEMBER_BYTES;
        let mut bytes = Vec::new();
        let mut chunks = capped_chunks(response, &url, cap)?;
        while let Some(chunk) = chunks.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != expected {
            return Err(IndexError::HashMismatch {
                filename: name,
                url: url.to_string(),
                expected,
                actual,
            });
        }
        Ok(bytes)
    }

    /// GET with retries; a 429 or 5xx left after them is an error, other statuses are
    /// the caller's to judge.
    async fn get(&self, url: &Url, accept: &str) -> Result<reqwest::Response, IndexError> {
        let response = retry::send(
            || {
                self.client
                    .get(url.clone())
                    .header(reqwest::header::ACCEPT, accept)
            },
            &self.backoff,
        )
        .await
        .map_err(|source| IndexError::Unreachable {
            url: url.to_string(),
            source,
        })?;
        if retry::is_retryable(response.status()) {
            return Err(IndexError::Status {
                url: url.to_string(),
                status: response.status(),
            });
        }
        Ok(response)
    }

    /// The body of a successful answer, with the URL it finally came from (after
    /// redirects: relative links are relative to it).
    async fn body(
        &self,
        url: Url,
        response: reqwest::Response,
    ) -> Result<(Url, String), IndexError> {
        let response = ok(&url, response)?;
        let page = response.url().clone();
        let mut bytes = Vec::new();
        let mut chunks = capped_chunks(response, &url, MAX_PAGE_BYTES)?;
        while let Some(chunk) = chunks.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        // Pages are UTF-8 (PEP 503, PEP 691, JSON); anything else is replaced, as
        // reqwest's `text()` did.
        Ok((page, String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn not_found(&self, name: &str, version: Option<&str>) -> IndexError {
        IndexError::NotFound {
            what: match version {
                Some(v) => format!("{name}=={v}"),
                None => name.to_string(),
            },
            index: self.base.to_string(),
        }
    }
}

fn ok(url: &Url, response: reqwest::Response) -> Result<reqwest::Response, IndexError> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(IndexError::Status {
            url: url.to_string(),
            status: response.status(),
        })
    }
}

/// Streams `response` into `path`, returning the SHA-256 of what was written.
async fn save(response: reqwest::Response, url: &Url, path: &Path) -> Result<String, IndexError> {
    let write_err = |source| IndexError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut out = tokio::fs::File::create(path).await.map_err(write_err)?;
    let mut hasher = Sha256::new();
    let mut chunks = capped_chunks(response, url, MAX_FILE_BYTES)?;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(write_err)?;
    }
    out.flush().await.map_err(write_err)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The body of `response` in chunks, failing once more than `cap` bytes came (or at
/// once, when its length says so).
fn capped_chunks(
    response: reqwest::Response,
    url: &Url,
    cap: u64,
) -> Result<impl futures_util::Stream<Item = Result<bytes::Bytes, IndexError>> + Unpin, IndexError>
{
    let too_large = {
        let url = url.to_string();
        move || IndexError::BadPage {
            url: url.clone(),
            reason: format!("larger than {}", crate::untar::human_bytes(cap)),
        }
    };
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let url = url.to_string();
    let mut seen = 0u64;
    Ok(response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(|source| IndexError::Unreachable {
            url: url.clone(),
            source,
        })?;
        seen += chunk.len() as u64;
        if seen > cap {
            return Err(too_large());
        }
        Ok(chunk)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_longer_than_its_cap_stops_at_the_cap() {
        let url = Url::parse("http://127.0.0.1/pony.tar.gz").unwrap();
        // Streamed, so that no length is announced: the cap must stop the stream.
        let answer = |n: usize| {
            let chunks = vec![Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0u8; n]))];
            let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
            reqwest::Response::from(axum::http::Response::new(body))
        };
        let mut got = 0;
        let mut chunks = capped_chunks(answer(10), &url, 10).expect("fits");
        while let Some(chunk) = chunks.next().await {
            got += chunk.expect("fits").len();
        }
        assert_eq!(got, 10);
        let announced = reqwest::Response::from(axum::http::Response::new(vec![0u8; 11]));
        assert!(
            capped_chunks(announced, &url, 10).is_err(),
            "refused at once"
        );
        let mut chunks = capped_chunks(answer(11), &url, 10).expect("no length given");
        let mut failed = None;
        while let Some(chunk) = chunks.next().await {
            if let Err(e) = chunk {
                failed = Some(e.to_string());
            }
        }
        let failed = failed.expect("one byte too many");
        assert!(failed.contains("larger than 10 bytes"), "{failed}");
    }

    #[test]
    fn requirements_parse_name_and_pin() {
        let cases = [
            ("pony", Some(("pony", None))),
            ("Pony_Tools==1.0rc1", Some(("Pony_Tools", Some("1.0rc1")))),
            ("pony == 2.0", Some(("pony", Some("2.0")))),
            ("", None),
            ("pony==", None),
            ("pony>=1", None),
            ("../etc", None),
            ("pony==1/../x", None),
        ];
        for (text, want) in cases {
            let got = text.parse::<Requirement>().ok();
            let got = got
                .as_ref()
                .map(|r| (r.name.as_str(), r.version.as_deref()));
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn index_urls_become_bases() {
        let cases = [
            ("https://pypi.org", Some("https://pypi.org/")),
            ("https://pypi.org/simple/", Some("https://pypi.org/")),
            (
                "http://127.0.0.1:8080/root/pypi",
                Some("http://127.0.0.1:8080/root/pypi/"),
            ),
            ("ftp://example.org", None),
            ("pypi.org", None),
        ];
        for (given, want) in cases {
            let client = crate::http::client(&crate::sandbox::egress::Egress::none());
            let got = Index::new(given, client.expect("a client")).ok();
            assert_eq!(got.as_ref().map(|i| i.url().as_str()), want, "{given}");
        }
    }
}
