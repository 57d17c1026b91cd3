//! Mail reports sent through a real SMTP server: aiosmtpd (Debian's python3-aiosmtpd),
//! started per test by `tests/fixtures/smtp/server.py`, which writes every message it
//! receives as JSON (envelope, headers, decoded parts) for the test to read back.

use ponyswarm::matrix::Value;
use ponyswarm::outcome::{JobOutcome, RunResult, Status};
use ponyswarm::report::mail::{notify, Addresses, MailConfig, MailWhen, Note, SmtpServer};
use ponyswarm::testresults::Failure;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};
use tempfile::TempDir;

/// The Python that has aiosmtpd: Debian's, whatever else is first on the PATH.
const PYTHON: &str = "/usr/bin/python3";

/// An aiosmtpd server on 127.0.0.1, killed when dropped.
struct SmtpTestServer {
    child: Child,
    inbox: TempDir,
    port: u16,
}

impl SmtpTestServer {
    /// Starts `server.py` with `args` and waits for it to print its port.
    fn start(args: &[&str]) -> SmtpTestServer {
        let inbox = tempfile::tempdir().expect("a temp dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp/server.py");
        let mut child = Command::new(PYTHON)
            .arg(&script)
            .arg(inbox.path())
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server's stdout is readable");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the SMTP server did not start (is python3-aiosmtpd installed?): {line:?}")
        });
        SmtpTestServer { child, inbox, port }
    }

    /// Every message received so far, in order.
    fn messages(&self) -> Vec<Json> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.inbox.path())
            .expect("the inbox is readable")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok())
        });
        files
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("a message file");
                serde_json::from_str(&text).expect("JSON from server.py")
            })
            .collect()
    }

    /// `smtp://127.0.0.1:PORT` plus `rest` (`?tls=required`).
    fn url(&self, credentials: &str, rest: &str) -> String {
        format!("smtp://{credentials}127.0.0.1:{}{rest}", self.port)
    }
}

impl Drop for SmtpTestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished run of `demo` with jobs `(python, status, failing tests)`.
fn run(id: &str, jobs: &[(&str, Status, &[&str])]) -> RunResult {
    let mut run = RunResult::new(
        id.into(),
        "demo".into(),
        "ponyswarm.yaml".into(),
        UNIX_EPOCH,
    );
    for (python, status, failing) in jobs {
        let matrix = [("python".to_string(), Value::Str(python.to_string()))]
            .into_iter()
            .collect();
        let mut job = JobOutcome::new(format!("demo ({python})"), matrix, *status);
        job.failures = failing
            .iter()
            .map(|t| Failure {
                test: t.to_string(),
                message: format!("AssertionError: {t} < expected"),
            })
            .collect();
        run.jobs.push(job);
    }
    run.finish(UNIX_EPOCH);
    run
}

fn config(url: &str, when: MailWhen) -> MailConfig {
    let to = [
        "ada@example.org".to_string(),
        "Bo <bo@example.org>".to_string(),
    ];
    MailConfig {
        server: SmtpServer::parse(url, None, None).expect("a valid SMTP URL"),
        addresses: Addresses::parse("Ponyswarm CI <ci@example.org>", &to).expect("valid addresses"),
        when,
    }
}

fn passing() -> RunResult {
    run(
        "r1",
        &[("3.12", Status::Passed, &[]), ("3.13", Status::Passed, &[])],
    )
}

fn failing(id: &str) -> RunResult {
    run(
        id,
        &[
            ("3.12", Status::Passed, &[]),
            ("3.13", Status::Failed, &["tests/test_x.py::test_y"]),
        ],
    )
}

/// `part`'s decoded text, the part found by content type.
fn part<'a>(message: &'a Json, content_type: &str) -> &'a str {
    message["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .find(|p| p["content_type"] == content_type)
        .and_then(|p| p["text"].as_str())
        .unwrap_or_else(|| panic!("no {content_type} part in {message}"))
}

#[tokio::test]
async fn a_new_failure_is_mailed_as_text_and_html_to_every_recipient() {
    let server = SmtpTestServer::start(&[]);
    let config = config(&server.url("", ""), MailWhen::Changed);
    let reports = url::Url::parse("https://ci.example.org/reports/").expect("a valid URL");
    let note = notify(&config, &failing("r2"), Some(&passing()), Some(&reports)).await;
    assert!(matches!(note, Note::Sent { recipients: 2, .. }), "{note}");
    assert_eq!(
        note.to_string(),
        format!(
            "mail: sent to 2 recipients through smtp://127.0.0.1:{} (the run failed (run r1 passed))",
            server.port
        )
    );

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["mail_from"], "ci@example.org");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["ada@example.org", "bo@example.org"])
    );
    assert_eq!(m["from"], "Ponyswarm CI <ci@example.org>");
    assert_eq!(m["to"], "ada@example.org, Bo <bo@example.org>");
    assert_eq!(
        m["subject"],
        "[ponyswarm] demo: failed — 1 of 2 jobs did not pass"
    );
    assert_eq!(m["content_type"], "multipart/alternative");
    assert_eq!(m["tls"], false);

    let text = part(m, "text/plain");
    for want in [
        "demo: failed",
        "- demo (3.13): failed",
        "first failure: tests/test_x.py::test_y",
        "AssertionError: tests/test_x.py::test_y < expected",
        "Report: https://ci.example.org/reports/r2/index.html",
        "Since run r1",
        "demo (3.13): passed → failed",
    ] {
        assert!(text.contains(want), "text part lacks {want:?}:\n{text}");
    }
    let html = part(m, "text/html");
    for want in [
        "<a href=\"https://ci.example.org/reports/r2/index.html\">",
        "<a href=\"https://ci.example.org/reports/r2/jobs/002-demo-3.13.html\">demo (3.13)</a>",
        "AssertionError: tests/test_x.py::test_y &lt; expected",
    ] {
        assert!(html.contains(want), "HTML part lacks {want:?}:\n{html}");
    }
}

#[tokio::test]
async fn the_same_failure_again_is_not_mailed_under_changed_but_is_under_failed() {
    let server = SmtpTestServer::start(&[]);
    let url = server.url("", "");
    let note = notify(
        &config(&url, MailWhen::Changed),
        &failing("r3"),
        Some(&failing("r2")),
        None,
    )
    .await;
    assert_eq!(
        note.to_string(),
        "mail: not sent: the result is the same as run r2's (failed)"
    );
    assert_eq!(server.messages().len(), 0);

    let note = notify(
        &config(&url, MailWhen::Failed),
        &failing("r3"),
        Some(&failing("r2")),
        None,
    )
    .await;
    assert!(matches!(note, Note::Sent { .. }), "{note}");
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    // Compared with r2: still failing, nothing new.
    let text = part(&messages[0], "text/plain");
    assert!(
        text.contains("Since run r2") && text.contains("Still failing: 1"),
        "{text}"
    );
}

#[tokio::test]
async fn starttls_required_from_a_server_without_it_is_an_error_naming_the_server() {
    let server = SmtpTestServer::start(&[]);
    let url = server.url("", "?tls=required");
    let note = notify(&config(&url, MailWhen::Always), &passing(), None, None).await;
    let Note::Failed(error) = &note else {
        panic!("sent without TLS: {note}")
    };
    assert_eq!(
        error.to_string(),
        format!(
            "cannot send mail through smtp://127.0.0.1:{}?tls=required: the server does not offer STARTTLS, which tls=required asks for",
            server.port
        )
    );
    assert_eq!(server.messages().len(), 0, "the mail went out in the clear");
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_naming_it() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("smtp://127.0.0.1:{port}");
    let note = notify(&config(&url, MailWhen::Always), &passing(), None, None).await;
    let text = note.to_string();
    assert!(matches!(note, Note::Failed(_)), "{text}");
    assert!(
        text.starts_with(&format!(
            "mail: failed: cannot send mail through smtp://127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(text.contains("refused"), "{text}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and says nothing, as a firewall that swallows packets would
    // look after the handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut config = config(&format!("smtp://127.0.0.1:{port}"), MailWhen::Always);
    config.server = config.server.timeout(Duration::from_secs(1));
    let note = notify(&config, &passing(), None, None).await;
    hold.abort();
    assert_eq!(
        note.to_string(),
        format!(
            "mail: failed: cannot send mail through smtp://127.0.0.1:{port}: no answer within 1s"
        )
    );
}

/// A CA and a certificate it signed for 127.0.0.1: `(ca.pem, cert.pem, key.pem)`.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=ponyswarm test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("writable");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

#[tokio::test]
async fn starttls_with_a_trusted_certificate_logs_in_and_delivers() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (ca, cert, key) = certificates(dir.path());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let server = SmtpTestServer::start(&["--starttls", &cert, &key, "--auth", "me:s3cr%t"]);
    let ca = std::fs::read(&ca).expect("the CA file");

    let mut good = config(
        &server.url("me:s3cr%25t@", "?tls=required"),
        MailWhen::Always,
    );
    good.server = good.server.trust_pem(ca.clone());
    let note = notify(&good, &passing(), None, None).await;
    assert!(matches!(note, Note::Sent { .. }), "{note}");
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["tls"], true);
    assert_eq!(messages[0]["authenticated_as"], "me");
    assert_eq!(messages[0]["subject"], "[ponyswarm] demo: passed — 2 jobs");

    let mut bad = config(&server.url("me:wrong@", "?tls=required"), MailWhen::Always);
    bad.server = bad.server.trust_pem(ca);
    let text = notify(&bad, &passing(), None, None).await.to_string();
    assert!(
        text.starts_with("mail: failed: cannot send mail through smtp://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "?tls=required: the server refused (535): 5.7.8 Authentication credentials invalid"
        ),
        "{text}"
    );
    assert!(!text.contains("wrong"), "the password leaked: {text}");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_certificate_the_client_does_not_trust_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (_ca, cert, key) = certificates(dir.path());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let server = SmtpTestServer::start(&["--starttls", &cert, &key]);
    let note = notify(
        &config(&server.url("", "?tls=required"), MailWhen::Always),
        &passing(),
        None,
        None,
    )
    .await;
    let text = note.to_string();
    assert!(matches!(note, Note::Failed(_)), "{text}");
    assert!(text.contains("certificate"), "{text}");
    assert_eq!(server.messages().len(), 0);
}
