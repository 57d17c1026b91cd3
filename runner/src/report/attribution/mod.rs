//! Failure attribution: from every job's outcome, the smallest sets of axis values that
//! explain the failures ("fails only where python=3.13", "only where database=mariadb and
//! django=5.1"), for the jobs as a whole and for each failing test.
//!
//! The model: a *term* is a set of axis values (`python=3.13 ∧ database=mariadb`); it
//! matches the jobs that have all of them. A term is *pure* when every job it matches
//! that says anything (passed or failed) failed, and *prime* when no smaller term inside
//! it is pure. The explanation is a small set of prime terms that together match every
//! failing job, chosen greedily (most failing jobs first, then fewest values): the
//! classic minimal-cover heuristic, exact on the shapes matrices have in practice (one
//! bad value, one bad pair). Terms have at most [`MAX_TERM`] values, and a term of several
//! values must match more than one job (else it only names that job). Failing jobs no
//! such term explains fail "on their own", which is itself a finding (flaky, or a cause
//! specific to that job).
//!
//! Jobs that say nothing about the project (`error`, `cancelled`, a test in a job whose
//! tests did not run) are ignored: they neither confirm nor refute a term.
//!
//! Pure: outcomes in, explanations out.

mod bits;
mod outcomes;

pub use outcomes::{attribute, axes, job_evidence, job_table, Attribution, TestGroup};

use bits::Bits;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// The most axis values in one term. Four-way interactions are rare, and each extra
/// value multiplies the candidates; past this a failing job is "unexplained".
pub const MAX_TERM: usize = 3;

/// At most this many terms are spelled out in a [`Explanation::sentence`].
const SENTENCE_TERMS: usize = 5;

/// At most this many equally good alternatives are kept per term.
const MAX_ALTERNATIVES: usize = 3;

/// What a job says about a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// It failed: evidence for the terms that match it.
    Fails,
    /// It passed: evidence against every term that matches it.
    Passes,
    /// It says nothing about the project: ignored.
    Unknown,
}

/// The input: one row per job, one value (as text) per axis, `None` where the job lacks
/// the axis (a job an `include` added).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Axis names, in matrix order.
    pub axes: Vec<String>,
    /// Each job's values (same length as `axes`) and verdict.
    pub rows: Vec<(Vec<Option<String>>, Evidence)>,
}

/// One axis value: `python=3.13`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Literal {
    /// The axis.
    pub axis: String,
    /// Its value, as text.
    pub value: String,
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.axis, self.value)
    }
}

/// A set of axis values that matches only failing jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The values, in axis order.
    pub literals: Vec<Literal>,
    /// Failing jobs it matches.
    pub failing: usize,
    /// Jobs it matches that passed or failed (the rest are ignored): equal to `failing`,
    /// as the term is pure; kept apart for the wording "4 of 4 jobs".
    pub known: usize,
    /// Other terms of the same size matching exactly the same failing jobs: the data
    /// cannot tell them apart (e.g. in a sparse matrix).
    pub alternatives: Vec<Vec<Literal>>,
}

impl Term {
    /// `python=3.13 and database=mariadb`.
    pub fn describe(&self) -> String {
        describe(&self.literals)
    }
}

/// `python=3.13 and database=mariadb`.
pub fn describe(literals: &[Literal]) -> String {
    literals
        .iter()
        .map(Literal::to_string)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Why jobs fail, in terms of axis values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// No job failed.
    NothingFails,
    /// Every job that passed or failed, failed: no axis value is to blame.
    Everywhere {
        /// How many jobs failed.
        failing: usize,
    },
    /// Failures happen only where these terms hold.
    Only {
        /// The terms, most failing jobs first.
        terms: Vec<Term>,
        /// Failing jobs (row indexes) that fail on their own: no term of at most
        /// [`MAX_TERM`] values shared with another job explains them.
        unexplained: Vec<usize>,
    },
}

impl Explanation {
    /// A sentence: `fails only where python=3.13 (4 of 4 jobs), or where …`.
    pub fn sentence(&self) -> String {
        match self {
            Explanation::NothingFails => "nothing fails".to_string(),
            Explanation::Everywhere { failing } => {
                format!("fails everywhere it ran ({failing} jobs): no axis value is to blame")
            }
            Explanation::Only { terms, unexplained } => {
                let mut parts: Vec<String> = terms
                    .iter()
                    .take(SENTENCE_TERMS)
                    .map(|t| {
                        let jobs = if t.known == 1 { "job" } else { "jobs" };
                        format!(
                            "where {} ({} of {} {jobs})",
                            t.describe(),
                            t.failing,
                            t.known
                        )
                    })
                    .collect();
                let mut out = if parts.is_empty() {
                    String::new()
                } else {
                    let first = parts.remove(0);
                    let mut s = format!("fails only {first}");
                    for p in parts {
                        s.push_str(", or ");
                        s.push_str(&p);
                    }
                    if terms.len() > SENTENCE_TERMS {
                        s.push_str(&format!(", or {} more", terms.len() - SENTENCE_TERMS));
                    }
                    s
                };
                if !unexplained.is_empty() {
                    if !out.is_empty() {
                        out.push_str("; ");
                    }
                    out.push_str(&match unexplained.len() {
                        1 => "1 job fails on its own".to_string(),
                        n => format!("{n} jobs fail on their own"),
                    });
                }
                out
            }
        }
    }
}

/// Finds the smallest sets of axis values that explain the failing rows of `table`.
pub fn explain(table: &Table) -> Explanation {
    let known: Vec<usize> = (0..table.rows.len())
        .filter(|&i| table.rows[i].1 != Evidence::Unknown)
        .collect();
    let words = known.len().div_ceil(64);
    let mut fails = Bits::new(words);
    for (k, &row) in known.iter().enumerate() {
        if table.rows[row].1 == Evidence::Fails {
            fails.set(k);
        }
    }
    let failing = fails.count();
    if failing == 0 {
        return Explanation::NothingFails;
    }
    if failing == known.len() {
        return Explanation::Everywhere { failing };
    }
    let literals = Literals::index(table, &known, words);
    let primes = prime_terms(table, &known, &fails, &literals);
    let (chosen, uncovered) = cover(&primes, &fails);
    let terms = chosen
        .iter()
        .map(|&i| {
            let p = &primes[i];
            let alternatives = primes
                .iter()
                .filter(|q| q.ids.len() == p.ids.len() && q.ids != p.ids && q.matches == p.matches)
                .take(MAX_ALTERNATIVES)
                .map(|q| literals.spell(&q.ids))
                .collect();
            Term {
                literals: literals.spell(&p.ids),
                failing: p.matches.count(),
                known: p.matches.count(),
                alternatives,
            }
        })
        .collect();
    let unexplained = (0..known.len())
        .filter(|&k| uncovered.get(k))
        .map(|k| known[k])
        .collect();
    Explanation::Only { terms, unexplained }
}

/// A prime term: literal ids (sorted) and the known rows it matches (all failing).
#[derive(Debug, Clone)]
struct Prime {
    ids: Vec<usize>,
    matches: Bits,
}

/// Every prime term of at most [`MAX_TERM`] literals, smallest first. Candidates come
/// from the failing rows' own values, so each matches at least one failure.
fn prime_terms(table: &Table, known: &[usize], fails: &Bits, literals: &Literals) -> Vec<Prime> {
    let mut primes: Vec<Prime> = Vec::new();
    let mut pure: HashSet<Vec<usize>> = HashSet::new();
    let failing_rows: Vec<Vec<usize>> = known
        .iter()
        .enumerate()
        .filter(|&(k, _)| fails.get(k))
        .map(|(_, &row)| literals.of_row(table, row))
        .collect();
    for size in 1..=MAX_TERM {
        let mut seen: HashSet<Vec<usize>> = HashSet::new();
        for row in &failing_rows {
            for ids in subsets(row, size) {
                if !seen.insert(ids.clone()) || contains_pure(&ids, &pure) {
                    continue;
                }
                let matches = literals.matches(&ids);
                if matches.is_subset(fails) {
                    pure.insert(ids.clone());
                    // Several values that pick out one job name the job, not a cause:
                    // that job fails on its own. One value only it has still counts.
                    if ids.len() == 1 || matches.count() > 1 {
                        primes.push(Prime { ids, matches });
                    }
                }
            }
        }
    }
    primes
}

/// Whether a proper subset of `ids` is a pure term already.
fn contains_pure(ids: &[usize], pure: &HashSet<Vec<usize>>) -> bool {
    (1..ids.len()).any(|size| subsets(ids, size).iter().any(|s| pure.contains(s)))
}

/// The `size`-element subsets of `items` (sorted in, sorted out).
fn subsets(items: &[usize], size: usize) -> Vec<Vec<usize>> {
    fn walk(
        items: &[usize],
        size: usize,
        start: usize,
        cur: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        if cur.len() == size {
            out.push(cur.clone());
            return;
        }
        for i in start..items.len() {
            cur.push(items[i]);
            walk(items, size, i + 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    walk(items, size, 0, &mut Vec::new(), &mut out);
    out
}

/// Greedy cover of the failing rows by prime terms, then redundant terms dropped.
/// Returns the chosen primes (most failures first) and the failing rows left uncovered.
fn cover(primes: &[Prime], fails: &Bits) -> (Vec<usize>, Bits) {
    let mut uncovered = fails.clone();
    let mut chosen: Vec<usize> = Vec::new();
    loop {
        let best = primes
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.matches.and(&uncovered).count()))
            .filter(|&(_, gain)| gain > 0)
            // Most new failures, then fewest values, then first found (stable order).
            .min_by_key(|&(i, gain)| (std::cmp::Reverse(gain), primes[i].ids.len(), i));
        let Some((i, _)) = best else { break };
        uncovered = uncovered.and_not(&primes[i].matches);
        chosen.push(i);
    }
    // A term picked early can become redundant once later ones cover its failures.
    let mut k = chosen.len();
    while k > 0 {
        k -= 1;
        let others = chosen
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != k)
            .fold(Bits::new(fails.words.len()), |acc, (_, &i)| {
                acc.or(&primes[i].matches)
            });
        if primes[chosen[k]].matches.is_subset(&others) {
            chosen.remove(k);
        }
    }
    chosen.sort_by_key(|&i| {
        (
            std::cmp::Reverse(primes[i].matches.count()),
            primes[i].ids.len(),
            i,
        )
    });
    (chosen, uncovered)
}

/// The table's distinct axis values, each with the known rows it matches.
struct Literals {
    axes: Vec<String>,
    /// (axis index, value) per literal id, in axis then first-seen order.
    spelled: Vec<(usize, String)>,
    ids: HashMap<(usize, String), usize>,
    rows: Vec<Bits>,
}

impl Literals {
    fn index(table: &Table, known: &[usize], words: usize) -> Literals {
        let mut by_axis: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (values, _) in &table.rows {
            for (axis, value) in values.iter().enumerate() {
                if let Some(v) = value {
                    let seen = by_axis.entry(axis).or_default();
                    if !seen.contains(v) {
                        seen.push(v.clone());
                    }
                }
            }
        }
        let spelled: Vec<(usize, String)> = by_axis
            .into_iter()
            .flat_map(|(axis, values)| values.into_iter().map(move |v| (axis, v)))
            .collect();
        let ids: HashMap<(usize, String), usize> = spelled
            .iter()
            .enumerate()
            .map(|(id, lit)| (lit.clone(), id))
            .collect();
        let mut rows = vec![Bits::new(words); spelled.len()];
        for (k, &row) in known.iter().enumerate() {
            for (axis, value) in table.rows[row].0.iter().enumerate() {
                if let Some(&id) = value.as_ref().and_then(|v| ids.get(&(axis, v.clone()))) {
                    rows[id].set(k);
                }
            }
        }
        Literals {
            axes: table.axes.clone(),
            spelled,
            ids,
            rows,
        }
    }

    /// The literal ids of a row, sorted.
    fn of_row(&self, table: &Table, row: usize) -> Vec<usize> {
        let mut ids: Vec<usize> = table.rows[row]
            .0
            .iter()
            .enumerate()
            .filter_map(|(axis, v)| {
                v.as_ref()
                    .and_then(|v| self.ids.get(&(axis, v.clone())).copied())
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    fn matches(&self, ids: &[usize]) -> Bits {
        let mut out = self.rows[ids[0]].clone();
        for &id in &ids[1..] {
            out = out.and(&self.rows[id]);
        }
        out
    }

    fn spell(&self, ids: &[usize]) -> Vec<Literal> {
        ids.iter()
            .map(|&id| {
                let (axis, value) = &self.spelled[id];
                Literal {
                    axis: self.axes.get(*axis).cloned().unwrap_or_default(),
                    value: value.clone(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table from `"python database"` and rows like `"3.12 postgres FAIL"`: the last
    /// word is `FAIL`, `ok` or `?` (unknown); `_` is a value the job lacks.
    fn table(axes: &str, rows: &[&str]) -> Table {
        Table {
            axes: axes.split_whitespace().map(String::from).collect(),
            rows: rows
                .iter()
                .map(|row| {
                    let mut words: Vec<&str> = row.split_whitespace().collect();
                    let verdict = match words.pop() {
                        Some("FAIL") => Evidence::Fails,
                        Some("ok") => Evidence::Passes,
                        Some("?") => Evidence::Unknown,
                        other => panic!("bad verdict {other:?} in {row}"),
                    };
                    let values = words
                        .into_iter()
                        .map(|w| (w != "_").then(|| w.to_string()))
                        .collect();
                    (values, verdict)
                })
                .collect(),
        }
    }

    /// The explanation as terms (`a=1 and b=2`) and the unexplained rows.
    fn terms(e: &Explanation) -> (Vec<String>, Vec<usize>) {
        match e {
            Explanation::Only { terms, unexplained } => (
                terms.iter().map(Term::describe).collect(),
                unexplained.clone(),
            ),
            other => panic!("expected terms, got {other:?}"),
        }
    }

    #[test]
    fn explanations() {
        /// What, the axes, the rows, the terms wanted, the unexplained rows wanted.
        type Case = (
            &'static str,
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
            &'static [usize],
        );
        let cases: &[Case] = &[
            (
                "one bad value",
                "python database",
                &[
                    "3.12 postgres ok",
                    "3.12 mariadb ok",
                    "3.13 postgres FAIL",
                    "3.13 mariadb FAIL",
                    "3.11 postgres ok",
                    "3.11 mariadb ok",
                ],
                &["python=3.13"],
                &[],
            ),
            (
                "one bad pair",
                "python database django",
                &[
                    "3.12 postgres 5.0 ok",
                    "3.12 postgres 5.1 ok",
                    "3.12 mariadb 5.0 ok",
                    "3.12 mariadb 5.1 FAIL",
                    "3.13 postgres 5.0 ok",
                    "3.13 postgres 5.1 ok",
                    "3.13 mariadb 5.0 ok",
                    "3.13 mariadb 5.1 FAIL",
                ],
                &["database=mariadb and django=5.1"],
                &[],
            ),
            (
                "two causes, the bigger first",
                "python database django",
                &[
                    "3.12 postgres 5.0 ok",
                    "3.12 postgres 5.1 ok",
                    "3.12 mariadb 5.0 ok",
                    "3.12 mariadb 5.1 FAIL",
                    "3.13 postgres 5.0 FAIL",
                    "3.13 postgres 5.1 FAIL",
                    "3.13 mariadb 5.0 FAIL",
                    "3.13 mariadb 5.1 FAIL",
                ],
                &["python=3.13", "database=mariadb and django=5.1"],
                &[],
            ),
            (
                "errored jobs neither confirm nor refute",
                "python database",
                &[
                    "3.12 postgres ok",
                    "3.12 mariadb ?",
                    "3.13 postgres FAIL",
                    "3.13 mariadb ?",
                ],
                &["python=3.13"],
                &[],
            ),
            (
                "one job of a full cube fails on its own",
                "a b c",
                &[
                    "1 x p ok",
                    "1 x q ok",
                    "1 y p ok",
                    "1 y q ok",
                    "2 x p ok",
                    "2 x q ok",
                    "2 y p ok",
                    "2 y q FAIL",
                ],
                &[],
                &[7],
            ),
            (
                "past three values, unexplained",
                "a b c d",
                &[
                    "1 x p m ok",
                    "1 x p n ok",
                    "1 x q m ok",
                    "1 y p m ok",
                    "2 x p m ok",
                    "2 y q n FAIL",
                    "2 y q m ok",
                    "2 y p n ok",
                    "2 x q n ok",
                    "1 y q n ok",
                ],
                &[],
                &[5],
            ),
            (
                "a pattern and a stray failure",
                "a b c d",
                &[
                    "1 x p m FAIL",
                    "1 y p m FAIL",
                    "2 x p m ok",
                    "2 y p m ok",
                    "2 x q m ok",
                    "2 y q n FAIL",
                    "2 y q m ok",
                    "2 y p n ok",
                    "2 x q n ok",
                    "3 y q n ok",
                ],
                &["a=1"],
                &[5],
            ),
            (
                "two lone failures",
                "a b",
                &["1 x FAIL", "1 y ok", "2 x FAIL", "2 y ok", "3 x ok"],
                &[],
                &[0, 2],
            ),
            (
                "a job an include added, without the axis",
                "python extra",
                &["3.12 _ ok", "3.13 _ ok", "3.13 docs FAIL"],
                &["extra=docs"],
                &[],
            ),
        ];
        for (what, axes, rows, want_terms, want_unexplained) in cases {
            let got = explain(&table(axes, rows));
            let (got_terms, got_unexplained) = terms(&got);
            assert_eq!(got_terms, *want_terms, "{what}");
            assert_eq!(got_unexplained, *want_unexplained, "{what}");
        }
    }

    #[test]
    fn nothing_or_everything() {
        let cases: &[(&[&str], Explanation)] = &[
            (&["1 ok", "2 ok", "3 ?"], Explanation::NothingFails),
            (&[], Explanation::NothingFails),
            (
                &["1 FAIL", "2 FAIL", "3 ?"],
                Explanation::Everywhere { failing: 2 },
            ),
        ];
        for (rows, want) in cases {
            assert_eq!(explain(&table("a", rows)), *want, "{rows:?}");
        }
    }

    #[test]
    fn indistinguishable_terms_are_alternatives() {
        // mariadb only ever ran with django 5.1: the data cannot say which is to blame.
        let t = table(
            "python database django",
            &[
                "3.12 postgres 5.0 ok",
                "3.13 postgres 5.0 ok",
                "3.12 mariadb 5.1 FAIL",
                "3.13 mariadb 5.1 FAIL",
            ],
        );
        let Explanation::Only { terms, .. } = explain(&t) else {
            panic!("expected terms");
        };
        assert_eq!(terms.len(), 1);
        assert_eq!(terms[0].describe(), "database=mariadb");
        assert_eq!(
            terms[0]
                .alternatives
                .iter()
                .map(|a| describe(a))
                .collect::<Vec<_>>(),
            ["django=5.1"]
        );
        assert_eq!((terms[0].failing, terms[0].known), (2, 2));
    }

    #[test]
    fn sentences() {
        let t = table(
            "python database django",
            &[
                "3.12 postgres 5.0 ok",
                "3.12 mariadb 5.1 FAIL",
                "3.12 mariadb 5.0 ok",
                "3.12 postgres 5.1 ok",
                "3.13 postgres 5.0 FAIL",
                "3.13 mariadb 5.1 FAIL",
            ],
        );
        assert_eq!(
            explain(&t).sentence(),
            "fails only where python=3.13 (2 of 2 jobs), or where database=mariadb and \
             django=5.1 (2 of 2 jobs)"
        );
        assert_eq!(Explanation::NothingFails.sentence(), "nothing fails");
        assert_eq!(
            Explanation::Only {
                terms: vec![],
                unexplained: vec![3]
            }
            .sentence(),
            "1 job fails on its own"
        );
    }

    #[test]
    fn many_jobs_stay_fast_enough_to_test() {
        // 5 × 5 × 4 × 10 = 1000 jobs, failing where b=3 or (c=0 and d=7).
        let mut rows = Vec::new();
        for a in 0..5 {
            for b in 0..5 {
                for c in 0..4 {
                    for d in 0..10 {
                        let fails = b == 3 || (c == 0 && d == 7);
                        rows.push(format!(
                            "{a} {b} {c} {d} {}",
                            if fails { "FAIL" } else { "ok" }
                        ));
                    }
                }
            }
        }
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let (got, unexplained) = terms(&explain(&table("a b c d", &rows)));
        assert_eq!(got, ["b=3", "c=0 and d=7"]);
        assert!(unexplained.is_empty());
    }
}
