//! "Did you mean …?": the nearest known name to a misspelt one.

use strsim::damerau_levenshtein;

/// The candidate closest to `word`, if it is close enough to be a likely typo: at most
/// one edit for short words, two from 4 letters, three from 8. Transposed letters
/// (`pyhton`) count as one edit.
pub fn nearest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let budget = match word.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Whether `key` looks like a typo of `axis` rather than a new name: used for include
/// keys, which may add keys but rarely on purpose one letter away from an axis. Stricter
/// than [`nearest`] so that short, unrelated keys (`os` vs `js`) don't trip it.
pub fn is_typo_of(key: &str, axis: &str) -> bool {
    if key == axis || key.chars().count() < 3 || axis.chars().count() < 3 {
        return false;
    }
    let budget = if axis.chars().count() >= 8 { 2 } else { 1 };
    // Cheap length check first: hostile files can ask for many comparisons.
    key.chars().count().abs_diff(axis.chars().count()) <= budget && distance(key, axis) <= budget
}

/// Edit distance ignoring case, so `Python` is one step from `python`, not more.
fn distance(a: &str, b: &str) -> usize {
    let d = damerau_levenshtein(a, b);
    if a.eq_ignore_ascii_case(b) {
        d.min(1)
    } else {
        d
    }
}

/// `` `a`, `b`, `c` `` for "expected one of" messages.
pub fn list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 6] = ["name", "services", "timeout", "max-parallel", "env", "test"];

    #[test]
    fn suggests_near_names_only() {
        let cases = [
            ("servics", Some("services")),
            ("timout", Some("timeout")),
            ("max_parallel", Some("max-parallel")),
            ("nmae", Some("name")),
            ("ENV", Some("env")),
            ("tst", Some("test")),
            ("database", None),
            ("x", None),
            ("", None),
        ];
        for (word, want) in cases {
            assert_eq!(nearest(word, KEYS), want, "{word}");
        }
    }

    #[test]
    fn typos_of_axes() {
        let cases = [
            ("pyton", "python", true),
            ("pyhton", "python", true),
            ("Python", "python", true),
            ("databse", "database", true),
            ("datbase", "database", true),
            ("experimental", "python", false),
            ("js", "os", false),
            ("python", "python", false),
            ("npm", "node", false),
        ];
        for (key, axis, typo) in cases {
            assert_eq!(is_typo_of(key, axis), typo, "{key} / {axis}");
        }
    }
}
