//! What one request may cost the coordinator: how large a body it may send, how many
//! requests are handled at once, and how long one may take.
//!
//! Bodies are read only after the caller was authenticated from its headers (the
//! routes' extractors, see [`super::routes`]), and only up to the route's cap: a JSON
//! call gets [`API_BODY`], a result [`RESULT_BODY`], a source upload
//! [`super::tarball::MAX_BYTES`] plus slack, GitHub's webhook [`WEBHOOK_BODY`].
//! A body over its cap is answered 413 without being kept.
//!
//! ## Security
//! A stranger can still open connections and send headers; what it costs is bounded by
//! [`MAX_IN_FLIGHT`] (more wait their turn) and [`REQUEST_TIMEOUT`] (a slow sender is
//! answered 408 and dropped).

use super::queue::MAX_WAIT;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

/// The body of a JSON API call (registration, claim, heartbeat, cancel): far more than
/// any of them needs.
pub const API_BODY: usize = 1 << 20;

/// A signed result: a job's outcome with its log excerpt, failures and install changes.
pub const RESULT_BODY: usize = 32 << 20;

/// A source upload (`ponyswarm submit`): the tarball's own cap, plus room for gzip's
/// worst case on incompressible data.
pub const SOURCE_BODY: usize = super::tarball::MAX_BYTES as usize + (1 << 20);

/// A GitHub webhook delivery: GitHub caps payloads at 25 MB.
pub const WEBHOOK_BODY: usize = 25 << 20;

/// Requests handled at once, all routes together; more wait for a turn (within
/// [`REQUEST_TIMEOUT`]). Large, because every waiting long-poll claim holds one.
pub const MAX_IN_FLIGHT: usize = 1024;

/// The longest a request may take, from its headers to its answer: a long-poll claim
/// waits up to [`MAX_WAIT`], and this must leave it time to answer; a source upload
/// must arrive at about 1 MB/s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(MAX_WAIT.as_secs() + 30);

/// The body cap of `bytes`, for a route's `.layer(...)`.
pub fn body_limit(bytes: usize) -> DefaultBodyLimit {
    DefaultBodyLimit::max(bytes)
}

/// The layer answering 408 to a request still unanswered after [`REQUEST_TIMEOUT`].
pub fn timeout() -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT)
}

/// The layer letting at most [`MAX_IN_FLIGHT`] requests in at once.
pub fn in_flight() -> tower::limit::GlobalConcurrencyLimitLayer {
    tower::limit::GlobalConcurrencyLimitLayer::new(MAX_IN_FLIGHT)
}

// Checked when compiling: a long poll answers before the timeout, and a JSON call
// gets the smallest cap.
const _: () = assert!(REQUEST_TIMEOUT.as_secs() >= MAX_WAIT.as_secs() + 10);
const _: () = assert!(API_BODY < RESULT_BODY && RESULT_BODY < SOURCE_BODY);
const _: () = assert!(SOURCE_BODY as u64 > super::tarball::MAX_BYTES);
