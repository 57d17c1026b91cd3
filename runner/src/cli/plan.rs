//! `ponyswarm plan FILE [--json]`: what a matrix file expands to, without Docker.

use super::CliError;
use ponyswarm::matrix::{self, Job, Spec};
use ponyswarm::plan::{self as plans, Selection};
use std::path::Path;
use std::process::ExitCode;

/// Prints the jobs of `file` that `filters` keep, as a table or JSON.
pub fn plan(file: &Path, json: bool, filters: &[String]) -> Result<ExitCode, CliError> {
    let bad = |e: &dyn std::fmt::Display| CliError::BadInput(e.to_string());
    let spec = matrix::load(file).map_err(|e| bad(&e))?;
    let selection = Selection::filters(filters).map_err(|e| bad(&e))?;
    let jobs = plans::select_jobs(&spec, &selection).map_err(|e| bad(&e))?;
    if json {
        let text =
            serde_json::to_string_pretty(&jobs).map_err(|e| CliError::Infra(e.to_string()))?;
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
