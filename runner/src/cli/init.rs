//! `ponyswarm init [DIR]`: writes `DIR/ponyswarm.yaml` from the project's GitHub
//! Actions workflows or tox.ini, and prints what it could not translate.

use super::CliError;
use ponyswarm::init::{self, InitError};
use std::path::Path;
use std::process::ExitCode;

/// Translates `dir`'s CI configuration (or `from`) into `dir/ponyswarm.yaml`, or prints
/// it with `stdout`; an existing file is kept unless `force`.
pub fn init(
    dir: &Path,
    from: Option<&Path>,
    stdout: bool,
    force: bool,
) -> Result<ExitCode, CliError> {
    let bad = |e: InitError| match e {
        InitError::Io { .. } => CliError::Infra(e.to_string()),
        e => CliError::BadInput(e.to_string()),
    };
    let target = dir.join("ponyswarm.yaml");
    if !stdout && !force && target.exists() {
        return Err(CliError::BadInput(format!(
            "{} exists; --force overwrites it, --stdout prints the translation instead",
            target.display()
        )));
    }
    let source = init::read_sources(dir, from).map_err(bad)?;
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".into());
    let t = init::translate(&source, &name).map_err(bad)?;
    if stdout {
        print!("{}", t.text);
    } else {
        std::fs::write(&target, &t.text)
            .map_err(|e| CliError::Infra(format!("cannot write {}: {e}", target.display())))?;
        println!(
            "wrote {} from {}: {} job{}",
            target.display(),
            t.origin,
            t.jobs,
            if t.jobs == 1 { "" } else { "s" }
        );
    }
    if !t.notes.is_empty() {
        eprintln!("not translated:");
        for note in &t.notes {
            eprintln!("  - {note}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
