//! A fake GitHub statuses API on loopback for the coordinator's tests: an axum server on
//! a thread of its own that takes `POST /repos/{owner}/{repo}/statuses/{sha}` and
//! records each post as accepted (201) or refused, as its [`Mode`] says; and answers
//! `GET /repos/{owner}/{repo}/collaborators/{user}/permission` with the roles the test
//! set ([`FakeGithub::set_role`]), 404 for other users.

#![allow(dead_code)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the fake answers statuses other than `pending` (`pending` is always taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 201 to everything.
    Accept,
    /// Holds them until [`FakeGithub::release`], then answers 503 (if the client still
    /// listens): GitHub never has them.
    HoldFinals,
    /// 422 at once: a refusal no retry changes.
    RefuseFinals,
}

/// A status post as the fake API received it.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The request's path.
    pub path: String,
    /// Its `Authorization` header.
    pub authorization: String,
    /// Its JSON body.
    pub body: Value,
}

impl Posted {
    /// A string field of the body (`state`, `context`, `target_url`…), or "".
    pub fn field(&self, name: &str) -> &str {
        self.body[name].as_str().unwrap_or("")
    }
}

struct Seen {
    mode: Mutex<Mode>,
    /// Answered 201: GitHub has these.
    accepted: Mutex<Vec<Posted>>,
    /// Not taken (held then refused, or refused at once).
    refused: Mutex<Vec<Posted>>,
    /// Requests being held now.
    held: Mutex<usize>,
    release: tokio::sync::Notify,
    /// Login → role name on every repository.
    roles: Mutex<HashMap<String, String>>,
    /// Answer every permission request with this status instead (a GitHub outage).
    roles_fail: Mutex<Option<u16>>,
    /// Permission requests, in order (body `null`).
    asked: Mutex<Vec<Posted>>,
}

/// The fake API.
pub struct FakeGithub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Seen>,
}

impl FakeGithub {
    /// Starts serving in `mode`.
    pub fn start(mode: Mode) -> FakeGithub {
        let seen = Arc::new(Seen {
            mode: Mutex::new(mode),
            accepted: Mutex::default(),
            refused: Mutex::default(),
            held: Mutex::default(),
            release: tokio::sync::Notify::new(),
            roles: Mutex::default(),
            roles_fail: Mutex::default(),
            asked: Mutex::default(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = seen.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new()
                    .route(
                        "/repos/{owner}/{repo}/collaborators/{user}/permission",
                        axum::routing::get(permission),
                    )
                    .fallback(status)
                    .with_state(state);
                let _ = axum::serve(listener, app).await;
            });
        });
        FakeGithub { url, seen }
    }

    /// What GitHub has, in order.
    pub fn accepted(&self) -> Vec<Posted> {
        self.seen.accepted.lock().expect("lock").clone()
    }

    /// Gives `login` `role` (`admin`, `maintain`, `write`, `triage`, `read`).
    pub fn set_role(&self, login: &str, role: &str) {
        let mut roles = self.seen.roles.lock().expect("lock");
        roles.insert(login.to_string(), role.to_string());
    }

    /// Answers every permission request with `status` from now on.
    pub fn fail_roles(&self, status: u16) {
        *self.seen.roles_fail.lock().expect("lock") = Some(status);
    }

    /// The permission requests received, in order.
    pub fn asked(&self) -> Vec<Posted> {
        self.seen.asked.lock().expect("lock").clone()
    }

    /// What it did not take, in order.
    pub fn refused(&self) -> Vec<Posted> {
        self.seen.refused.lock().expect("lock").clone()
    }

    /// Waits until a request is held (panics after `timeout`).
    pub fn wait_held(&self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while *self.seen.held.lock().expect("lock") == 0 {
            assert!(
                Instant::now() < end,
                "no status was held: {:#?}",
                self.accepted()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Answers the held requests 503 and accepts everything from now on.
    pub fn release(&self) {
        *self.seen.mode.lock().expect("lock") = Mode::Accept;
        self.seen.release.notify_waiters();
        let end = Instant::now() + Duration::from_secs(10);
        while *self.seen.held.lock().expect("lock") > 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` until `finals` statuses other than `pending` were accepted.
    pub fn wait_finals(&self, finals: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let have = self
                .accepted()
                .iter()
                .filter(|p| p.field("state") != "pending")
                .count();
            if have >= finals {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Counts a held request while it lives (the server may drop it when its client dies).
struct Held<'a>(&'a Seen);

impl<'a> Held<'a> {
    fn new(seen: &'a Seen) -> Held<'a> {
        *seen.held.lock().expect("lock") += 1;
        Held(seen)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *self.0.held.lock().expect("lock") -= 1;
    }
}

async fn status(
    State(seen): State<Arc<Seen>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let posted = Posted {
        path: uri.path().to_string(),
        authorization: authorization(&headers),
        body,
    };
    let mode = *seen.mode.lock().expect("lock");
    if posted.field("state") == "pending" || mode == Mode::Accept {
        seen.accepted.lock().expect("lock").push(posted);
        return (
            StatusCode::CREATED,
            Json(json!({"id": 1, "state": "success"})),
        );
    }
    // Recorded now: a held handler may be dropped when its client dies.
    seen.refused.lock().expect("lock").push(posted);
    if mode == Mode::HoldFinals {
        let released = seen.release.notified();
        let _held = Held::new(&seen);
        released.await;
        let error = json!({"message": "held, then refused"});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(error));
    }
    let error = json!({"message": "Validation Failed: no such commit"});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(error))
}

/// `GET /repos/{owner}/{repo}/collaborators/{user}/permission`, as GitHub answers it.
async fn permission(
    State(seen): State<Arc<Seen>>,
    Path((_owner, _repo, user)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    seen.asked.lock().expect("lock").push(Posted {
        path: uri.path().to_string(),
        authorization: authorization(&headers),
        body: Value::Null,
    });
    if let Some(code) = *seen.roles_fail.lock().expect("lock") {
        let code = StatusCode::from_u16(code).expect("a status code");
        return (code, Json(json!({"message": "Server Error"})));
    }
    let role = seen.roles.lock().expect("lock").get(&user).cloned();
    let Some(role) = role else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"})));
    };
    let permission = match role.as_str() {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    };
    let answer = json!({"permission": permission, "role_name": role, "user": {"login": user}});
    (StatusCode::OK, Json(answer))
}

/// The request's `Authorization` header, empty when it has none.
fn authorization(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}
