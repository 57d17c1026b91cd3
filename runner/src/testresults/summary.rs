//! Test counts read from a runner's own summary lines, for runners that write no JUnit
//! XML: unittest and Django (`Ran 5 tests` … `OK (skipped=1)`) and pytest
//! (`3 passed, 1 failed in 0.12s`).
//!
//! Pure: text in, counts out.

use super::Counts;

///
/// Understands unittest and Django (`Ran 5 tests in 0.01s` followed by `OK (skipped=1)`,
/// `FAILED (failures=1, errors=2)` or `NO TESTS RAN`) and pytest's summary line
/// (`3 passed, 1 failed, 2 skipped in 0.12s`). The last summary in the output wins.
/// As in pytest's XML, expected failures count as skipped; unexpected successes as failed.
pub fn parse_text_counts(output: &str) -> Option<Counts> {
    let lines: Vec<String> = output.lines().map(crate::report::ansi::strip).collect();
    for (i, line) in lines.iter().enumerate().rev() {
        if let Some(counts) = pytest_summary(line) {
            return Some(counts);
        }
        if let Some(ran) = unittest_ran(line) {
            // The verdict follows the `Ran` line after a blank line; Django may print
            // database teardown in between when stderr and stdout interleave.
            let verdict = lines[i + 1..]
                .iter()
                .take(10)
                .find_map(|l| unittest_verdict(l, ran));
            if let Some(counts) = verdict {
                return Some(counts);
            }
        }
    }
    None
}

/// `3 passed, 1 failed in 0.12s`, possibly framed by `=`; `no tests ran in 0.01s`.
fn pytest_summary(line: &str) -> Option<Counts> {
    let line = line.trim().trim_matches('=').trim();
    let (items, time) = line.rsplit_once(" in ")?;
    let time = time.split_whitespace().next()?;
    if !time.ends_with('s') || time[..time.len() - 1].parse::<f64>().is_err() {
        return None;
    }
    let mut counts = Counts::default();
    // Plugins add their own items ("3 subtests passed"): every item must be "N words",
    // and at least one must be pytest's own, or this is not a summary.
    let mut recognised = false;
    for item in items.split(", ").map(str::trim) {
        if item == "no tests ran" {
            recognised = true;
            continue;
        }
        let (n, word) = item.split_once(' ')?;
        let n: u32 = n.parse().ok()?;
        let slot = match word {
            "passed" | "xpassed" => &mut counts.passed,
            "failed" => &mut counts.failed,
            "skipped" | "xfailed" => &mut counts.skipped,
            "error" | "errors" => &mut counts.errors,
            "warning" | "warnings" | "deselected" | "rerun" => {
                recognised = true;
                continue;
            }
            _ => continue,
        };
        recognised = true;
        *slot = slot.saturating_add(n);
    }
    recognised.then_some(counts)
}

/// `Ran 5 tests in 0.012s` → 5.
fn unittest_ran(line: &str) -> Option<u32> {
    let rest = line.trim().strip_prefix("Ran ")?;
    let (n, rest) = rest.split_once(' ')?;
    if !(rest.starts_with("tests in ") || rest.starts_with("test in ")) {
        return None;
    }
    n.parse().ok()
}

/// `OK`, `OK (skipped=1)`, `FAILED (failures=1, errors=2)`, `NO TESTS RAN`, for `ran` tests.
fn unittest_verdict(line: &str, ran: u32) -> Option<Counts> {
    let line = line.trim();
    if line == "NO TESTS RAN" {
        return Some(Counts::default());
    }
    let details = if line == "OK" || line == "FAILED" {
        ""
    } else {
        let rest = line
            .strip_prefix("OK ")
            .or_else(|| line.strip_prefix("FAILED "))?;
        rest.trim().strip_prefix('(')?.strip_suffix(')')?
    };
    let (mut failures, mut errors, mut skipped, mut expected, mut unexpected) = (0u32, 0, 0, 0, 0);
    for item in details.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, n) = item.split_once('=')?;
        let n: u32 = n.trim().parse().ok()?;
        match key.trim() {
            "failures" => failures = n,
            "errors" => errors = n,
            "skipped" => skipped = n,
            "expected failures" => expected = n,
            "unexpected successes" => unexpected = n,
            _ => {}
        }
    }
    let passed = [failures, errors, skipped, expected, unexpected]
        .into_iter()
        .fold(ran, u32::saturating_sub);
    Some(Counts {
        passed,
        failed: failures.saturating_add(unexpected),
        skipped: skipped.saturating_add(expected),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts() {
        let cases: &[(&str, &str, Option<Counts>)] = &[
            ("pytest -q", "..F\n2 failed, 3 passed, 1 skipped, 1 xfailed, 1 error in 0.03s\n", Some(Counts::new(3, 2, 2, 1))),
            (
                "pytest framed, coloured, with warnings",
                "\x1b[31m==== \x1b[1m1 failed\x1b[0m, \x1b[32m4 passed\x1b[0m, 2 warnings\x1b[31m in 1.20s (0:00:01) ====\x1b[0m",
                Some(Counts::new(4, 1, 0, 0)),
            ),
            ("pytest nothing", "\n============ no tests ran in 0.00s ============\n", Some(Counts::new(0, 0, 0, 0))),
            ("pytest xpassed, deselected", "= 2 passed, 1 xpassed, 3 deselected in 0.1s =", Some(Counts::new(3, 0, 0, 0))),
            ("unittest ok", "....\n------\nRan 4 tests in 0.001s\n\nOK\n", Some(Counts::new(4, 0, 0, 0))),
            ("unittest one", "Ran 1 test in 0.000s\n\nOK (skipped=1)\n", Some(Counts::new(0, 0, 1, 0))),
            (
                "unittest everything",
                "Ran 6 tests in 0.001s\n\nFAILED (failures=1, errors=1, skipped=1, expected failures=1, unexpected successes=1)\n",
                Some(Counts::new(1, 2, 2, 1)),
            ),
            ("unittest 3.12 nothing", "Ran 0 tests in 0.000s\n\nNO TESTS RAN\n", Some(Counts::new(0, 0, 0, 0))),
            (
                "django with teardown in between",
                "System check identified no issues (0 silenced).\nRan 12 tests in 0.5s\n\nDestroying test database for alias 'default'...\nFAILED (errors=2)\n",
                Some(Counts::new(10, 0, 0, 2)),
            ),
            (
                "last summary wins",
                "Ran 3 tests in 0.1s\n\nOK\n...\n5 passed in 0.2s\n",
                Some(Counts::new(5, 0, 0, 0)),
            ),
            ("Ran without verdict (killed)", "Ran 3 tests in 0.1s\n", None),
            ("prose", "We ran 3 tests in the morning.\nall OK\n", None),
            ("unknown pytest word", "3 bananas in 2s\n", None),
            ("plugin items ignored", "1 failed, 2 passed, 3 subtests passed in 0.5s", Some(Counts::new(2, 1, 0, 0))),
            ("warnings only", "== 1 warning in 0.01s ==", Some(Counts::new(0, 0, 0, 0))),
            ("empty", "", None),
        ];
        for (what, output, want) in cases {
            assert_eq!(parse_text_counts(output), *want, "{what}");
        }
    }
}
