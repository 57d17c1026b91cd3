//! The coordinator's edges, against the real `ponyswarm serve`: a stranger's body is
//! never read, a caller's only up to the route's cap.

mod swarm_coordinator_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;
use swarm_coordinator_support::{write_config, Agent, Coordinator};

fn start(dir: &Path) -> Coordinator {
    let config = write_config(dir, 60, "[[project]]\nname = \"pony\"\n");
    Coordinator::start(&config, &format!("sqlite://{}/c.db", dir.display()))
}

/// Sends the headers of a POST to `path` announcing a body of `length` bytes, then
/// only `sent` bytes of it, and reads the answer's status line. A server that read the
/// body before answering would wait for the rest, and the read would time out.
fn announce(url: &str, path: &str, token: Option<&str>, length: usize, sent: usize) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("sends the headers");
    // Errors ignored: the server may answer and close while this is still sending.
    let _ = s.write_all(&vec![b' '; sent]);
    let mut answer = [0u8; 512];
    let n = s
        .read(&mut answer)
        .expect("an answer before the body was sent");
    let answer = String::from_utf8_lossy(&answer[..n]);
    answer.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_strangers_body_is_not_read_before_the_401() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path());
    let two_mb = 2_000_000;
    for path in [
        "/api/v1/claims",
        "/api/v1/agents",
        "/api/v1/leases/x/heartbeat",
        "/api/v1/leases/x/result",
        "/api/v1/runs?project=pony",
    ] {
        let url = c.url.clone();
        let status = tokio::task::spawn_blocking(move || announce(&url, path, None, two_mb, 0))
            .await
            .unwrap();
        assert!(status.contains(" 401 "), "{path}: {status}");
    }
}

#[tokio::test]
async fn a_json_call_over_1_mib_gets_413_a_result_may_be_larger() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path());
    let agent = Agent::register(&c.url, "a", &["3.13"], &[]).await;
    let (url, token) = (c.url.clone(), agent.token.clone());
    let status = tokio::task::spawn_blocking(move || {
        let over = (1 << 20) + (256 << 10);
        announce(&url, "/api/v1/claims", Some(&token), over, over)
    })
    .await
    .unwrap();
    assert!(status.contains(" 413 "), "{status}");
    // A small claim still works.
    assert!(agent.claim(0).await.is_none());
    // A result may be larger than a JSON call: read whole (then found not to be JSON).
    let (url, token) = (c.url.clone(), agent.token.clone());
    let status = tokio::task::spawn_blocking(move || {
        let over = (1 << 20) + (256 << 10);
        announce(&url, "/api/v1/leases/x/result", Some(&token), over, over)
    })
    .await
    .unwrap();
    assert!(
        status.contains(" 400 ") || status.contains(" 422 "),
        "{status}"
    );
}

#[test]
fn an_agent_refuses_a_plain_http_coordinator_without_a_pinned_key() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("agent.ini");
    std::fs::write(&ini, "[agent]\ntoken = t\n[offers]\npythons = 3.11\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .args(["agent", "--coordinator", "http://127.0.0.1:9", "--config"])
        .arg(&ini)
        .output()
        .expect("runs ponyswarm agent");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("agent.ini") && err.contains("set [agent] coordinator_key"),
        "{err}"
    );
}
