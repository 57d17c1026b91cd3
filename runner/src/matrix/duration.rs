//! Durations as written in matrix files: `90s`, `15m`, `1h30m`, `2h`, `1d`, or a bare
//! number of seconds.
//!
//! Units run from largest to smallest, each at most once (`1h30m`, not `30m1h` or
//! `1h1h`), so a typo can't silently add up to something unintended. Zero parses; the
//! caller decides whether a zero limit makes sense.

use std::time::Duration;

/// Units in the order they must appear, with their length in seconds.
const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parses `15m`, `1h30m`, `90s`, `2h`, `1d`, `90` (seconds); `None` when it doesn't
/// parse or overflows.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().map(Duration::from_secs);
    }
    let mut rest = s;
    let mut total: u64 = 0;
    // Index into UNITS of the next unit allowed: each unit smaller than the last.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let offset = UNITS[next_unit..].iter().position(|&(u, _)| u == unit)?;
        let seconds = UNITS[next_unit + offset].1;
        total = total.checked_add(number.checked_mul(seconds)?)?;
        next_unit += offset + 1;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Some(Duration::from_secs(total))
}

/// Writes `d` the way it is read: `1h30m`, `90s` → `1m30s`, zero → `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut left = d.as_secs();
    if left == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, seconds) in UNITS {
        if left >= seconds {
            out += &format!("{}{unit}", left / seconds);
            left %= seconds;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let cases = [
            ("90s", 90),
            ("15m", 900),
            ("1h30m", 5_400),
            ("2h", 7_200),
            ("1d", 86_400),
            ("1d2h3m4s", 93_784),
            ("1h5s", 3_605),
            ("90", 90),
            (" 15m ", 900),
            ("0s", 0),
            ("0", 0),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_secs(seconds)),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        let cases = [
            "",
            " ",
            "m",
            "15 m",
            "15min",
            "1.5h",
            "-5m",
            "30m1h",
            "1h1h",
            "1h 30m",
            "h1",
            "15M",
            "1w",
            "5m!",
            "99999999999999999999s",
            "9999999999999999d",
            "1µ",
        ];
        for text in cases {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }

    #[test]
    fn formats_back() {
        let cases = [(0, "0s"), (90, "1m30s"), (5_400, "1h30m"), (86_400, "1d")];
        for (seconds, text) in cases {
            assert_eq!(format_duration(Duration::from_secs(seconds)), text);
            assert_eq!(parse_duration(text), Some(Duration::from_secs(seconds)));
        }
    }
}
