//! Errors in a matrix file, each pointing at file:line:column.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based position in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Something wrong with a matrix file: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    /// `None` when the error is about the whole file (unreadable, empty expansion of
    /// a file with no positions left to blame).
    pub pos: Option<Pos>,
    pub message: String,
}

impl SpecError {
    /// An error at `pos` in `file`.
    pub fn at(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        SpecError {
            file: file.to_path_buf(),
            pos: Some(pos),
            message: message.into(),
        }
    }

    /// An error about the whole file rather than a place in it.
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        SpecError {
            file: file.to_path_buf(),
            pos: None,
            message: message.into(),
        }
    }

    /// The file could not be read.
    pub fn io(file: &Path, err: std::io::Error) -> Self {
        SpecError {
            file: file.to_path_buf(),
            pos: None,
            message: format!("cannot read the file: {err}"),
        }
    }
}

impl fmt::Display for SpecError {
    /// `file:line:col: message`, the form editors and terminals link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                p.line,
                p.col,
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for SpecError {}
