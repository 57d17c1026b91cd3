//! Commit statuses posted to a fake GitHub API: a small HTTP/1.1 server on 127.0.0.1
//! that answers from a script and records every request, so each test can assert the
//! method, path, auth header and JSON body GitHub would have received.

use ponyswarm::outcome::{JobOutcome, RunResult, Status};
use ponyswarm::report::github::{GithubStatuses, Reason, RetryPolicy, State};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const TOKEN: &str = "ghp_fake_s3cret";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const PATH: &str = "/repos/octo-org/hello.py/statuses/0123456789abcdef0123456789abcdef01234567";

/// A request as the fake server read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    /// Header names lower-cased.
    headers: HashMap<String, String>,
    body: Value,
    at: Instant,
}

/// An answer the fake server gives.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static str,
}

fn reply(status: u16, headers: &[(&'static str, &'static str)], body: &'static str) -> Reply {
    Reply {
        status,
        headers: headers.to_vec(),
        body,
    }
}

fn created() -> Reply {
    reply(201, &[], r#"{"id": 1, "state": "success"}"#)
}

/// The fake API: answers from `script` in order, then with `fallback`.
struct Fake {
    base: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    async fn start(script: Vec<Reply>, fallback: Reply) -> Fake {
        Fake::start_at("", script, fallback).await
    }

    /// Serves under `prefix` (as GitHub Enterprise does under `/api/v3`).
    async fn start_at(prefix: &str, script: Vec<Reply>, fallback: Reply) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (seen2, fallback) = (seen.clone(), fallback);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, script, fallback) = (seen2.clone(), script.clone(), fallback.clone());
                tokio::spawn(serve(stream, seen, script, fallback));
            }
        });
        let base = Url::parse(&format!("http://{addr}{prefix}")).expect("url");
        Fake { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn poster(&self) -> GithubStatuses {
        GithubStatuses::new(&self.base, TOKEN.to_string(), "octo-org", "hello.py", SHA)
            .expect("poster")
            .retry_policy(RetryPolicy {
                attempts: 3,
                backoff: Duration::from_millis(20),
                max_wait: Duration::from_secs(5),
            })
    }
}

/// Answers requests on one connection until the client closes it.
async fn serve(
    mut stream: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    fallback: Reply,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        seen.lock().expect("lock").push(request);
        let r = script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(fallback.clone());
        let mut out = format!(
            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            r.status,
            r.body.len()
        );
        for (name, value) in &r.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(r.body);
        if stream.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request (headers, then a `content-length` body); `None` at end of stream.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("utf-8 head");
    let mut lines = head.split("\r\n");
    let mut first = lines.next().expect("request line").split(' ');
    let (method, path) = (first.next().expect("method"), first.next().expect("path"));
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().expect("content-length"));
    while buf.len() < head_end + 4 + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end + 4..head_end + 4 + length];
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).expect("JSON body")
    };
    let seen = Seen {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body,
        at: Instant::now(),
    };
    buf.drain(..head_end + 4 + length);
    Some(seen)
}

/// Asserts a request is a status post for our commit with our token, and returns its body.
fn status_post<'a>(seen: &'a Seen, path: &str) -> &'a Value {
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, path);
    assert_eq!(
        seen.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        seen.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    &seen.body
}

fn finished_run() -> RunResult {
    let mut run = RunResult::new("r42".into(), "demo".into(), "m.yaml".into(), UNIX_EPOCH);
    let mut passed = JobOutcome::new("demo (3.12)", Default::default(), Status::Passed);
    passed.tests = Some(ponyswarm::testresults::Counts {
        passed: 12,
        failed: 0,
        skipped: 2,
        errors: 0,
    });
    let mut failed = JobOutcome::new("demo (3.13)", Default::default(), Status::Timeout);
    failed.detail = Some("no output for 10m".into());
    run.jobs = vec![passed, failed];
    run.finish(UNIX_EPOCH);
    run
}

#[tokio::test]
async fn statuses_are_posted_with_path_body_and_token() {
    let fake = Fake::start(vec![], created()).await;
    let poster = fake.poster();
    let reports = Url::parse("https://ci.example.org/reports").expect("url");
    let mut failures = poster.post_run_started("demo", 2).await;
    failures.extend(poster.post_job_started("demo (3.12)").await);
    failures.extend(poster.post_finished(&finished_run(), Some(&reports)).await);
    assert_eq!(failures, []);

    let bodies: Vec<Value> = fake
        .seen()
        .iter()
        .map(|s| status_post(s, PATH).clone())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"state": "pending", "context": "ponyswarm/demo", "description": "running 2 jobs"}),
            json!({"state": "pending", "context": "ponyswarm/demo (3.12)", "description": "running"}),
            json!({
                "state": "success",
                "context": "ponyswarm/demo (3.12)",
                "description": "12 passed, 2 skipped",
                "target_url": "https://ci.example.org/reports/r42/jobs/001-demo-3.12.html",
            }),
            json!({
                "state": "failure",
                "context": "ponyswarm/demo (3.13)",
                "description": "timed out: no output for 10m",
                "target_url": "https://ci.example.org/reports/r42/jobs/002-demo-3.13.html",
            }),
            json!({
                "state": "failure",
                "context": "ponyswarm/demo",
                "description": "2 jobs: 1 passed, 1 timed out",
                "target_url": "https://ci.example.org/reports/r42/index.html",
            }),
        ]
    );
}

#[tokio::test]
async fn enterprise_base_path_is_kept() {
    let fake = Fake::start_at("/api/v3", vec![], created()).await;
    let failures = fake.poster().post_job_started("demo (3.12)").await;
    assert_eq!(failures, []);
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    status_post(&seen[0], &format!("/api/v3{PATH}"));
}

#[tokio::test]
async fn a_502_is_retried_and_one_status_lands() {
    let bad_gateway = reply(502, &[], "<html>Bad Gateway</html>");
    let fake = Fake::start(vec![bad_gateway], created()).await;
    let failures = fake.poster().post_job_started("demo (3.12)").await;
    assert_eq!(failures, []);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one 502, one retry");
    let want =
        json!({"state": "pending", "context": "ponyswarm/demo (3.12)", "description": "running"});
    for s in &seen {
        assert_eq!(status_post(s, PATH), &want);
    }
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_then_retried() {
    let limited = reply(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-limit", "5000"),
            ("retry-after", "1"),
        ],
        r#"{"message": "API rate limit exceeded"}"#,
    );
    let fake = Fake::start(vec![limited], created()).await;
    let failures = fake.poster().post_job_started("demo (3.12)").await;
    assert_eq!(failures, []);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one rate-limited, one retry");
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert!(waited < Duration::from_secs(10), "retried after {waited:?}");
    assert_eq!(status_post(&seen[0], PATH), status_post(&seen[1], PATH));
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_cap_is_reported_without_waiting() {
    let limited = reply(
        429,
        &[("retry-after", "3600")],
        r#"{"message": "slow down"}"#,
    );
    let fake = Fake::start(vec![], limited).await;
    let started = Instant::now();
    let failures = fake.poster().post_job_started("demo (3.12)").await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].reason,
        Reason::RateLimited {
            wait: Duration::from_secs(3600)
        }
    );
}

#[tokio::test]
async fn a_persistent_500_is_reported_not_panicked() {
    let broken = reply(500, &[], r#"{"message": "Server Error"}"#);
    let fake = Fake::start(vec![], broken).await;
    let failures = fake.poster().post_job_started("demo (3.12)").await;
    assert_eq!(fake.seen().len(), 3, "three attempts");
    assert_eq!(failures.len(), 1);
    let failure = &failures[0];
    assert_eq!(failure.context, "ponyswarm/demo (3.12)");
    assert_eq!(failure.state, State::Pending);
    assert_eq!(failure.attempts, 3);
    assert_eq!(
        failure.reason,
        Reason::Http {
            status: 500,
            message: "Server Error".into()
        }
    );
}

#[tokio::test]
async fn a_refused_token_is_not_retried() {
    let refused = reply(401, &[], r#"{"message": "Bad credentials"}"#);
    let fake = Fake::start(vec![], refused).await;
    let failures = fake.poster().post_job_started("demo (3.12)").await;
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(
        failures[0].reason,
        Reason::Http {
            status: 401,
            message: "Bad credentials".into()
        }
    );
}

#[tokio::test]
async fn posting_stops_at_the_per_context_limit() {
    let fake = Fake::start(vec![], created()).await;
    let poster = fake.poster().max_per_context(2);
    let mut failures = Vec::new();
    for _ in 0..3 {
        failures.extend(poster.post_job_started("demo (3.12)").await);
    }
    failures.extend(poster.post_job_started("demo (3.13)").await);
    assert_eq!(fake.seen().len(), 3, "two for 3.12, one for 3.13");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].context, "ponyswarm/demo (3.12)");
    assert_eq!(failures[0].attempts, 0);
    assert_eq!(failures[0].reason, Reason::LimitReached);
}

#[tokio::test]
async fn an_unreachable_api_is_reported_not_panicked() {
    // A port that was just free: nothing listens on it.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let base = Url::parse(&format!("http://{addr}")).expect("url");
    let poster = GithubStatuses::new(&base, TOKEN.to_string(), "octo-org", "hello.py", SHA)
        .expect("poster")
        .retry_policy(RetryPolicy {
            attempts: 2,
            backoff: Duration::from_millis(10),
            max_wait: Duration::from_secs(1),
        });
    let failures = poster.post_job_started("demo (3.12)").await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].attempts, 2);
    assert!(matches!(failures[0].reason, Reason::Transport(_)));
}

/// `ponyswarm run --github …` on a real two-job run: the run's `pending` first, each
/// job's `pending` before its end, its end again with a link once the report is
/// written, and the run's summary last.
#[tokio::test]
async fn a_run_with_github_posts_pending_then_results_then_summary() {
    let fake = Fake::start(vec![], created()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/projects/planted/ponyswarm.yaml"
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .args(["run", fixture, "-q", "--filter", "size=1"])
        .args(["--filter", "flavor=good", "--filter", "flavor=bad"])
        .args(["--github", &format!("octo-org/hello.py@{SHA}")])
        .args(["--github-api", fake.base.as_str()])
        .args(["--reports-url", "https://ci.example.org/reports"])
        .arg("--report-dir")
        .arg(dir.path().join("report"))
        .arg("--database")
        .arg(format!(
            "sqlite://{}",
            dir.path().join("db.sqlite").display()
        ))
        .env("GITHUB_TOKEN", TOKEN)
        .output()
        .await
        .expect("run ponyswarm");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("github: commit statuses posted"),
        "{stdout}\n{stderr}"
    );
    let results: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("report/results.json")).expect("results.json"),
    )
    .expect("json");
    let run_id = results["run"]["id"].as_str().expect("run id").to_string();

    let bodies: Vec<Value> = fake
        .seen()
        .iter()
        .map(|s| status_post(s, PATH).clone())
        .collect();
    let of = |context: &str| -> Vec<&Value> {
        bodies.iter().filter(|b| b["context"] == context).collect()
    };
    assert_eq!(bodies.len(), 2 + 2 * 3, "{bodies:#?}");
    assert_eq!(
        bodies.first(),
        Some(
            &json!({"state": "pending", "context": "ponyswarm/planted", "description": "running 2 jobs"})
        )
    );
    let base = format!("https://ci.example.org/reports/{run_id}");
    for (n, flavor, state) in [(1, "good", "success"), (2, "bad", "failure")] {
        let context = format!("ponyswarm/planted ({flavor}, 1)");
        let seen = of(&context);
        assert_eq!(seen.len(), 3, "{context}: {bodies:#?}");
        assert_eq!(seen[0]["state"], "pending");
        assert_eq!(seen[0]["description"], "running");
        assert_eq!(seen[1]["state"], state);
        assert!(seen[1].get("target_url").is_none(), "{:?}", seen[1]);
        assert_eq!(seen[2]["state"], state);
        let slug = format!("planted-{flavor}-1");
        assert_eq!(
            seen[2]["target_url"],
            format!("{base}/jobs/00{n}-{slug}.html")
        );
        let page = dir.path().join(format!("report/jobs/00{n}-{slug}.html"));
        assert!(page.is_file(), "the linked page {} exists", page.display());
    }
    assert_eq!(
        bodies.last(),
        Some(&json!({
            "state": "failure",
            "context": "ponyswarm/planted",
            "description": "2 jobs: 1 passed, 1 failed",
            "target_url": format!("{base}/index.html"),
        }))
    );
}

/// base64url without padding, as JWTs use it.
fn base64url(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not base64url: {c}"),
    };
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes() {
        acc = (acc << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// With a GitHub App: a JWT signed with the App's key buys an installation token, and
/// statuses go out with that token.
#[tokio::test]
async fn a_github_app_trades_a_signed_jwt_for_an_installation_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("app.pem");
    let public = dir.path().join("app.pub");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&["genrsa", "-traditional", "-out", path(&key), "2048"]);
    openssl(&["rsa", "-in", path(&key), "-pubout", "-out", path(&public)]);

    let token = r#"{"token": "ghs_installation_token", "expires_at": "2099-01-01T00:00:00Z",
        "permissions": {"statuses": "write"}}"#;
    let fake = Fake::start(vec![reply(201, &[], token)], created()).await;
    let credentials = ponyswarm::report::github::Credentials::App {
        app_id: 123,
        key_pem: std::fs::read(&key).expect("key"),
        installation_id: 42,
    };
    let poster =
        GithubStatuses::new(&fake.base, credentials, "octo-org", "hello.py", SHA).expect("poster");
    let failures = poster.post_job_started("demo (3.12)").await;
    let seen = fake.seen();
    let paths: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(failures, [], "{paths:?}");

    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/app/installations/42/access_tokens");
    let jwt = seen[0].headers["authorization"]
        .strip_prefix("Bearer ")
        .expect("a bearer JWT");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let header: Value = serde_json::from_slice(&base64url(parts[0])).expect("JWT header");
    let claims: Value = serde_json::from_slice(&base64url(parts[1])).expect("JWT claims");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], 123);
    // The signature verifies with the App's public key.
    let signed = dir.path().join("signed");
    let signature = dir.path().join("signature");
    std::fs::write(&signed, format!("{}.{}", parts[0], parts[1])).expect("write");
    std::fs::write(&signature, base64url(parts[2])).expect("write");
    openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        path(&public),
        "-signature",
        path(&signature),
        path(&signed),
    ]);

    assert_eq!(seen[1].path, PATH);
    assert_eq!(
        seen[1].headers.get("authorization").map(String::as_str),
        Some("Bearer ghs_installation_token")
    );
    assert_eq!(
        seen[1].body,
        json!({"state": "pending", "context": "ponyswarm/demo (3.12)", "description": "running"})
    );
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
