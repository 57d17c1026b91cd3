//! Matrix expansion with GitHub Actions semantics, then the jobs.
//!
//! 1. The cartesian product of the axes in key order, the first key outermost.
//! 2. `exclude` removes every combination an entry partially matches.
//! 3. Each `include` entry is merged into every *original* combination (what is left
//!    after step 2) whose original values it doesn't change; values an earlier
//!    include added may be overwritten. An entry that fits no original combination
//!    becomes a combination of its own, which later entries never merge into.
//!
//! With no axes there are no original combinations, so each include entry is a job;
//! with no axes and no include, the file describes one job with an empty matrix.
//! Values match by text (see [`Value::same_text`](super::Value::same_text)).
//!
//! Pure: no I/O.

use super::error::SpecError;
use super::matrix_def::{MatrixDef, PYTHON_AXIS};
use super::spec::Spec;
use super::value::{matches, Combination};
use super::Job;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Most jobs a matrix may expand to, before and after include. GitHub stops at 256;
/// ours is higher for big nightly matrices, and low enough that a hostile file can't
/// exhaust memory.
pub const MAX_JOBS: usize = 10_000;

/// Most values all combinations may hold together (jobs × keys), against a hostile
/// file that pairs many jobs with many one-value axes or include keys.
pub const MAX_CELLS: usize = 200_000;

/// Most value comparisons exclude, include, `when` and `allow-failure` may make
/// (combinations × their keys), so expansion stays well under a second.
const MAX_COMPARISONS: usize = 5_000_000;

/// Expands `spec` into its jobs.
pub fn expand(spec: &Spec) -> Result<Vec<Job>, SpecError> {
    let combinations = combinations(&spec.matrix, &spec.path)?;
    let mut names = Names::default();
    let jobs = combinations
        .into_iter()
        .enumerate()
        .map(|(index, matrix)| {
            let name = names.unique(job_name(&spec.name, &matrix));
            let python = matrix
                .get(PYTHON_AXIS)
                .map_or_else(|| spec.python.value.clone(), |v| v.text());
            let services = spec
                .services
                .iter()
                .filter(|(_, s)| s.when.is_empty() || s.when.iter().any(|w| matches(w, &matrix)))
                .map(|(name, _)| name.clone())
                .collect();
            let allow_failure = spec.allow_failure.iter().any(|w| matches(w, &matrix));
            Job {
                index,
                name,
                matrix,
                python,
                services,
                allow_failure,
            }
        })
        .collect();
    Ok(jobs)
}

/// The matrix's combinations in job order; `file` names the file in errors, which
/// point at `matrix:`.
pub fn combinations(matrix: &MatrixDef, file: &Path) -> Result<Vec<Combination>, SpecError> {
    let err = |message: String| SpecError::at(file, matrix.pos, message);
    if matrix.axes.is_empty() {
        if matrix.include.is_empty() {
            return Ok(vec![Combination::new()]);
        }
        check_jobs(matrix.include.len()).map_err(err)?;
        return Ok(matrix.include.iter().map(|e| e.value.clone()).collect());
    }
    check_budget(matrix).map_err(err)?;
    let mut originals = product(matrix);
    originals.retain(|c| !matrix.exclude.iter().any(|e| matches(&e.value, c)));
    if originals.is_empty() && matrix.include.is_empty() {
        return Err(err(
            "the matrix expands to no jobs: every combination is excluded".into(),
        ));
    }
    let combinations = include(originals, matrix).map_err(err)?;
    check_jobs(combinations.len()).map_err(err)?;
    Ok(combinations)
}

/// Refuses `when:` and `allow-failure` entries too many to match against `jobs` jobs.
pub(super) fn check_selectors(spec: &Spec, jobs: usize) -> Result<(), SpecError> {
    let keys: usize = spec
        .services
        .values()
        .flat_map(|s| &s.when)
        .chain(&spec.allow_failure)
        .map(|c| c.len())
        .sum();
    if jobs.saturating_mul(keys) > MAX_COMPARISONS {
        return Err(SpecError::whole_file(
            &spec.path,
            format!("too many `when` and `allow-failure` entries to match against {jobs} jobs"),
        ));
    }
    Ok(())
}

/// Refuses a matrix whose product alone breaks a limit, before building anything.
fn check_budget(matrix: &MatrixDef) -> Result<(), String> {
    let sizes: Vec<usize> = matrix.axes.iter().map(|(_, values)| values.len()).collect();
    let product = sizes.iter().try_fold(1usize, |n, &len| n.checked_mul(len));
    let Some(product) = product.filter(|&n| n <= MAX_JOBS) else {
        let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
        return Err(format!(
            "the matrix has more than {MAX_JOBS} combinations ({}); split it or narrow the axes",
            sizes.join(" × ")
        ));
    };
    if product.saturating_mul(sizes.len()) > MAX_CELLS {
        return Err(too_large());
    }
    let entry_keys: usize = matrix
        .exclude
        .iter()
        .chain(&matrix.include)
        .map(|e| e.value.len())
        .sum();
    if product.saturating_mul(entry_keys) > MAX_COMPARISONS {
        return Err(too_large());
    }
    Ok(())
}

fn check_jobs(jobs: usize) -> Result<(), String> {
    if jobs > MAX_JOBS {
        return Err(format!(
            "the matrix expands to {jobs} jobs; at most {MAX_JOBS} are allowed"
        ));
    }
    Ok(())
}

fn too_large() -> String {
    format!(
        "the matrix is too large to expand: its jobs would hold more than {MAX_CELLS} values \
         together; use fewer axes or include keys"
    )
}

/// The cartesian product in key order, first key outermost.
fn product(matrix: &MatrixDef) -> Vec<Combination> {
    let mut out = vec![Combination::new()];
    for (axis, values) in &matrix.axes {
        out = out
            .iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut next = c.clone();
                    next.insert(axis.value.clone(), v.clone());
                    next
                })
            })
            .collect();
    }
    out
}

/// Applies `include` to the original combinations; fails when the keys it adds
/// break [`MAX_CELLS`].
fn include(originals: Vec<Combination>, matrix: &MatrixDef) -> Result<Vec<Combination>, String> {
    let mut cells: usize = originals.iter().map(|c| c.len()).sum();
    // Keys each include added to each original, kept apart so "does this entry
    // change an original value?" only looks at the original ones.
    let mut added = vec![Combination::new(); originals.len()];
    let mut extra = Vec::new();
    for entry in &matrix.include {
        let mut fitted = false;
        for (original, added) in originals.iter().zip(added.iter_mut()) {
            let fits = entry
                .value
                .iter()
                .all(|(k, v)| original.get(k).is_none_or(|o| o.same_text(v)));
            if !fits {
                continue;
            }
            fitted = true;
            for (k, v) in &entry.value {
                if !original.contains_key(k) && added.insert(k.clone(), v.clone()).is_none() {
                    cells += 1;
                }
            }
        }
        if !fitted {
            cells += entry.value.len();
            extra.push(entry.value.clone());
        }
        if cells > MAX_CELLS {
            return Err(too_large());
        }
    }
    Ok(originals
        .into_iter()
        .zip(added)
        .map(|(mut c, added)| {
            c.extend(added);
            c
        })
        .chain(extra)
        .collect())
}

/// `"<spec name> (v1, v2, …)"`, or the spec name alone for an empty matrix.
fn job_name(spec_name: &str, matrix: &Combination) -> String {
    if matrix.is_empty() {
        return spec_name.to_string();
    }
    let values: Vec<String> = matrix.values().map(|v| v.text()).collect();
    format!("{spec_name} ({})", values.join(", "))
}

/// Job names handed out so far: two include entries may describe the same values, and
/// reports and status contexts need one name per job, so repeats get `#2`, `#3`, ….
#[derive(Default)]
struct Names {
    taken: HashSet<String>,
    /// Next suffix to try per repeated name, so 10,000 equal names stay linear.
    next: HashMap<String, usize>,
}

impl Names {
    fn unique(&mut self, name: String) -> String {
        if self.taken.insert(name.clone()) {
            return name;
        }
        let mut n = self.next.get(&name).copied().unwrap_or(2);
        let unique = loop {
            let candidate = format!("{name} #{n}");
            n += 1;
            if !self.taken.contains(&candidate) {
                break candidate;
            }
        };
        self.next.insert(name, n);
        self.taken.insert(unique.clone());
        unique
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Value;

    fn spec(text: &str) -> Spec {
        Spec::parse(Path::new("/w/demo/ponyswarm.yaml"), text).unwrap()
    }

    /// Each job's matrix as `key=value` pairs, the way GitHub's docs list them.
    fn rendered(text: &str) -> Vec<String> {
        expand(&spec(text))
            .unwrap()
            .iter()
            .map(|job| {
                let pairs: Vec<String> =
                    job.matrix.iter().map(|(k, v)| format!("{k}={v}")).collect();
                pairs.join(" ")
            })
            .collect()
    }

    /// The documented examples of GitHub Actions' matrix (workflow syntax reference and
    /// "Running variations of jobs in a workflow"), with the documented result.
    #[test]
    fn github_documented_examples() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "order: first key outermost",
                "matrix:\n  version: [10, 12, 14]\n  os: [ubuntu-latest, windows-latest]\n",
                &[
                    "version=10 os=ubuntu-latest",
                    "version=10 os=windows-latest",
                    "version=12 os=ubuntu-latest",
                    "version=12 os=windows-latest",
                    "version=14 os=ubuntu-latest",
                    "version=14 os=windows-latest",
                ],
            ),
            (
                "expanding or adding matrix configurations",
                "matrix:\n  fruit: [apple, pear]\n  animal: [cat, dog]\n  include:\n    - color: green\n    - color: pink\n      animal: cat\n    - fruit: apple\n      shape: circle\n    - fruit: banana\n    - fruit: banana\n      animal: cat\n",
                &[
                    "fruit=apple animal=cat color=pink shape=circle",
                    "fruit=apple animal=dog color=green shape=circle",
                    "fruit=pear animal=cat color=pink",
                    "fruit=pear animal=dog color=green",
                    "fruit=banana",
                    "fruit=banana animal=cat",
                ],
            ),
            (
                "example: expanding configurations",
                "matrix:\n  os: [windows-latest, ubuntu-latest]\n  node: [14, 16]\n  include:\n    - os: windows-latest\n      node: 16\n      npm: 6\n",
                &[
                    "os=windows-latest node=14",
                    "os=windows-latest node=16 npm=6",
                    "os=ubuntu-latest node=14",
                    "os=ubuntu-latest node=16",
                ],
            ),
            (
                "example: adding configurations",
                "matrix:\n  os: [macos-latest, windows-latest, ubuntu-latest]\n  version: [12, 14, 16]\n  include:\n    - os: windows-latest\n      version: 17\n",
                &[
                    "os=macos-latest version=12",
                    "os=macos-latest version=14",
                    "os=macos-latest version=16",
                    "os=windows-latest version=12",
                    "os=windows-latest version=14",
                    "os=windows-latest version=16",
                    "os=ubuntu-latest version=12",
                    "os=ubuntu-latest version=14",
                    "os=ubuntu-latest version=16",
                    "os=windows-latest version=17",
                ],
            ),
            (
                "include without axes: one job per entry",
                "matrix:\n  include:\n    - site: \"production\"\n      datacenter: \"site-a\"\n    - site: \"staging\"\n      datacenter: \"site-b\"\n",
                &["site=production datacenter=site-a", "site=staging datacenter=site-b"],
            ),
            (
                "excluding matrix configurations: partial matches",
                "matrix:\n  os: [macos-latest, windows-latest]\n  version: [12, 14, 16]\n  environment: [staging, production]\n  exclude:\n    - os: macos-latest\n      version: 12\n      environment: production\n    - os: windows-latest\n      version: 16\n",
                &[
                    "os=macos-latest version=12 environment=staging",
                    "os=macos-latest version=14 environment=staging",
                    "os=macos-latest version=14 environment=production",
                    "os=macos-latest version=16 environment=staging",
                    "os=macos-latest version=16 environment=production",
                    "os=windows-latest version=12 environment=staging",
                    "os=windows-latest version=12 environment=production",
                    "os=windows-latest version=14 environment=staging",
                    "os=windows-latest version=14 environment=production",
                ],
            ),
            (
                "fail-fast example: include adds a job with a new value",
                "matrix:\n  version: [6, 7, 8]\n  experimental: [false]\n  include:\n    - version: 9\n      experimental: true\n",
                &[
                    "version=6 experimental=false",
                    "version=7 experimental=false",
                    "version=8 experimental=false",
                    "version=9 experimental=true",
                ],
            ),
            (
                "continue-on-error example",
                "matrix:\n  node: [13, 14]\n  os: [macos-latest, ubuntu-latest]\n  experimental: [false]\n  include:\n    - node: 15\n      os: ubuntu-latest\n      experimental: true\n",
                &[
                    "node=13 os=macos-latest experimental=false",
                    "node=13 os=ubuntu-latest experimental=false",
                    "node=14 os=macos-latest experimental=false",
                    "node=14 os=ubuntu-latest experimental=false",
                    "node=15 os=ubuntu-latest experimental=true",
                ],
            ),
        ];
        for (what, text, want) in cases {
            assert_eq!(rendered(text), *want, "{what}");
        }
    }

    #[test]
    fn include_rules() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "include runs after exclude and can add back an excluded combination",
                "matrix:\n  a: [1, 2]\n  b: [x, y]\n  exclude:\n    - {a: 1, b: x}\n  include:\n    - {a: 1, b: x}\n",
                &["a=1 b=y", "a=2 b=x", "a=2 b=y", "a=1 b=x"],
            ),
            (
                "an entry matching an excluded combination only is a new job",
                "matrix:\n  a: [1, 2]\n  exclude:\n    - {a: 1}\n  include:\n    - {a: 1, extra: e}\n",
                &["a=2", "a=1 extra=e"],
            ),
            (
                "a later include overwrites what an earlier one added",
                "matrix:\n  a: [1, 2]\n  include:\n    - {note: first}\n    - {a: 2, note: second}\n",
                &["a=1 note=first", "a=2 note=second"],
            ),
            (
                "an original value is never overwritten",
                "matrix:\n  a: [1]\n  b: [x]\n  include:\n    - {a: 1, b: y}\n",
                &["a=1 b=x", "a=1 b=y"],
            ),
            (
                "values match by text: 3.9 fits \"3.9\"",
                "matrix:\n  v: [\"3.9\", \"3.11\"]\n  include:\n    - {v: 3.9, extra: 1}\n  exclude:\n    - {v: 3.11}\n",
                &["v=3.9 extra=1"],
            ),
            (
                "an empty matrix is one job",
                "python: \"3.11\"\n",
                &[""],
            ),
        ];
        for (what, text, want) in cases {
            assert_eq!(rendered(text), *want, "{what}");
        }
    }

    #[test]
    fn original_values_keep_their_type_when_an_include_matches_by_text() {
        let jobs = expand(&spec(
            "matrix:\n  v: [\"3.9\"]\n  include:\n    - {v: 3.9, n: 12}\n",
        ))
        .unwrap();
        assert_eq!(jobs[0].matrix["v"], Value::Str("3.9".into()));
        assert_eq!(jobs[0].matrix["n"], Value::Int(12));
    }

    #[test]
    fn job_names_are_unique() {
        let text =
            "matrix:\n  include:\n    - {a: x}\n    - {a: x}\n    - {a: \"x #2\"}\n    - {a: x}\n";
        let names: Vec<String> = expand(&spec(text))
            .unwrap()
            .into_iter()
            .map(|j| j.name)
            .collect();
        assert_eq!(
            names,
            ["demo (x)", "demo (x) #2", "demo (x #2)", "demo (x) #3"]
        );
        let mut names = Names::default();
        let taken: Vec<String> = ["a", "a #2", "a", "a"]
            .iter()
            .map(|n| names.unique(n.to_string()))
            .collect();
        assert_eq!(taken, ["a", "a #2", "a #3", "a #4"]);
    }

    #[test]
    fn jobs_carry_index_python_services_and_allow_failure() {
        let text = "name: lib\npython: pypy3\nmatrix:\n  db: [pg, none]\n  include:\n    - {db: pg, python: \"3.13\"}\n    - {db: extra, flaky: true}\nservices:\n  postgres: {when: {db: pg}}\nallow-failure: {flaky: true}\n";
        let jobs = expand(&spec(text)).unwrap();
        let seen: Vec<_> = jobs
            .iter()
            .map(|j| {
                (
                    j.index,
                    j.name.as_str(),
                    j.python.as_str(),
                    j.services.clone(),
                    j.allow_failure,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    0,
                    "lib (pg, 3.13)",
                    "3.13",
                    vec!["postgres".to_string()],
                    false
                ),
                (1, "lib (none)", "pypy3", vec![], false),
                (2, "lib (extra, true)", "pypy3", vec![], true),
            ]
        );
    }

    #[test]
    fn hostile_matrices_hit_limits_not_memory() {
        let err = |text: &str| {
            combinations(&spec_unchecked(text), Path::new("f"))
                .unwrap_err()
                .message
        };
        // 2^14 = 16384 combinations.
        let axes: String = (0..14).map(|i| format!("  a{i}: [0, 1]\n")).collect();
        assert!(err(&format!("matrix:\n{axes}"))
            .starts_with("the matrix has more than 10000 combinations (2 × 2"));
        // 10000 jobs × 30 one-value axes is more values than allowed.
        let many: String = (0..30).map(|i| format!("  k{i}: [v]\n")).collect();
        let big: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        let text = format!("matrix:\n  n: [{}]\n{many}", big.join(", "));
        assert!(err(&text).starts_with("the matrix is too large to expand"));
        // 10000 jobs, each matched against 32 services × 20 `when` entries.
        let when: Vec<String> = (0..20).map(|i| format!("{{n: {i}}}")).collect();
        let services: String = (0..32)
            .map(|i| format!("  s{i}: {{image: redis, when: [{}]}}\n", when.join(", ")))
            .collect();
        let text = format!("matrix:\n  n: [{}]\nservices:\n{services}", big.join(", "));
        let message = Spec::parse(Path::new("f"), &text).unwrap_err().to_string();
        assert_eq!(
            message,
            "f: too many `when` and `allow-failure` entries to match against 10000 jobs"
        );
    }

    /// A spec whose matrix is read but not expanded, to test `combinations` itself.
    fn spec_unchecked(text: &str) -> MatrixDef {
        let root = crate::matrix::yaml::parse(text).unwrap().unwrap();
        let r = crate::matrix::read::Reader {
            file: Path::new("f"),
        };
        MatrixDef::parse(&r, &root.map().unwrap()["matrix"]).unwrap()
    }
}
