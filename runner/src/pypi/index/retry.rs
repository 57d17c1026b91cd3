//! Polite retries against an index: on 429 and 5xx answers and on network errors, wait
//! (what `Retry-After` asks, else an exponential backoff) and try again, a bounded
//! number of times.

use reqwest::{RequestBuilder, Response, StatusCode};
use std::time::{Duration, SystemTime};

/// How often and how long to retry. The default suits a public index: 4 retries,
/// 1 s doubling to at most 60 s, and a `Retry-After` honoured up to 10 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Retries after the first try.
    pub retries: u32,
    /// The first wait.
    pub base: Duration,
    /// The longest wait, `Retry-After` included.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            retries: 4,
            base: Duration::from_secs(1),
            max: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0-based) when the server named none.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.base
            .saturating_mul(factor)
            .min(self.max)
            .min(Duration::from_secs(60).max(self.base))
    }
}

/// An answer worth retrying: too many requests, or the server's fault.
pub fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The wait a `Retry-After` value asks for: seconds, or an HTTP date (then relative to
/// `now`; a date in the past means no wait).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = http_date(value)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP requires
/// and RSS feeds use.
pub fn http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = crate::time::days_from_civil(year, month, day as i64);
    let secs = days.checked_mul(86_400)? + (h * 3600 + m * 60 + s) as i64;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Sends the request `make` builds, retrying as `policy` says. Returns the last answer
/// (a 429 or 5xx too, once retries run out: the caller words the error), or the last
/// network error.
pub async fn send(
    make: impl Fn() -> RequestBuilder,
    policy: &Backoff,
) -> Result<Response, reqwest::Error> {
    let mut attempt = 0;
    loop {
        let result = make().send().await;
        let wait = match &result {
            Ok(response) if is_retryable(response.status()) => response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, SystemTime::now()))
                .unwrap_or_else(|| policy.delay(attempt)),
            Ok(_) => return result,
            // A request that cannot be built will not get better.
            Err(e) if e.is_builder() => return result,
            Err(_) => policy.delay(attempt),
        };
        if attempt >= policy.retries {
            return result;
        }
        tracing::info!("retrying in {wait:?} ({})", describe(&result));
        tokio::time::sleep(wait.min(policy.max)).await;
        attempt += 1;
    }
}

fn describe(result: &Result<Response, reqwest::Error>) -> String {
    match result {
        Ok(r) => format!("{} answered {}", r.url(), r.status()),
        Err(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 06 Nov 1994 08:49:37
        let cases = [
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("Sun, 06 Nov 1994 08:49:47 GMT", Some(10)),
            ("Sun, 06 Nov 1994 08:49:00 GMT", Some(0)),
            ("Mon, 07 Nov 1994 08:49:37 GMT", Some(86_400)),
            ("Sun, 06 Nov 1994 08:49:47 PST", None),
            ("soon", None),
            ("-5", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                retry_after(value, now),
                want.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let policy = Backoff {
            retries: 10,
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let waits: Vec<u128> = (0..5).map(|a| policy.delay(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
        assert_eq!(Backoff::default().delay(30), Duration::from_secs(60));
    }

    #[test]
    fn only_throttling_and_server_errors_are_retried() {
        for (code, want) in [
            (429, true),
            (500, true),
            (503, true),
            (404, false),
            (200, false),
            (304, false),
        ] {
            let status = StatusCode::from_u16(code).expect("a valid status");
            assert_eq!(is_retryable(status), want, "{code}");
        }
    }
}
