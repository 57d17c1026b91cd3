//! Which jobs of an expanded matrix to plan: all of them, those `--filter KEY=VALUE`
//! keeps, or the one job a swarm job spec names.
//!
//! Pure: no I/O.

use crate::matrix::Job;
use indexmap::IndexMap;

/// A choice of jobs, made before planning so that unwanted jobs are never planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Matrix key → the values kept for it (`--filter`): AND across keys, OR among
    /// the values of one key.
    matrix: IndexMap<String, Vec<String>>,
    /// The one job wanted, by name and index (both must match).
    job: Option<(String, usize)>,
}

/// Why a selection cannot be made or selects nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A filter is not `KEY=VALUE`.
    #[error("--filter wants KEY=VALUE, got `{0}`")]
    NotKeyValue(String),
    /// A filter names a key no job has (a typo, most likely).
    #[error("--filter: no job has the matrix key `{0}`")]
    UnknownKey(String),
    /// The filters keep no job.
    #[error("--filter selects no job")]
    Empty,
    /// The matrix has no job of that name at that index: it changed since the job
    /// was queued.
    #[error("the matrix has no job {name:?} at index {index}")]
    NoSuchJob {
        /// The job's name.
        name: String,
        /// Its position in expansion order.
        index: usize,
    },
}

impl Selection {
    /// Every job.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// The jobs `filters` (each `KEY=VALUE`, as `--filter` takes them) keep.
    pub fn filters(filters: &[String]) -> Result<Selection, SelectionError> {
        let mut matrix: IndexMap<String, Vec<String>> = IndexMap::new();
        for f in filters {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| SelectionError::NotKeyValue(f.clone()))?;
            matrix.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(Selection { matrix, job: None })
    }

    /// Only the job named `name` at `index` of the expansion: both must match, so a
    /// matrix that changed under the same run cannot run a different job.
    pub fn job(name: &str, index: usize) -> Selection {
        Selection {
            matrix: IndexMap::new(),
            job: Some((name.to_string(), index)),
        }
    }

    /// The selected jobs of `jobs`, in order; an error when none is.
    pub fn apply(&self, jobs: Vec<Job>) -> Result<Vec<Job>, SelectionError> {
        for key in self.matrix.keys() {
            if !jobs.iter().any(|j| j.matrix.contains_key(key)) {
                return Err(SelectionError::UnknownKey(key.clone()));
            }
        }
        let kept: Vec<Job> = jobs.into_iter().filter(|j| self.keeps(j)).collect();
        match (&self.job, kept.is_empty()) {
            (Some((name, index)), true) => Err(SelectionError::NoSuchJob {
                name: name.clone(),
                index: *index,
            }),
            (None, true) => Err(SelectionError::Empty),
            (_, false) => Ok(kept),
        }
    }

    fn keeps(&self, job: &Job) -> bool {
        let named = self
            .job
            .as_ref()
            .is_none_or(|(name, index)| job.index == *index && job.name == *name);
        named
            && self.matrix.iter().all(|(k, vs)| {
                job.matrix
                    .get(k)
                    .is_some_and(|v| vs.contains(&v.to_string()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{expand, Spec};
    use std::path::Path;

    fn jobs() -> Vec<Job> {
        let yaml = "name: lib\nmatrix:\n  python: [\"3.11\", \"3.13\"]\n  db: [pg, none]\n";
        let spec = Spec::parse(Path::new("/p/ponyswarm.yaml"), yaml).expect("parses");
        expand(&spec).expect("expands")
    }

    fn names(selected: Result<Vec<Job>, SelectionError>) -> Result<Vec<String>, SelectionError> {
        selected.map(|jobs| jobs.into_iter().map(|j| j.name).collect())
    }

    type Case = (
        &'static [&'static str],
        Result<&'static [&'static str], SelectionError>,
    );

    #[test]
    fn filters_and_across_keys_or_within_a_key() {
        let cases: [Case; 6] = [
            (
                &[],
                Ok(&[
                    "lib (3.11, pg)",
                    "lib (3.11, none)",
                    "lib (3.13, pg)",
                    "lib (3.13, none)",
                ]),
            ),
            (&["db=pg"], Ok(&["lib (3.11, pg)", "lib (3.13, pg)"])),
            (&["db=pg", "python=3.13"], Ok(&["lib (3.13, pg)"])),
            (
                &["python=3.11", "python=3.13", "db=none"],
                Ok(&["lib (3.11, none)", "lib (3.13, none)"]),
            ),
            (&["db=mysql"], Err(SelectionError::Empty)),
            (&["dbs=pg"], Err(SelectionError::UnknownKey("dbs".into()))),
        ];
        for (filters, want) in cases {
            let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
            let got = names(
                Selection::filters(&filters)
                    .expect("KEY=VALUE")
                    .apply(jobs()),
            );
            let want = want.map(|w| w.iter().map(|n| n.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{filters:?}");
        }
    }

    #[test]
    fn a_filter_without_equals_is_refused() {
        assert_eq!(
            Selection::filters(&["db".into()]),
            Err(SelectionError::NotKeyValue("db".into()))
        );
    }

    #[test]
    fn a_named_job_needs_its_name_and_index() {
        let got = names(Selection::job("lib (3.13, pg)", 2).apply(jobs()));
        assert_eq!(got, Ok(vec!["lib (3.13, pg)".to_string()]));
        for (name, index) in [("lib (3.13, pg)", 0), ("lib (3.14, pg)", 2)] {
            let err = Selection::job(name, index).apply(jobs()).unwrap_err();
            assert!(err.to_string().contains("no job"), "{err}");
        }
    }
}
