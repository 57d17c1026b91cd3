//! `limits:`: the resources one job's containers may use.
//!
//! Every limit has a default, so a file without `limits:` is still sandboxed; a file
//! may raise them, never turn them off.

use super::error::SpecError;
use super::read::Reader;
use super::yaml::Node;
use std::time::Duration;

/// Keys of `limits:`.
const KEYS: &[&str] = &[
    "memory",
    "disk",
    "cpus",
    "pids",
    "no-output-timeout",
    "log-size",
    "wheelhouse",
];

/// Resource limits for a job's containers (`limits:`), each with a safe default.
///
/// ## Security
///
/// These bound what a hostile or broken test suite can take from the host: memory,
/// disk, CPU time, process count (fork bombs), silence and log volume. None can be
/// disabled from the matrix file.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Memory limit in bytes (`memory: 2g`). Default 2 GiB; at least 6 MiB, Docker's
    /// minimum.
    pub memory: u64,
    /// Most bytes a job may write (`disk: 2g`): its work tree, venv and test output under
    /// `/work`; `/tmp` and its home directory hold up to 512 MiB each within it. Default
    /// 2 GiB; at least 16 MiB. The job's root filesystem is read-only, and these areas
    /// are memory (tmpfs): the container's memory limit is `memory + disk`. A full
    /// area answers "No space left on device", and the job ends `limit-exceeded`.
    pub disk: u64,
    /// CPUs (`cpus: 1.5`). Default 1; from 0.01 to 1024.
    pub cpus: f64,
    /// Most processes at once (`pids: 512`), against fork bombs. Default 512; from 1
    /// to 1,000,000.
    pub pids: i64,
    /// Kill the job when it prints nothing for this long (`no-output-timeout: 5m`).
    /// Default 10 minutes.
    pub no_output_timeout: Duration,
    /// Most bytes of log kept per job (`log-size: 4m`); the rest is cut from the
    /// middle. Default 4 MiB; at least 1 KiB.
    pub log_size: u64,
    /// Most bytes of the wheels the prepare phase may fetch and build for a job
    /// (`wheelhouse: 2g`). Default 2 GiB; at least 16 MiB. The prepare containers
    /// write into a tmpfs of this size, and their `/tmp` holds as much again (pip
    /// downloads there first): their memory limit is `memory + disk + 2 × wheelhouse`
    /// and their home's size. Only a completed wheelhouse is copied into its volume;
    /// past the cap the job ends `limit-exceeded`, its log saying the cap was hit.
    pub wheelhouse: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 2 << 30,
            disk: 2 << 30,
            cpus: 1.0,
            pids: 512,
            no_output_timeout: Duration::from_secs(600),
            log_size: 4 << 20,
            wheelhouse: 2 << 30,
        }
    }
}

impl Limits {
    /// Reads `limits:`; keys not given keep their defaults.
    pub(super) fn parse(r: &Reader<'_>, node: &Node) -> Result<Limits, SpecError> {
        let map = r.map("limits", node)?;
        r.check_keys(map, KEYS)?;
        let mut limits = Limits::default();
        for (key, entry) in map {
            let what = format!("limits.{key}");
            let value = &entry.value;
            match key.as_str() {
                "memory" => limits.memory = r.size(&what, value, 6 << 20, "6m")?,
                "disk" => limits.disk = r.size(&what, value, 16 << 20, "16m")?,
                "cpus" => limits.cpus = r.number(&what, value, 0.01, 1024.0)?,
                "pids" => limits.pids = r.int(&what, value, 1, 1_000_000)?,
                "no-output-timeout" => limits.no_output_timeout = r.duration(&what, value)?,
                "log-size" => limits.log_size = r.size(&what, value, 1 << 10, "1k")?,
                "wheelhouse" => limits.wheelhouse = r.size(&what, value, 16 << 20, "16m")?,
                // check_keys let nothing else through.
                _ => {}
            }
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::yaml;
    use std::path::Path;

    fn parse(text: &str) -> Result<Limits, String> {
        let root = yaml::parse(text).unwrap().unwrap();
        let r = Reader {
            file: Path::new("f"),
        };
        Limits::parse(&r, &root.map().unwrap()["limits"].value).map_err(|e| e.message)
    }

    #[test]
    fn keys_left_out_keep_their_defaults() {
        let cases = [
            ("limits: {}", Limits::default()),
            (
                "limits: {memory: 512m}",
                Limits {
                    memory: 512 << 20,
                    ..Limits::default()
                },
            ),
            (
                "limits: {disk: 64m}",
                Limits {
                    disk: 64 << 20,
                    ..Limits::default()
                },
            ),
            (
                "limits: {wheelhouse: 64m}",
                Limits {
                    wheelhouse: 64 << 20,
                    ..Limits::default()
                },
            ),
            (
                "limits: {cpus: 2, pids: 64, log-size: 64k, no-output-timeout: 90}",
                Limits {
                    cpus: 2.0,
                    pids: 64,
                    log_size: 64 << 10,
                    no_output_timeout: Duration::from_secs(90),
                    ..Limits::default()
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn limits_cannot_be_switched_off() {
        let cases = [
            (
                "limits: {pids: 0}",
                "`limits.pids` must be a whole number from 1 to 1000000, found `0`",
            ),
            ("limits: {memory: 0}", "`limits.memory` must be at least 6m"),
            ("limits: {disk: 1m}", "`limits.disk` must be at least 16m"),
            (
                "limits: {wheelhouse: 1m}",
                "`limits.wheelhouse` must be at least 16m",
            ),
            (
                "limits: {no-output-timeout: 0}",
                "`limits.no-output-timeout` must be longer than 0s",
            ),
            (
                "limits: {log-size: 10}",
                "`limits.log-size` must be at least 1k",
            ),
            (
                "limits: {cpus: .nan}",
                "`limits.cpus` must be a number from 0.01 to 1024, found `.nan`",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
    }
}
