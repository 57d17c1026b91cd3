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
        GithubStatuses::new(&self.base, TOKEN.into(), "octo-org", "hello.py", SHA)
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
    passed.tests = Some(ponyswarm::junit::Counts {
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
    let poster = GithubStatuses::new(&base, TOKEN.into(), "octo-org", "hello.py", SHA)
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
