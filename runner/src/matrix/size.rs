//! Byte sizes as written in matrix files: `2g`, `512m`, `1.5g`, `4096`.
//!
//! Units are powers of 1024, as in `docker run --memory`: `k`, `m`, `g`, `t`, in either
//! case, optionally followed by `b` or `ib` (`2GiB`, `512mb`). A bare number is bytes.

/// Multipliers by unit letter.
const UNITS: [(char, u64); 5] = [
    ('b', 1),
    ('k', 1 << 10),
    ('m', 1 << 20),
    ('g', 1 << 30),
    ('t', 1 << 40),
];

/// Parses a size into bytes; `None` when it doesn't parse, is negative or overflows.
/// Fractions of a byte are dropped.
pub fn parse_size(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let number_len = lower
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, unit) = lower.split_at(number_len);
    let multiplier = match unit {
        "" => 1,
        _ => {
            let letter = unit.chars().next()?;
            let tail = &unit[letter.len_utf8()..];
            let ok_tail = tail.is_empty() || (letter != 'b' && (tail == "b" || tail == "ib"));
            if !ok_tail {
                return None;
            }
            UNITS.iter().find(|(u, _)| *u == letter)?.1
        }
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(multiplier);
    }
    let fraction: f64 = number.parse().ok()?;
    let bytes = fraction * multiplier as f64;
    // u64::MAX as f64 rounds up to 2^64, so `<` keeps the cast in range.
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        let cases = [
            ("4096", 4096),
            ("2g", 2 << 30),
            ("2G", 2 << 30),
            ("2GiB", 2 << 30),
            ("2gb", 2 << 30),
            ("512m", 512 << 20),
            ("4m", 4 << 20),
            ("64k", 64 << 10),
            ("1t", 1 << 40),
            ("100b", 100),
            ("1.5g", 3 << 29),
            (" 2g ", 2 << 30),
            ("0", 0),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        let cases = [
            "",
            "g",
            "2x",
            "2 g",
            "-2g",
            "2gg",
            "2bb",
            "2bib",
            ".5g",
            "5.g",
            "1.2.3m",
            "99999999999999999999",
            "20000000t",
            "2€",
        ];
        for text in cases {
            assert_eq!(parse_size(text), None, "{text:?}");
        }
    }
}
