//! The matrix as grids: the axis with the most values on the rows, the next on the
//! columns, one grid per combination of the other axes; each cell holds the jobs with
//! those values (one, in a full matrix; none where an `exclude` removed it).
//!
//! Rows are the longer axis because pages scroll down, not across. Axes with a single
//! value split nothing and are only used when nothing else is left.
//!
//! Pure: job matrices in, a layout out.

use crate::outcome::JobOutcome;

/// The layout of a run's jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// The axis on the rows; `None` for a matrix without axes.
    pub row_axis: Option<String>,
    /// The axis on the columns; `None` when there is at most one axis.
    pub col_axis: Option<String>,
    /// The other axes, which split the jobs into groups.
    pub group_axes: Vec<String>,
    /// One grid per combination of the group axes, in first-seen order.
    pub groups: Vec<Group>,
}

/// One grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group axes' values (`""` where a job lacks the axis), in `group_axes` order.
    pub values: Vec<String>,
    /// Row values present in this group, in first-seen order (`""`: no such axis).
    pub rows: Vec<String>,
    /// Column values present in this group, in first-seen order.
    pub cols: Vec<String>,
    /// `cells[row][col]`: indexes of the jobs there, in job order.
    pub cells: Vec<Vec<Vec<usize>>>,
}

/// Lays out `jobs` (see the module comment).
pub fn layout(jobs: &[JobOutcome]) -> Grid {
    let axes = super::attribution::axes(jobs);
    let text =
        |job: &JobOutcome, axis: &str| job.matrix.get(axis).map(|v| v.text()).unwrap_or_default();
    // Axes by how many values they have, most first; ties keep matrix order.
    let mut ranked: Vec<(usize, &String)> = axes
        .iter()
        .map(|a| (distinct(jobs.iter().map(|j| text(j, a))).len(), a))
        .collect();
    ranked.sort_by_key(|&(n, _)| std::cmp::Reverse(n));
    let row_axis = ranked.first().map(|(_, a)| (*a).clone());
    let col_axis = ranked.get(1).map(|(_, a)| (*a).clone());
    let group_axes: Vec<String> = axes
        .iter()
        .filter(|a| Some(*a) != row_axis.as_ref() && Some(*a) != col_axis.as_ref())
        .cloned()
        .collect();

    let mut groups: Vec<Group> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let values: Vec<String> = group_axes.iter().map(|a| text(job, a)).collect();
        match groups.iter().position(|g| g.values == values) {
            Some(g) => members[g].push(i),
            None => {
                groups.push(Group {
                    values,
                    rows: Vec::new(),
                    cols: Vec::new(),
                    cells: Vec::new(),
                });
                members.push(vec![i]);
            }
        }
    }
    let value = |job: &JobOutcome, axis: &Option<String>| {
        axis.as_deref().map(|a| text(job, a)).unwrap_or_default()
    };
    for (group, members) in groups.iter_mut().zip(&members) {
        group.rows = distinct(members.iter().map(|&i| value(&jobs[i], &row_axis)));
        group.cols = distinct(members.iter().map(|&i| value(&jobs[i], &col_axis)));
        group.cells = vec![vec![Vec::new(); group.cols.len()]; group.rows.len()];
        for &i in members {
            let r = group
                .rows
                .iter()
                .position(|v| *v == value(&jobs[i], &row_axis));
            let c = group
                .cols
                .iter()
                .position(|v| *v == value(&jobs[i], &col_axis));
            if let (Some(r), Some(c)) = (r, c) {
                group.cells[r][c].push(i);
            }
        }
    }
    Grid {
        row_axis,
        col_axis,
        group_axes,
        groups,
    }
}

/// The distinct values, in first-seen order.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{Combination, Value};
    use crate::outcome::Status;

    /// Jobs from rows like `"python=3.12 db=pg"`.
    fn jobs(rows: &[&str]) -> Vec<JobOutcome> {
        rows.iter()
            .map(|row| {
                let matrix: Combination = row
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
                    .collect();
                JobOutcome::new(*row, matrix, Status::Passed)
            })
            .collect()
    }

    #[test]
    fn longest_axis_on_rows_the_rest_grouped() {
        let g = layout(&jobs(&[
            "db=pg python=3.11 django=5.0",
            "db=pg python=3.11 django=5.1",
            "db=pg python=3.12 django=5.0",
            "db=pg python=3.12 django=5.1",
            "db=pg python=3.13 django=5.0",
            "db=pg python=3.13 django=5.1",
            "db=maria python=3.11 django=5.0",
            "db=maria python=3.12 django=5.1",
        ]));
        assert_eq!(g.row_axis.as_deref(), Some("python"));
        assert_eq!(g.col_axis.as_deref(), Some("db"));
        assert_eq!(g.group_axes, ["django"]);
        assert_eq!(g.groups.len(), 2);
        let first = &g.groups[0];
        assert_eq!(first.values, ["5.0"]);
        assert_eq!(first.rows, ["3.11", "3.12", "3.13"]);
        assert_eq!(first.cols, ["pg", "maria"]);
        assert_eq!(
            first.cells,
            vec![
                vec![vec![0], vec![6]],
                vec![vec![2], vec![]],
                vec![vec![4], vec![]]
            ]
        );
        assert_eq!(g.groups[1].cells[1], vec![vec![3], vec![7]]);
    }

    #[test]
    fn small_matrices() {
        /// Jobs, then the wanted row axis, column axis, groups, cells of group 0.
        type Case = (
            &'static [&'static str],
            Option<&'static str>,
            Option<&'static str>,
            usize,
            Vec<Vec<Vec<usize>>>,
        );
        let cases: Vec<Case> = vec![
            (&["one"], None, None, 1, vec![vec![vec![0]]]),
            (
                &["python=3.12", "python=3.13"],
                Some("python"),
                None,
                1,
                vec![vec![vec![0]], vec![vec![1]]],
            ),
            (
                &["os=linux python=3.12", "os=linux python=3.13"],
                Some("python"),
                Some("os"),
                1,
                vec![vec![vec![0]], vec![vec![1]]],
            ),
            (
                // An include added a job without the python axis.
                &["python=3.12", "python=3.13", "docs=yes"],
                Some("python"),
                Some("docs"),
                1,
                vec![
                    vec![vec![0], vec![]],
                    vec![vec![1], vec![]],
                    vec![vec![], vec![2]],
                ],
            ),
            (
                // Two jobs with the same values (an include duplicating a combination).
                &["python=3.12", "python=3.12"],
                Some("python"),
                None,
                1,
                vec![vec![vec![0, 1]]],
            ),
        ];
        for (rows, row_axis, col_axis, groups, cells) in cases {
            let g = layout(&jobs(rows));
            assert_eq!(g.row_axis.as_deref(), row_axis, "{rows:?}");
            assert_eq!(g.col_axis.as_deref(), col_axis, "{rows:?}");
            assert_eq!(g.groups.len(), groups, "{rows:?}");
            assert_eq!(g.groups[0].cells, cells, "{rows:?}");
        }
        assert!(layout(&[]).groups.is_empty());
    }
}
