//! Cutting text to a length for display: a test name in a report, a message in a mail, a
//! GitHub status description.
//!
//! One rule everywhere: the result is at most `max` characters (Unicode scalar values,
//! not bytes), the `…` that marks a cut counted inside the limit, so `max` is a limit a
//! caller can hand on as is (GitHub refuses a description over 140 characters).
//!
//! Pure: no I/O.

/// `text` when it has at most `max` characters; otherwise its first `max - 1` characters
/// followed by `…`, so the result never exceeds `max` characters. `max == 0` gives the
/// empty string for any non-empty `text`.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some(_) if max == 0 => String::new(),
        Some(_) => {
            // `max - 1` characters kept: the `…` takes the last place.
            let end = text
                .char_indices()
                .nth(max - 1)
                .map_or(text.len(), |(at, _)| at);
            format!("{}…", &text[..end])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_to_the_limit_with_the_ellipsis_inside() {
        let cases = [
            ("short", 140, "short"),
            ("abcdef", 6, "abcdef"),
            ("abcdefg", 6, "abcde…"),
            ("abcdefg", 1, "…"),
            ("abc", 0, ""),
            ("", 0, ""),
            ("ééééé", 3, "éé…"),
            ("日本語のテキスト", 4, "日本語…"),
        ];
        for (text, max, want) in cases {
            let got = shorten(text, max);
            assert_eq!(got, want, "{text:?} to {max}");
            assert!(got.chars().count() <= max, "{got:?} is over {max}");
        }
    }
}
