//! A local package index for the tests, served by a real HTTP server (axum) on
//! 0.0.0.0 so containers reach it through the bridge gateway: a PyPI-compatible JSON
//! API, the Simple API (PEP 691 JSON and PEP 503 HTML), the files under `/packages/`,
//! the RSS feed `/rss/updates.xml` (with ETag / If-None-Match), and the XML-RPC
//! `changelog_since_serial` and `changelog_last_serial` on `POST /pypi`. Project pages
//! (`/pypi/NAME/json`, `/simple/NAME/`) carry an ETag and a Last-Modified and answer
//! 304 to a conditional request while the project has no new upload.
//!
//! Tests can publish releases later, turn the JSON API, PEP 691, the changelog, the RSS
//! feed or project ETags off, serve a PEP 658
//! core-metadata file beside a file, corrupt a file,
//! make the next requests fail (429 or 5xx, with `Retry-After`), and read the request
//! log.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ponyswarm::pypi::index::retry::Backoff;
use ponyswarm::pypi::index::Index;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

/// A release to serve: its files (real sdists and wheels, or any bytes) and its JSON
/// API `info`.
#[derive(Debug, Clone)]
pub struct FixtureRelease {
    /// The project's name as uploaded.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its files; served under their file names.
    pub files: Vec<PathBuf>,
    /// The JSON API's `info` object (name and version are filled in when missing).
    pub metadata: Value,
}

/// One request the index answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// `GET`, `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

struct File {
    filename: String,
    bytes: Vec<u8>,
    sha256: String,
    corrupt: bool,
    /// The PEP 658 `FILE.metadata` served, and the SHA-256 listed for it.
    core_metadata: Option<(Vec<u8>, String)>,
}

struct Stored {
    release: FixtureRelease,
    files: Vec<File>,
    published: u64,
}

struct Fault {
    status: u16,
    retry_after: Option<String>,
}

#[derive(Default)]
struct State {
    releases: Vec<Stored>,
    /// (name, version, time, action, serial).
    changelog: Vec<(String, String, u64, String, u64)>,
    json_api: bool,
    simple_json: bool,
    changelog_api: bool,
    rss: bool,
    project_etags: bool,
    faults: VecDeque<Fault>,
    log: Vec<Logged>,
}

/// The running index; stops when dropped.
pub struct LocalIndex {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalIndex {
    /// Serves `releases` on 0.0.0.0 at a free port, from a thread of its own (so sync
    /// and async tests can use it alike).
    pub fn start(releases: Vec<FixtureRelease>) -> LocalIndex {
        let state = Arc::new(Mutex::new(State {
            json_api: true,
            simple_json: true,
            changelog_api: true,
            rss: true,
            project_etags: true,
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking socket");
        let addr = listener.local_addr().expect("a bound address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the index");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                let app = axum::Router::new()
                    .fallback(move |m, u, h, b| handle(shared.clone(), m, u, h, b));
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("the index serves");
            });
        });
        let index = LocalIndex {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        };
        for release in releases {
            index.publish(release);
        }
        index
    }

    /// An [`Index`] client of this index from the host, retrying quickly.
    pub fn index(&self) -> Index {
        let client =
            ponyswarm::http::client(&ponyswarm::sandbox::egress::Egress::none()).expect("a client");
        Index::new(&self.url(), client)
            .expect("a valid URL")
            .with_backoff(Backoff {
                retries: 3,
                base: Duration::from_millis(10),
                max: Duration::from_secs(2),
            })
    }

    /// The base URL, as the host reaches it (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The base URL through another address (the bridge gateway, for containers).
    pub fn url_via(&self, host: &str) -> String {
        format!("http://{host}:{}", self.addr.port())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Adds a release (or another version), as an upload would: changelog entries
    /// ("new release", then one "add … file" per file) and an RSS item.
    pub fn publish(&self, release: FixtureRelease) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.publish_at(release, now);
    }

    /// [`Self::publish`] as if uploaded at `time` (seconds since 1970): the upload
    /// time its files are listed with.
    pub fn publish_at(&self, release: FixtureRelease, now: u64) {
        let files: Vec<File> = release
            .files
            .iter()
            .map(|path| {
                let bytes =
                    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                File {
                    filename: path
                        .file_name()
                        .expect("a file name")
                        .to_string_lossy()
                        .into_owned(),
                    sha256: hex::encode(Sha256::digest(&bytes)),
                    bytes,
                    corrupt: false,
                    core_metadata: None,
                }
            })
            .collect();
        let mut state = self.lock();
        let name = release.name.clone();
        let version = release.version.clone();
        let mut events = vec!["new release".to_string()];
        for f in &files {
            let kind = if f.filename.ends_with(".whl") {
                "py3"
            } else {
                "source"
            };
            events.push(format!("add {kind} file {}", f.filename));
        }
        for action in events {
            let serial = state.changelog.len() as u64 + 1;
            state
                .changelog
                .push((name.clone(), version.clone(), now, action, serial));
        }
        state.releases.push(Stored {
            release,
            files,
            published: now,
        });
    }

    /// Serve the JSON API (default) or answer 404 there, as a Simple-only index does.
    pub fn set_json_api(&self, on: bool) {
        self.lock().json_api = on;
    }

    /// Serve PEP 691 JSON when asked (default), or only PEP 503 HTML.
    pub fn set_simple_json(&self, on: bool) {
        self.lock().simple_json = on;
    }

    /// Serve the XML-RPC changelog (default), or answer 404 there, as an index with
    /// only the RSS feed does.
    pub fn set_changelog(&self, on: bool) {
        self.lock().changelog_api = on;
    }

    /// Serve the RSS feed (default), or answer 404 there: with the changelog off too,
    /// an index (a mirror) that only serves project pages.
    pub fn set_rss(&self, on: bool) {
        self.lock().rss = on;
    }

    /// Send an ETag with project pages (default), or only a Last-Modified.
    pub fn set_project_etags(&self, on: bool) {
        self.lock().project_etags = on;
    }

    /// How many requests for `path` were answered 304 Not Modified.
    pub fn not_modified(&self, path: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|l| l.path == path && l.status == 304)
            .count()
    }

    /// Serves `bytes` as the PEP 658 core-metadata file of `filename` (at
    /// `/packages/FILENAME.metadata`), listed in both Simple API formats with their
    /// SHA-256, or with another hash when `honest` is false.
    pub fn serve_core_metadata(&self, filename: &str, bytes: &[u8], honest: bool) {
        let mut sha256 = hex::encode(Sha256::digest(bytes));
        if !honest {
            sha256 = hex::encode(Sha256::digest(b"other bytes"));
        }
        let mut state = self.lock();
        for stored in &mut state.releases {
            for f in &mut stored.files {
                if f.filename == filename {
                    f.core_metadata = Some((bytes.to_vec(), sha256.clone()));
                }
            }
        }
    }

    /// Serves other bytes than the listed hash says for `filename`.
    pub fn corrupt(&self, filename: &str) {
        let mut state = self.lock();
        for stored in &mut state.releases {
            for f in &mut stored.files {
                if f.filename == filename {
                    f.corrupt = true;
                }
            }
        }
    }

    /// Answers the next `count` requests (whatever they ask) with `status`, and with
    /// `Retry-After: retry_after` when given.
    pub fn fail_next(&self, count: usize, status: u16, retry_after: Option<&str>) {
        let mut state = self.lock();
        for _ in 0..count {
            state.faults.push_back(Fault {
                status,
                retry_after: retry_after.map(str::to_string),
            });
        }
    }

    /// The requests answered so far.
    pub fn log(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// The changelog's last serial.
    pub fn last_serial(&self) -> u64 {
        self.lock().changelog.len() as u64
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for LocalIndex {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let response = match state.faults.pop_front() {
        Some(fault) => {
            let status =
                StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match fault.retry_after {
                Some(after) => (status, [("retry-after", after)], "injected fault").into_response(),
                None => (status, "injected fault").into_response(),
            }
        }
        None => route(&state, &method, uri.path(), &headers, &body),
    };
    state.log.push(Logged {
        method: method.to_string(),
        path: uri.path().to_string(),
        status: response.status().as_u16(),
    });
    response
}

fn route(state: &State, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["pypi"]) if state.changelog_api => xmlrpc(state, body),
        ("GET", ["pypi", name, "json"]) if state.json_api => {
            conditional(state, headers, name, "json", || {
                json_page(state, &base, name, None)
            })
        }
        ("GET", ["pypi", name, version, "json"]) if state.json_api => {
            json_page(state, &base, name, Some(version))
        }
        ("GET", ["simple", name]) => {
            let accept = headers
                .get("accept")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let as_json =
                state.simple_json && accept.contains("application/vnd.pypi.simple.v1+json");
            let kind = if as_json {
                "simple-json"
            } else {
                "simple-html"
            };
            conditional(state, headers, name, kind, || {
                simple_page(state, name, as_json)
            })
        }
        ("GET", ["packages", filename]) => match filename.strip_suffix(".metadata") {
            Some(dist) => core_metadata(state, dist),
            None => file(state, filename),
        },
        ("GET", ["rss", "updates.xml"]) if state.rss => rss(state, &base, headers),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn normalize(name: &str) -> String {
    ponyswarm::pypi::normalize(name)
}

fn releases_of<'a>(state: &'a State, name: &str) -> Vec<&'a Stored> {
    state
        .releases
        .iter()
        .filter(|s| normalize(&s.release.name) == normalize(name))
        .collect()
}

fn file_entries(base: &str, stored: &Stored) -> Vec<Value> {
    let requires_python = stored
        .release
        .metadata
        .get("requires_python")
        .cloned()
        .unwrap_or(Value::Null);
    stored
        .files
        .iter()
        .map(|f| {
            json!({
                "filename": f.filename,
                "url": format!("{base}/packages/{}", f.filename),
                "digests": {"sha256": f.sha256},
                "packagetype": if f.filename.ends_with(".whl") { "bdist_wheel" } else { "sdist" },
                "size": f.bytes.len(),
                "requires_python": requires_python,
                "yanked": false,
                "upload_time_iso_8601": rfc3339(stored.published),
            })
        })
        .collect()
}

fn json_page(state: &State, base: &str, name: &str, version: Option<&str>) -> Response {
    let all = releases_of(state, name);
    let chosen = match version {
        Some(v) => all.iter().find(|s| s.release.version == v),
        // The last published: the tests publish in version order.
        None => all.last(),
    };
    let Some(stored) = chosen else {
        return (StatusCode::NOT_FOUND, "no such project or version").into_response();
    };
    let mut info = stored.release.metadata.clone();
    if !info.is_object() {
        info = json!({});
    }
    info["name"] = json!(stored.release.name);
    info["version"] = json!(stored.release.version);
    let mut page = json!({"info": info, "urls": file_entries(base, stored), "last_serial": state.changelog.len()});
    if version.is_none() {
        let releases: serde_json::Map<String, Value> = all
            .iter()
            .map(|s| (s.release.version.clone(), json!(file_entries(base, s))))
            .collect();
        page["releases"] = Value::Object(releases);
    }
    axum::Json(page).into_response()
}

/// A project page with its validators, or 304 when the request's match them: the
/// ETag changes with every upload of the project (and with the page's format), the
/// Last-Modified is its newest upload's time. As RFC 9110 says, If-Modified-Since is
/// only looked at without If-None-Match.
fn conditional(
    state: &State,
    headers: &HeaderMap,
    name: &str,
    kind: &str,
    page: impl FnOnce() -> Response,
) -> Response {
    let all = releases_of(state, name);
    let Some(newest) = all.iter().map(|s| s.published).max() else {
        return page();
    };
    let etag = format!("\"{}-{}-{kind}\"", normalize(name), all.len());
    let last_modified = rfc2822(newest);
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok());
    let unchanged = match header("if-none-match") {
        Some(tag) => state.project_etags && tag == etag,
        None => header("if-modified-since") == Some(last_modified.as_str()),
    };
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        page()
    };
    let values = response.headers_mut();
    if state.project_etags {
        values.insert("etag", etag.parse().expect("a header value"));
    }
    values.insert(
        "last-modified",
        last_modified.parse().expect("a header value"),
    );
    response
}

fn simple_page(state: &State, name: &str, as_json: bool) -> Response {
    let all = releases_of(state, name);
    if all.is_empty() {
        return (StatusCode::NOT_FOUND, "no such project").into_response();
    }
    let files: Vec<(&File, Option<&str>, u64)> = all
        .iter()
        .flat_map(|s| {
            let rp = s
                .release
                .metadata
                .get("requires_python")
                .and_then(Value::as_str);
            s.files.iter().map(move |f| (f, rp, s.published))
        })
        .collect();
    if as_json {
        let entries: Vec<Value> = files
            .iter()
            .map(|(f, rp, published)| {
                let mut entry = json!({"filename": f.filename, "url": format!("../../packages/{}", f.filename),
                       "hashes": {"sha256": f.sha256}, "requires-python": rp, "size": f.bytes.len(),
                       "yanked": false, "upload-time": rfc3339(*published)});
                if let Some((_, sha256)) = &f.core_metadata {
                    entry["core-metadata"] = json!({ "sha256": sha256 });
                }
                entry
            })
            .collect();
        let page =
            json!({"meta": {"api-version": "1.1"}, "name": normalize(name), "files": entries});
        return (
            [("content-type", "application/vnd.pypi.simple.v1+json")],
            page.to_string(),
        )
            .into_response();
    }
    let mut html = format!("<!DOCTYPE html>\n<html><head><title>Links for {name}</title></head><body><h1>Links for {name}</h1>\n");
    for (f, rp, _) in files {
        let rp = rp
            .map(|r| {
                format!(
                    " data-requires-python=\"{}\"",
                    r.replace('<', "&lt;").replace('>', "&gt;")
                )
            })
            .unwrap_or_default();
        let core = f
            .core_metadata
            .as_ref()
            .map(|(_, sha256)| format!(" data-core-metadata=\"sha256={sha256}\""))
            .unwrap_or_default();
        html.push_str(&format!(
            "<a href=\"../../packages/{0}#sha256={1}\"{rp}{core}>{0}</a><br/>\n",
            f.filename, f.sha256
        ));
    }
    html.push_str("</body></html>\n");
    ([("content-type", "text/html")], html).into_response()
}

fn core_metadata(state: &State, filename: &str) -> Response {
    let found = state
        .releases
        .iter()
        .flat_map(|s| &s.files)
        .find(|f| f.filename == filename)
        .and_then(|f| f.core_metadata.as_ref());
    match found {
        Some((bytes, _)) => ([("content-type", "text/plain")], bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

fn file(state: &State, filename: &str) -> Response {
    let found = state
        .releases
        .iter()
        .flat_map(|s| &s.files)
        .find(|f| f.filename == filename);
    match found {
        Some(f) => {
            let mut bytes = f.bytes.clone();
            if f.corrupt {
                bytes.extend_from_slice(b"tampered");
            }
            ([("content-type", "application/octet-stream")], bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// The newest 40 uploads, newest first, like PyPI's feed; its ETag is the serial, so
/// a conditional request gets 304 until something is published.
fn rss(state: &State, base: &str, headers: &HeaderMap) -> Response {
    let etag = format!("\"serial-{}\"", state.changelog.len());
    let unchanged = headers
        .get("if-none-match")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|v| v == etag);
    if unchanged {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>PyPI recent updates</title><link>https://pypi.org/</link>\
         <description>Recent updates to the Python Package Index</description>\n",
    );
    for s in state.releases.iter().rev().take(40) {
        let summary = s
            .release
            .metadata
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or("");
        xml.push_str(&format!(
            "<item><title>{} {}</title><link>{base}/project/{}/{}/</link><description>{}</description><pubDate>{}</pubDate></item>\n",
            escape(&s.release.name),
            escape(&s.release.version),
            escape(&normalize(&s.release.name)),
            escape(&s.release.version),
            escape(summary),
            rfc2822(s.published),
        ));
    }
    xml.push_str("</channel></rss>\n");
    ([("content-type", "text/xml"), ("etag", etag.as_str())], xml).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rfc2822(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = ponyswarm::time::civil_from_days(days);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The two XML-RPC methods bandersnatch uses to follow an index.
fn xmlrpc(state: &State, body: &[u8]) -> Response {
    let body = String::from_utf8_lossy(body);
    let method = between(&body, "<methodName>", "</methodName>")
        .unwrap_or("")
        .trim();
    let value = match method {
        "changelog_last_serial" => format!("<int>{}</int>", state.changelog.len()),
        "changelog_since_serial" => {
            let since: u64 = between(&body, "<int>", "</int>")
                .or_else(|| between(&body, "<i4>", "</i4>"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut items = String::new();
            for (name, version, time, action, serial) in &state.changelog {
                if *serial > since {
                    items.push_str(&format!(
                        "<value><array><data><value><string>{}</string></value><value><string>{}</string></value>\
                         <value><int>{time}</int></value><value><string>{}</string></value><value><int>{serial}</int></value></data></array></value>",
                        escape(name),
                        escape(version),
                        escape(action)
                    ));
                }
            }
            format!("<array><data>{items}</data></array>")
        }
        other => {
            let fault = format!(
                "<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32601</int></value></member>\
                 <member><name>faultString</name><value><string>no method {}</string></value></member></struct></value></fault></methodResponse>",
                escape(other)
            );
            return ([("content-type", "text/xml")], fault).into_response();
        }
    };
    let xml = format!(
        "<?xml version='1.0'?>\n<methodResponse><params><param><value>{value}</value></param></params></methodResponse>\n"
    );
    ([("content-type", "text/xml")], xml).into_response()
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// Seconds since 1970 as RFC 3339 UTC, as indexes write upload times.
fn rfc3339(secs: u64) -> String {
    ponyswarm::time::timestamp(UNIX_EPOCH + Duration::from_secs(secs))
}
