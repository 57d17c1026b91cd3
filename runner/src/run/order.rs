//! The order a run's jobs take the free slots in: the first job of each environment
//! before the second of any, so that a cold run fills the wheelhouses and builds the
//! environments of different Pythons at once.
//!
//! Jobs with the same Python, install commands and `files:` share one wheelhouse and
//! one environment (`run::prepare`, `run::environment`), built by the first of them
//! while the others wait. In plan order, a matrix of Pythons × variants puts jobs of
//! one Python side by side: with two slots, both waited for the same build, and the
//! builds of a cold run went one Python after another. Interleaved, every slot builds
//! (or uses) a different environment, and the jobs that would only wait come last,
//! when their environment is ready.
//!
//! Pure: no I/O. Only the order jobs *start* in changes; results, progress and reports
//! stay in plan order.

use crate::plan::JobPlan;

/// What makes two jobs share their wheelhouse and environment, as far as the plan
/// tells: Python image, install commands, prepare commands, `files:`.
type Group<'a> = (
    &'a str,
    &'a [String],
    Option<&'a [String]>,
    Vec<(&'a str, &'a str)>,
);

/// The [`Group`] of `plan` (the image's id and the dependency files are the same
/// within a run).
fn group(plan: &JobPlan) -> Group<'_> {
    (
        &plan.python_image,
        &plan.install,
        plan.prepare.as_deref(),
        plan.files
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    )
}

/// The positions of `plans` in the order they should start: by their rank within
/// their group (first of each group, then second, …), plan order among equals.
pub fn dispatch_order(plans: &[JobPlan]) -> Vec<usize> {
    let groups: Vec<_> = plans.iter().map(group).collect();
    let rank: Vec<usize> = (0..plans.len())
        .map(|i| groups[..i].iter().filter(|g| **g == groups[i]).count())
        .collect();
    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.sort_by_key(|&i| rank[i]);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{from_spec, Selection};

    fn plans(yaml: &str) -> Vec<JobPlan> {
        let spec =
            crate::matrix::Spec::parse(std::path::Path::new("ponyswarm.yaml"), yaml).expect("spec");
        from_spec(spec, &Selection::default()).expect("plans").jobs
    }

    #[test]
    fn jobs_start_one_environment_of_each_before_a_second_of_any() {
        let cases: &[(&str, &[usize])] = &[
            // 3.9-a 3.9-b 3.9-c 3.11-a 3.11-b 3.11-c
            (
                "name: t\nmatrix:\n  python: ['3.9', '3.11']\n  variant: [a, b, c]\ntest: pytest\n",
                &[0, 3, 1, 4, 2, 5],
            ),
            // One environment: plan order.
            (
                "name: t\npython: '3.11'\nmatrix:\n  variant: [a, b, c]\ntest: pytest\n",
                &[0, 1, 2],
            ),
            // Install commands that differ make environments of their own.
            (
                "name: t\npython: '3.11'\nmatrix:\n  dep: [x, x, y]\ninstall:\n  - pip install ${{ matrix.dep }}\ntest: pytest\n",
                &[0, 2, 1],
            ),
        ];
        for (yaml, want) in cases {
            let plans = plans(yaml);
            let got: Vec<usize> = dispatch_order(&plans)
                .into_iter()
                .map(|i| plans[i].job.index)
                .collect();
            assert_eq!(&got, want, "{yaml}");
        }
    }
}
