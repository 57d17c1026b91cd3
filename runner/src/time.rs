//! Time as ponyswarm writes and reads it: durations (`90s`, `1h30m`, in matrix files and
//! on the command line; `1h 5m` in a detail a user reads) and instants (RFC 3339 UTC to
//! the second, `2026-11-23T06:06:31Z`, in results.json, the store and the API).
//!
//! Duration units run from largest to smallest, each at most once (`1h30m`, not `30m1h`
//! or `1h1h`), so a typo can't silently add up to something unintended. Zero parses; the
//! caller decides whether a zero limit makes sense.
//!
//! Pure: nothing here reads the clock; instants are handed in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Units in the order they must appear, with their length in milliseconds.
const UNITS: [(&str, u128); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses `15m`, `1h30m`, `90s`, `2h`, `1d`, `100ms`, `90` (seconds); `None` when it
/// doesn't parse or overflows.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().map(Duration::from_secs);
    }
    let mut rest = s;
    let mut total: u128 = 0;
    // Index into UNITS of the next unit allowed: each unit smaller than the last.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        let after = &rest[digits..];
        // `ms` before `m`: `5ms` is five milliseconds, never five minutes and a stray `s`.
        let unit = if after.starts_with("ms") {
            "ms"
        } else {
            after.get(..after.chars().next()?.len_utf8())?
        };
        let offset = UNITS[next_unit..].iter().position(|&(u, _)| u == unit)?;
        total += u128::from(number) * UNITS[next_unit + offset].1;
        next_unit += offset + 1;
        rest = &after[unit.len()..];
    }
    Some(Duration::from_millis(u64::try_from(total).ok()?))
}

/// [`parse_duration`] for a command-line argument: the error says what a duration looks
/// like.
pub fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| {
        format!(
            "{:?} is not a duration like 100ms, 30s, 5m, 1h30m or 1d",
            text.trim()
        )
    })
}

/// `1h 5m`, `10m`, `45s`, `0s`: how a duration reads in a sentence (whole seconds; days
/// shown as hours).
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let parts: Vec<String> = [(s / 3600, "h"), (s / 60 % 60, "m"), (s % 60, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

/// `t` in RFC 3339, UTC, to the second: `2026-11-23T06:06:31Z`. Times before 1970 read
/// as 1970.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Seconds since 1970 of an RFC 3339 UTC timestamp as [`timestamp`] writes it
/// (`2026-11-23T06:26:31Z`); `None` for anything else.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    Some(parse_rfc3339_millis(text)? / 1000)
}

/// Milliseconds since 1970 of any RFC 3339 date-time: `T` or a space between date
/// and time, any fraction of a second (rounded up to the millisecond, so an instant
/// is never read as earlier than written), `Z` or a `±HH:MM` offset, as package
/// indexes write upload times (`2023-04-02T10:11:12.345678Z`). `None` for anything
/// else, a date alone included.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| num_of(text.get(from..to)?);
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(after) = rest.strip_prefix('.') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let fraction = &after[..digits];
        let first3: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
        let beyond = fraction.bytes().skip(3).any(|c| c != b'0');
        millis = first3 + i64::from(beyond);
        rest = &after[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let (oh, om) = (num_of(&rest[1..3])?, num_of(&rest[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
    };
    let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - offset;
    Some(secs * 1000 + millis)
}

/// Digits only, as a number.
fn num_of(part: &str) -> Option<i64> {
    part.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| part.parse().ok())?
}

/// Year, month, day of the `days`th day after 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to year `y`, month `m` (1–12), day `d` (Howard Hinnant's
/// algorithm; the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn milliseconds_come_last() {
        let cases = [
            ("100ms", Some(100)),
            ("1s500ms", Some(1_500)),
            ("1m5ms", Some(60_005)),
            ("5ms1s", None),
            ("5msx", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_duration(text),
                want.map(Duration::from_millis),
                "{text}"
            );
        }
    }

    #[test]
    fn command_line_durations_say_what_is_wrong() {
        assert_eq!(parse_duration_arg("30s"), Ok(Duration::from_secs(30)));
        let err = parse_duration_arg("5 days").unwrap_err();
        assert!(err.contains("\"5 days\" is not a duration"), "{err}");
    }

    #[test]
    fn human_durations() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (600, "10m"),
            (3_900, "1h 5m"),
            (90_061, "25h 1m 1s"),
        ];
        for (seconds, text) in cases {
            assert_eq!(human_duration(Duration::from_secs(seconds)), text);
        }
    }

    #[test]
    fn timestamps() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2000-02-29T00:00:00Z", Some(951_782_400)),
            ("2026-11-23T06:26:31Z", Some(1_795_415_191)),
            ("2026-11-23 06:26:31", None),
            ("2026-13-23T06:26:31Z", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), want, "{text}");
        }
    }

    #[test]
    fn rfc3339_date_times_of_any_precision_and_offset() {
        let cases = [
            ("2023-04-02T10:11:12Z", Some(1_680_430_272_000)),
            ("2023-04-02T10:11:12.345Z", Some(1_680_430_272_345)),
            ("2023-04-02T10:11:12.345678Z", Some(1_680_430_272_346)),
            ("2023-04-02T10:11:12.3450Z", Some(1_680_430_272_345)),
            ("2023-04-02T10:11:12.5Z", Some(1_680_430_272_500)),
            ("2023-04-02 10:11:12Z", Some(1_680_430_272_000)),
            ("2023-04-02T12:11:12+02:00", Some(1_680_430_272_000)),
            ("2023-04-02T05:41:12-04:30", Some(1_680_430_272_000)),
            ("2023-04-02", None),
            ("2023-04-02T10:11:12", None),
            ("2023-04-02T10:11:12.Z", None),
            ("2023-04-02T10:11:12+0200", None),
            ("2023-04-02T10:11:1xZ", None),
            ("2023-4-02T10:11:12Z", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rfc3339_millis(text), want, "{text}");
        }
    }
}
