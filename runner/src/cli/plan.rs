//! `ponyswarm plan FILE [--json]`: what a matrix file expands to, without Docker.

use super::Failure;
use ponyswarm::matrix::{self, Job, Spec};
use std::path::Path;
use std::process::ExitCode;

/// Loads and expands `file`, keeping the jobs `filters` select.
pub fn load_jobs(file: &Path, filters: &[String]) -> Result<(Spec, Vec<Job>), Failure> {
    let spec = matrix::load(file).map_err(|e| Failure::BadInput(e.to_string()))?;
    let jobs = matrix::expand(&spec).map_err(|e| Failure::BadInput(e.to_string()))?;
    let jobs = filter_jobs(jobs, filters)?;
    Ok((spec, jobs))
}

/// `--filter KEY=VALUE`: AND across keys, OR among values given for the same key.
fn filter_jobs(jobs: Vec<Job>, filters: &[String]) -> Result<Vec<Job>, Failure> {
    let mut wanted: indexmap::IndexMap<&str, Vec<&str>> = indexmap::IndexMap::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Failure::BadInput(format!("--filter wants KEY=VALUE, got `{f}`")))?;
        wanted.entry(k).or_default().push(v);
    }
    for key in wanted.keys() {
        if !jobs.iter().any(|j| j.matrix.contains_key(*key)) {
            return Err(Failure::BadInput(format!(
                "--filter: no job has the matrix key `{key}`"
            )));
        }
    }
    let kept: Vec<Job> = jobs
        .into_iter()
        .filter(|j| {
            wanted.iter().all(|(k, vs)| {
                j.matrix
                    .get(*k)
                    .is_some_and(|v| vs.contains(&v.to_string().as_str()))
            })
        })
        .collect();
    if kept.is_empty() {
        return Err(Failure::BadInput("--filter selects no job".into()));
    }
    Ok(kept)
}

pub fn plan(file: &Path, json: bool, filters: &[String]) -> Result<ExitCode, Failure> {
    let (spec, jobs) = load_jobs(file, filters)?;
    if json {
        let text =
            serde_json::to_string_pretty(&jobs).map_err(|e| Failure::Infra(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", table(&spec, &jobs));
    }
    Ok(ExitCode::SUCCESS)
}

/// A plain-text table: one row per job, one column per matrix key.
fn table(spec: &Spec, jobs: &[Job]) -> String {
    let mut keys: Vec<&str> = Vec::new();
    for j in jobs {
        for k in j.matrix.keys() {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    // The interpreter gets its own column only when no axis already says it.
    let python_column = !keys.contains(&"python");
    let mut header = vec!["#".to_string()];
    header.extend(keys.iter().map(|k| k.to_string()));
    if python_column {
        header.push("python".into());
    }
    header.extend(["services".into(), "".into()]);
    let mut rows = vec![header];
    for j in jobs {
        let mut row = vec![(j.index + 1).to_string()];
        row.extend(
            keys.iter()
                .map(|k| j.matrix.get(*k).map(|v| v.to_string()).unwrap_or_default()),
        );
        if python_column {
            row.push(j.python.clone());
        }
        row.push(if j.services.is_empty() {
            "-".into()
        } else {
            j.services.join(",")
        });
        row.push(if j.allow_failure {
            "(may fail)".into()
        } else {
            String::new()
        });
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{}: {} job{}\n",
        spec.name,
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" }
    );
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
