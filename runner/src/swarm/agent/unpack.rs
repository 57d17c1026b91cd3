//! A run's source, as downloaded from the coordinator: checked against the spec's
//! SHA-256, then unpacked into a fresh directory with [`crate::untar`], the unpacker the
//! coordinator uses too, so the agent refuses exactly what the coordinator refused and
//! writes nothing outside the directory (the matrix file, its templates and the test
//! detection all read from it on the agent's host). Only the limits are the agent's own.

use crate::untar::{self, Limits, UntarError};
use sha2::{Digest, Sha256};
use std::path::Path;

pub use crate::untar::safe_relative;

/// Most bytes a source may unpack to.
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// Most entries a source may hold.
pub const MAX_ENTRIES: usize = 200_000;

/// What the agent unpacks a source to at most.
pub const LIMITS: Limits = Limits {
    max_bytes: MAX_UNPACKED_BYTES,
    max_entries: MAX_ENTRIES,
};

/// The source cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The download is not what the signed spec describes.
    #[error("the source's SHA-256 is {got}, but the job spec says {want}")]
    Checksum {
        /// What the spec says.
        want: String,
        /// What was downloaded.
        got: String,
    },
    /// The directory to unpack into cannot be made.
    #[error("cannot unpack the source: {0}")]
    Io(#[from] std::io::Error),
    /// The archive is unsafe, too large, or not a tar.gz.
    #[error("the source cannot be unpacked: {0}")]
    Archive(#[from] UntarError),
}

/// Checks `bytes` against the hex SHA-256 `want` (case-insensitive).
pub fn check_sha256(bytes: &[u8], want: &str) -> Result<(), UnpackError> {
    let got = hex::encode(Sha256::digest(bytes));
    if got.eq_ignore_ascii_case(want.trim()) {
        Ok(())
    } else {
        Err(UnpackError::Checksum {
            want: want.to_string(),
            got,
        })
    }
}

/// Unpacks the tar.gz `bytes` into `dest` (an existing, empty directory), within
/// [`LIMITS`].
pub fn unpack(bytes: &[u8], dest: &Path) -> Result<(), UnpackError> {
    Ok(untar::unpack(bytes, dest, LIMITS)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_must_match() {
        let sum = hex::encode(Sha256::digest(b"abc"));
        assert!(check_sha256(b"abc", &sum).is_ok());
        assert!(check_sha256(b"abc", &sum.to_uppercase()).is_ok());
        let err = check_sha256(b"abd", &sum).unwrap_err().to_string();
        assert!(err.contains(&sum), "{err}");
    }

    #[test]
    fn not_a_tarball_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack(b"plain text", dir.path()).is_err());
    }

    #[test]
    fn a_file_claiming_more_than_the_agents_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = crate::untar::bombs::header_bomb(tar::EntryType::Regular, 2 << 30);
        let err = unpack(&bomb, dir.path()).expect_err("a bomb");
        assert!(
            matches!(err, UnpackError::Archive(UntarError::TooLarge(_))),
            "{err}"
        );
        assert!(err.to_string().contains("more than 1 GiB"), "{err}");
    }
}
