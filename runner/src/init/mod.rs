//! `ponyswarm init`: a project's existing CI configuration — GitHub Actions
//! workflows (`.github/workflows/*.yml`) or `tox.ini` — turned into a
//! `ponyswarm.yaml` whose jobs are the ones that configuration runs.
//!
//! In order: [`read_sources`] reads the files (the only I/O here), a reader makes a
//! [`Draft`] of them (`workflow`, `tox`; pure), `write` turns the draft into text,
//! and [`translate`] checks that text with the matrix file's own parser and
//! expansion, so what is written is what `ponyswarm plan` accepts. What could not be
//! translated is listed, in the file and for the caller to print.
//!
//! Nothing in a workflow or tox.ini is ever run: they are read as text.

mod draft;
mod steps;
mod tox;
mod workflow;
mod write;

pub use draft::Draft;

use crate::matrix::{self, Spec};
use std::path::{Path, PathBuf};

/// Which configuration to translate.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// GitHub Actions workflows: path (for messages) and text of each.
    Workflows(Vec<(String, String)>),
    /// tox.ini's text.
    Tox(String),
}

/// Why nothing could be translated.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Neither `.github/workflows/*.yml` nor `tox.ini` is there.
    #[error("{0} has no .github/workflows/*.yml and no tox.ini to translate")]
    NothingToRead(PathBuf),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A workflow is not valid YAML.
    #[error("{file}:{line}:{col}: {message}")]
    Yaml {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// No job of the workflows runs tests or has a matrix.
    #[error("no job in {0} runs tests or has a strategy.matrix")]
    NoJob(String),
    /// The translation does not make a valid matrix file: a bug of `init`, or a
    /// configuration beyond it; the text is kept for the user to edit.
    #[error("the translation is not a valid matrix file ({message}); written as it is:\n{text}")]
    Invalid { message: String, text: String },
}

/// A translated matrix file.
#[derive(Debug, Clone)]
pub struct Translation {
    /// The text of `ponyswarm.yaml`.
    pub text: String,
    /// Where it came from: `tox.ini`, `.github/workflows/ci.yml, job test`.
    pub origin: String,
    /// What could not be translated, one sentence each (also comments in `text`).
    pub notes: Vec<String>,
    /// How many jobs it expands to.
    pub jobs: usize,
}

/// Reads what `dir` has to translate: `from` when given (a workflow file or a
/// tox.ini, relative to `dir`), else its workflows, else its tox.ini.
pub fn read_sources(dir: &Path, from: Option<&Path>) -> Result<Source, InitError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| InitError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    if let Some(from) = from {
        let text = read(&dir.join(from))?;
        return Ok(if from.file_name().is_some_and(|n| n == "tox.ini") {
            Source::Tox(text)
        } else {
            Source::Workflows(vec![(from.display().to_string(), text)])
        });
    }
    let workflows = dir.join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&workflows)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if !files.is_empty() {
        let mut out = Vec::new();
        for f in files {
            let shown = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
            out.push((shown, read(&f)?));
        }
        return Ok(Source::Workflows(out));
    }
    let tox = dir.join("tox.ini");
    if tox.is_file() {
        return Ok(Source::Tox(read(&tox)?));
    }
    Err(InitError::NothingToRead(dir.to_path_buf()))
}

/// Translates `source` into a matrix file named `name`, checked by parsing and
/// expanding it as `ponyswarm plan` would.
pub fn translate(source: &Source, name: &str) -> Result<Translation, InitError> {
    let draft = match source {
        Source::Workflows(files) => {
            let list: Vec<workflow::Workflow<'_>> = files
                .iter()
                .map(|(path, text)| workflow::Workflow { path, text })
                .collect();
            workflow::translate(&list, name)?
        }
        Source::Tox(text) => tox::translate(text, name),
    };
    let text = write::matrix_file(&draft);
    let invalid = |message: String| InitError::Invalid {
        message,
        text: text.clone(),
    };
    let spec =
        Spec::parse(Path::new("/ponyswarm.yaml"), &text).map_err(|e| invalid(e.to_string()))?;
    let jobs = matrix::expand(&spec).map_err(|e| invalid(e.to_string()))?;
    Ok(Translation {
        origin: draft.origin,
        notes: draft.notes,
        jobs: jobs.len(),
        text,
    })
}
