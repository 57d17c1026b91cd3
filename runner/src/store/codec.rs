//! How outcome values are spelled in the database: statuses as their names, a matrix
//! combination as a JSON object, phases and images as JSON objects, logs compressed.
//!
//! Pure: values in, values out. The reverse directions treat what they read as outside
//! input (a database another version wrote, or a hand-edited row) and fail with
//! [`CodecError`] instead of panicking.

use crate::matrix::{Combination, Value};
use crate::outcome::Status;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use indexmap::IndexMap;
use std::io::{Read, Write};

/// The `logs.encoding` this version writes: a zlib stream (flate2's deflate).
pub const LOG_ENCODING: &str = "deflate";

/// Logs are capped by the executor, but a corrupt or hostile row must not make us
/// inflate gigabytes: decompression stops here.
pub const MAX_LOG_BYTES: u64 = 256 << 20;

/// A value in the store that this version cannot read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A status name no version of ponyswarm writes.
    #[error("unknown status {0:?}")]
    Status(String),
    /// A JSON column that does not hold what it should.
    #[error("bad {what}: {why}")]
    Json {
        /// Which column.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A state name no version of ponyswarm writes.
    #[error("unknown state {0:?}")]
    State(String),
    /// A log that does not inflate, or in an encoding this version does not know.
    #[error("unreadable log: {0}")]
    Log(String),
}

/// A job's state as the `jobs.status` column spells it: a [`Status`] once the job ended,
/// or one of the states before that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Planned at the start of the run, not started yet.
    Pending,
    /// Started and not ended.
    Running,
    /// Its run died before it ended (see `Store::mark_interrupted`).
    Interrupted,
    /// Ended with this status.
    Ended(Status),
}

impl JobState {
    /// The column's text.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Interrupted => "interrupted",
            JobState::Ended(status) => status.as_str(),
        }
    }

    /// Reads the column's text.
    pub fn parse(text: &str) -> Result<JobState, CodecError> {
        Ok(match text {
            "pending" => JobState::Pending,
            "running" => JobState::Running,
            "interrupted" => JobState::Interrupted,
            _ => JobState::Ended(parse_status(text)?),
        })
    }
}

/// Reads a status name (`install-failed`, …) as results.json spells it.
pub fn parse_status(text: &str) -> Result<Status, CodecError> {
    // Status's serde names are the one definition of the spelling; reuse them.
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| CodecError::Status(text.to_string()))
}

/// A combination as a JSON object text, axis order and YAML types kept.
pub fn matrix_to_json(matrix: &Combination) -> String {
    // A map of scalars always serializes; the fallback only keeps this total.
    serde_json::to_string(matrix).unwrap_or_else(|_| "{}".to_string())
}

/// Reads a combination back from its JSON object text.
pub fn matrix_from_json(text: &str) -> Result<Combination, CodecError> {
    let bad = |why: String| CodecError::Json {
        what: "matrix",
        why,
    };
    // Into an IndexMap, not a `serde_json::Value`: that one sorts its keys, and the
    // axis order is part of the matrix.
    let map: IndexMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    combination_from_json(map).map_err(bad)
}

/// A combination from a JSON object of scalars (results.json's `matrix`), in its order.
///
/// Written here rather than derived because [`Value`] has no `Deserialize` yet; numbers
/// that fit an `i64` are integers, other numbers floats, as the YAML parser types them.
pub fn combination_from_json(
    map: IndexMap<String, serde_json::Value>,
) -> Result<Combination, String> {
    map.into_iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::String(s) => Value::Str(s),
                serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Value::Int(i),
                    (None, Some(x)) => Value::Float(x),
                    (None, None) => return Err(format!("{key}: number {n} out of range")),
                },
                other => return Err(format!("{key}: expected a scalar, found {other}")),
            };
            Ok((key, value))
        })
        .collect()
}

/// A JSON object column (`phases`, `images`) as an ordered map.
pub fn map_from_json<T>(what: &'static str, text: &str) -> Result<IndexMap<String, T>, CodecError>
where
    T: serde::de::DeserializeOwned,
{
    serde_json::from_str(text).map_err(|e| CodecError::Json {
        what,
        why: e.to_string(),
    })
}

/// An ordered map as a JSON object column.
pub fn map_to_json<T: serde::Serialize>(map: &IndexMap<String, T>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_string())
}

/// A log compressed for the `logs` table.
pub fn compress_log(log: &str) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(log.as_bytes());
    encoder.finish().unwrap_or_default()
}

/// A log read back from the `logs` table; invalid UTF-8 is replaced, as when it was
/// captured.
pub fn decompress_log(encoding: &str, data: &[u8]) -> Result<String, CodecError> {
    if encoding != LOG_ENCODING {
        return Err(CodecError::Log(format!("unknown encoding {encoding:?}")));
    }
    let mut out = Vec::new();
    ZlibDecoder::new(data)
        .take(MAX_LOG_BYTES)
        .read_to_end(&mut out)
        .map_err(|e| CodecError::Log(e.to_string()))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_round_trip() {
        let states = [
            JobState::Pending,
            JobState::Running,
            JobState::Interrupted,
            JobState::Ended(Status::Passed),
            JobState::Ended(Status::InstallFailed),
            JobState::Ended(Status::LimitExceeded),
            JobState::Ended(Status::Cancelled),
        ];
        for state in states {
            assert_eq!(JobState::parse(state.as_str()), Ok(state), "{state:?}");
        }
        assert_eq!(
            JobState::parse("exploded"),
            Err(CodecError::Status("exploded".into()))
        );
    }

    #[test]
    fn matrix_keeps_order_and_types() {
        let cases = [
            r#"{"python":"3.12","django":5.1,"workers":4,"debug":true,"extra":null}"#,
            r#"{"z":"last first","a":"1"}"#,
            r#"{}"#,
        ];
        for text in cases {
            let matrix = matrix_from_json(text).expect(text);
            // Text equality, not map equality: IndexMap's `==` ignores order.
            assert_eq!(matrix_to_json(&matrix), text);
        }
        let typed = matrix_from_json(r#"{"n":12,"x":1.5,"big":1e300}"#).expect("parses");
        assert_eq!(typed["n"], Value::Int(12));
        assert_eq!(typed["x"], Value::Float(1.5));
        assert_eq!(typed["big"], Value::Float(1e300));
    }

    #[test]
    fn bad_matrices_are_errors() {
        let cases = [
            ("[1, 2]", "expected a map"),
            (r#"{"a": [1]}"#, "a: expected a scalar"),
            (r#"{"a": {"b": 1}}"#, "a: expected a scalar"),
            ("{", "EOF"),
        ];
        for (text, want) in cases {
            let err = matrix_from_json(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn logs_round_trip_and_shrink() {
        let log = "\x1b[32mok\x1b[0m test_a\n".repeat(1000) + "héllo ✓";
        let packed = compress_log(&log);
        assert!(packed.len() < log.len() / 10, "{} bytes", packed.len());
        assert_eq!(decompress_log(LOG_ENCODING, &packed), Ok(log));
        assert_eq!(
            decompress_log(LOG_ENCODING, &compress_log("")),
            Ok(String::new())
        );
    }

    #[test]
    fn bad_logs_are_errors() {
        assert!(decompress_log(LOG_ENCODING, b"not zlib").is_err());
        assert!(decompress_log("zstd", &compress_log("x")).is_err());
    }
}
