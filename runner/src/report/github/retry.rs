//! When to try a status post again, and how long to wait first: server errors back off,
//! rate limits wait as long as GitHub says (up to a cap), anything else is final.
//!
//! Pure: a response's status code and headers in, a [`RetryDecision`] out; the clock is handed in.

use std::time::Duration;

/// How hard to try. Defaults: 3 attempts, 1 s then 2 s between server errors, waits for a
/// rate limit of at most 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per status, the first included.
    pub attempts: u32,
    /// The wait after the first server error; doubled after each further one.
    pub backoff: Duration,
    /// The longest wait a rate limit may ask for. Longer, and the post is given up: a run
    /// should not stall for the hour a spent quota can take to reset.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// The rate-limit headers of a response, as text (`None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct RateHeaders<'a> {
    /// `retry-after`: seconds to wait.
    pub retry_after: Option<&'a str>,
    /// `x-ratelimit-remaining`: requests left in the window.
    pub remaining: Option<&'a str>,
    /// `x-ratelimit-reset`: when the window resets, in seconds since 1970.
    pub reset: Option<&'a str>,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// The status was created.
    Done,
    /// Try again after waiting this long.
    RetryAfter(Duration),
    /// Rate limited for longer than the policy waits (or out of attempts while limited).
    RateLimited(Duration),
    /// Final: out of attempts, or an answer retrying will not change.
    GiveUp,
}

impl RetryPolicy {
    /// The verdict on attempt `attempt` (1-based) that got HTTP `status` (`None`: no
    /// response at all, e.g. refused or timed out), at `now` seconds since 1970.
    pub fn decide(
        &self,
        attempt: u32,
        status: Option<u16>,
        rate: RateHeaders<'_>,
        now: u64,
    ) -> RetryDecision {
        let last = attempt >= self.attempts;
        match status {
            Some(200..=299) => RetryDecision::Done,
            Some(403 | 429) => match rate_limit_wait(status, rate, now) {
                Some(wait) if wait > self.max_wait || last => RetryDecision::RateLimited(wait),
                Some(wait) => RetryDecision::RetryAfter(wait),
                // A 403 that is no rate limit is a permission problem: retrying won't help.
                None => RetryDecision::GiveUp,
            },
            Some(500..=599) | None if !last => {
                RetryDecision::RetryAfter(self.backoff_after(attempt))
            }
            _ => RetryDecision::GiveUp,
        }
    }

    /// `backoff`, doubled for each attempt after the first.
    fn backoff_after(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
    }
}

/// How long a rate-limited response asks us to wait; `None` when it is no rate limit.
/// `retry-after` wins; then a spent quota's reset time; a 429 saying neither gets GitHub's
/// advice for secondary limits, a minute.
fn rate_limit_wait(status: Option<u16>, rate: RateHeaders<'_>, now: u64) -> Option<Duration> {
    let number = |text: Option<&str>| text.and_then(|t| t.trim().parse::<u64>().ok());
    if let Some(secs) = number(rate.retry_after) {
        return Some(Duration::from_secs(secs));
    }
    if number(rate.remaining) == Some(0) {
        let secs = number(rate.reset).map_or(60, |reset| reset.saturating_sub(now).max(1));
        return Some(Duration::from_secs(secs));
    }
    (status == Some(429)).then(|| Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let policy = RetryPolicy::default();
        let none = RateHeaders::default();
        let after = |s| RateHeaders {
            retry_after: Some(s),
            ..none
        };
        let spent = |reset| RateHeaders {
            remaining: Some("0"),
            reset,
            ..none
        };
        let secs = Duration::from_secs;
        let cases = [
            (1, Some(201), none, RetryDecision::Done),
            (1, Some(502), none, RetryDecision::RetryAfter(secs(1))),
            (2, Some(500), none, RetryDecision::RetryAfter(secs(2))),
            (3, Some(500), none, RetryDecision::GiveUp),
            (1, None, none, RetryDecision::RetryAfter(secs(1))),
            (3, None, none, RetryDecision::GiveUp),
            (1, Some(422), none, RetryDecision::GiveUp),
            (1, Some(404), after("1"), RetryDecision::GiveUp),
            (1, Some(403), none, RetryDecision::GiveUp),
            (1, Some(403), after("1"), RetryDecision::RetryAfter(secs(1))),
            (
                1,
                Some(429),
                after(" 30 "),
                RetryDecision::RetryAfter(secs(30)),
            ),
            (
                1,
                Some(429),
                after("61"),
                RetryDecision::RateLimited(secs(61)),
            ),
            (
                3,
                Some(429),
                after("1"),
                RetryDecision::RateLimited(secs(1)),
            ),
            (1, Some(429), none, RetryDecision::RetryAfter(secs(60))),
            (
                1,
                Some(403),
                spent(Some("1010")),
                RetryDecision::RetryAfter(secs(10)),
            ),
            (
                1,
                Some(403),
                spent(Some("999")),
                RetryDecision::RetryAfter(secs(1)),
            ),
            (
                1,
                Some(403),
                spent(Some("5000")),
                RetryDecision::RateLimited(secs(4000)),
            ),
            (
                1,
                Some(403),
                spent(None),
                RetryDecision::RetryAfter(secs(60)),
            ),
            (
                1,
                Some(403),
                spent(Some("soon")),
                RetryDecision::RetryAfter(secs(60)),
            ),
        ];
        for (attempt, status, rate, want) in cases {
            assert_eq!(
                policy.decide(attempt, status, rate, 1000),
                want,
                "attempt {attempt}, {status:?}, {rate:?}"
            );
        }
    }
}
