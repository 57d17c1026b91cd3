//! The most a machine lets any job take, whatever its matrix asks: `limits:` and
//! `timeout:` are clamped to a [`Ceiling`] before a job runs, and each clamp is said in
//! the job's log, never silently.
//!
//! `ponyswarm run` uses [`Ceiling::for_this_machine`], lowered by its `--max-KEY`
//! options (the host's owner decides); an agent takes the lower of that and its
//! config's `[limits]` (a volunteer decides what its machine gives). Both name the
//! maxima by [`CEILING_KEYS`] and read them with [`Ceiling::lower`], with the parsers
//! and the minimums of the matrix's `limits:`.
//!
//! Pure, but for [`Ceiling::for_this_machine`] asking how many CPUs there are.

use super::Limits;
use crate::untar::human_bytes;
use std::time::Duration;

/// The name of every maximum, as an agent's `[limits]` key and as `ponyswarm run
/// --max-KEY`: the matrix's `limits:` keys and `timeout`.
pub const CEILING_KEYS: &[&str] = &[
    "memory",
    "disk",
    "cpus",
    "pids",
    "timeout",
    "no-output-timeout",
    "log-size",
    "wheelhouse",
];

/// Maxima for every limit of a job.
///
/// ## Security
/// A matrix comes from whoever submits it; without a ceiling, `memory: 1t`, `pids:
/// 1000000` or `timeout: 30d` would be applied as given. The defaults are generous for
/// a test suite and far from a machine's end.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// Most memory, bytes. Default 16 GiB.
    pub memory: u64,
    /// Most disk (the writable areas, held in memory), bytes. Default 16 GiB.
    pub disk: u64,
    /// Most CPUs. Default: this machine's (Docker refuses more).
    pub cpus: f64,
    /// Most processes. Default 4,096.
    pub pids: i64,
    /// Longest job. Default 6 hours.
    pub timeout: Duration,
    /// Longest silence. Default 1 hour.
    pub no_output_timeout: Duration,
    /// Most log kept, bytes. Default 64 MiB.
    pub log_size: u64,
    /// Largest wheelhouse (held in memory while it fills), bytes. Default 16 GiB.
    pub wheelhouse: u64,
}

impl Ceiling {
    /// The defaults, with this machine's CPU count.
    pub fn for_this_machine() -> Ceiling {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Ceiling {
            cpus: cpus as f64,
            ..Ceiling::fixed()
        }
    }

    /// The defaults, with 16 CPUs (for tests and for combining).
    pub fn fixed() -> Ceiling {
        Ceiling {
            memory: 16 << 30,
            disk: 16 << 30,
            cpus: 16.0,
            pids: 4096,
            timeout: Duration::from_secs(6 * 3600),
            no_output_timeout: Duration::from_secs(3600),
            log_size: 64 << 20,
            wheelhouse: 16 << 30,
        }
    }

    /// Lowers the maximum named `key` (one of [`CEILING_KEYS`]) to `value`, written as
    /// the matrix writes that limit (`8g`, `1.5`, `512`, `2h`); never raises it. `Err`
    /// says what the value must be (`a size of at least 6m, like 8g or 512m`), or that
    /// the key is unknown.
    pub fn lower(&mut self, key: &str, value: &str) -> Result<(), String> {
        let size = |min: u64, min_text: &str| {
            super::parse_size(value)
                .filter(|&n| n >= min)
                .ok_or_else(|| format!("a size of at least {min_text}, like 8g or 512m"))
        };
        let duration = || {
            crate::time::parse_duration(value)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| "a duration longer than 0s, like 2h or 30m".to_string())
        };
        // The bounds of the matrix's `limits:` (matrix::limits): a ceiling under them
        // would lower a job's limit below what Docker takes.
        match key {
            "memory" => self.memory = self.memory.min(size(6 << 20, "6m")?),
            "disk" => self.disk = self.disk.min(size(16 << 20, "16m")?),
            "log-size" => self.log_size = self.log_size.min(size(1 << 10, "1k")?),
            "wheelhouse" => self.wheelhouse = self.wheelhouse.min(size(16 << 20, "16m")?),
            "timeout" => self.timeout = self.timeout.min(duration()?),
            "no-output-timeout" => self.no_output_timeout = self.no_output_timeout.min(duration()?),
            "cpus" => {
                let n = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| (0.01..=1024.0).contains(n))
                    .ok_or("a number from 0.01 to 1024")?;
                self.cpus = self.cpus.min(n);
            }
            "pids" => {
                let n = value
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or("a whole number from 1 to 1000000")?;
                self.pids = self.pids.min(n);
            }
            other => return Err(format!("{other:?} is not a limit: one of {CEILING_KEYS:?}")),
        }
        Ok(())
    }

    /// The lower of `self` and `other`, limit by limit.
    pub fn min(&self, other: &Ceiling) -> Ceiling {
        Ceiling {
            memory: self.memory.min(other.memory),
            disk: self.disk.min(other.disk),
            cpus: self.cpus.min(other.cpus),
            pids: self.pids.min(other.pids),
            timeout: self.timeout.min(other.timeout),
            no_output_timeout: self.no_output_timeout.min(other.no_output_timeout),
            log_size: self.log_size.min(other.log_size),
            wheelhouse: self.wheelhouse.min(other.wheelhouse),
        }
    }

    /// Lowers `limits` and `timeout` to this ceiling; one line per limit lowered, for
    /// the job's log.
    pub fn clamp(&self, limits: &mut Limits, timeout: &mut Duration) -> Vec<String> {
        let mut said = Vec::new();
        let mut lower = |name: &str, asked: String, max: String| {
            said.push(format!(
                "{name}: {asked} asked, lowered to this machine's maximum, {max}"
            ));
        };
        if limits.memory > self.memory {
            lower(
                "limits.memory",
                human_bytes(limits.memory),
                human_bytes(self.memory),
            );
            limits.memory = self.memory;
        }
        if limits.disk > self.disk {
            lower(
                "limits.disk",
                human_bytes(limits.disk),
                human_bytes(self.disk),
            );
            limits.disk = self.disk;
        }
        if limits.cpus > self.cpus {
            lower(
                "limits.cpus",
                limits.cpus.to_string(),
                self.cpus.to_string(),
            );
            limits.cpus = self.cpus;
        }
        if limits.pids > self.pids {
            lower(
                "limits.pids",
                limits.pids.to_string(),
                self.pids.to_string(),
            );
            limits.pids = self.pids;
        }
        if *timeout > self.timeout {
            lower("timeout", secs(*timeout), secs(self.timeout));
            *timeout = self.timeout;
        }
        if limits.no_output_timeout > self.no_output_timeout {
            let (asked, max) = (secs(limits.no_output_timeout), secs(self.no_output_timeout));
            lower("limits.no-output-timeout", asked, max);
            limits.no_output_timeout = self.no_output_timeout;
        }
        if limits.log_size > self.log_size {
            lower(
                "limits.log-size",
                human_bytes(limits.log_size),
                human_bytes(self.log_size),
            );
            limits.log_size = self.log_size;
        }
        if limits.wheelhouse > self.wheelhouse {
            lower(
                "limits.wheelhouse",
                human_bytes(limits.wheelhouse),
                human_bytes(self.wheelhouse),
            );
            limits.wheelhouse = self.wheelhouse;
        }
        said
    }
}

impl Default for Ceiling {
    fn default() -> Self {
        Ceiling::for_this_machine()
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxima_are_read_as_the_matrix_writes_limits_and_only_lower() {
        type Check = fn(&Ceiling) -> bool;
        let cases: &[(&str, &str, Check)] = &[
            ("memory", "4g", |c| c.memory == 4 << 30),
            ("memory", "64g", |c| c.memory == 16 << 30),
            ("disk", "512m", |c| c.disk == 512 << 20),
            ("log-size", "1k", |c| c.log_size == 1 << 10),
            ("wheelhouse", "1g", |c| c.wheelhouse == 1 << 30),
            ("wheelhouse", "64g", |c| c.wheelhouse == 16 << 30),
            ("cpus", "0.5", |c| c.cpus == 0.5),
            ("cpus", "99", |c| c.cpus == 16.0),
            ("pids", "100", |c| c.pids == 100),
            ("timeout", "1h30m", |c| {
                c.timeout == Duration::from_secs(5400)
            }),
            ("timeout", "90", |c| c.timeout == Duration::from_secs(90)),
            ("no-output-timeout", "5m", |c| {
                c.no_output_timeout == Duration::from_secs(300)
            }),
        ];
        for (key, value, check) in cases {
            let mut c = Ceiling::fixed();
            c.lower(key, value).unwrap();
            assert!(check(&c), "{key} = {value}: {c:?}");
        }
        let refused = [
            ("memory", "lots", "a size of at least 6m, like 8g or 512m"),
            ("memory", "1m", "a size of at least 6m, like 8g or 512m"),
            ("disk", "1m", "a size of at least 16m, like 8g or 512m"),
            ("log-size", "0", "a size of at least 1k, like 8g or 512m"),
            (
                "wheelhouse",
                "8m",
                "a size of at least 16m, like 8g or 512m",
            ),
            ("cpus", "0", "a number from 0.01 to 1024"),
            ("cpus", "many", "a number from 0.01 to 1024"),
            ("pids", "0", "a whole number from 1 to 1000000"),
            ("pids", "1.5", "a whole number from 1 to 1000000"),
            ("timeout", "0s", "a duration longer than 0s, like 2h or 30m"),
            (
                "no-output-timeout",
                "soon",
                "a duration longer than 0s, like 2h or 30m",
            ),
        ];
        for (key, value, want) in refused {
            let mut c = Ceiling::fixed();
            assert_eq!(
                c.lower(key, value),
                Err(want.to_string()),
                "{key} = {value}"
            );
            assert_eq!(c, Ceiling::fixed(), "unchanged by a refused value");
        }
        assert!(Ceiling::fixed().lower("swap", "1g").is_err());
        for key in CEILING_KEYS {
            assert!(
                !matches!(Ceiling::fixed().lower(key, "x"), Err(e) if e.contains("not a limit")),
                "{key}"
            );
        }
    }

    #[test]
    fn every_limit_over_the_ceiling_is_lowered_and_said() {
        let ceiling = Ceiling::fixed();
        let mut limits = Limits {
            memory: 1 << 40,
            disk: 32 << 30,
            cpus: 64.0,
            pids: 1_000_000,
            no_output_timeout: Duration::from_secs(86_400),
            log_size: 1 << 30,
            wheelhouse: 64 << 30,
        };
        let mut timeout = Duration::from_secs(30 * 86_400);
        let said = ceiling.clamp(&mut limits, &mut timeout);
        assert_eq!(limits.memory, 16 << 30);
        assert_eq!(limits.disk, 16 << 30);
        assert_eq!(limits.cpus, 16.0);
        assert_eq!(limits.pids, 4096);
        assert_eq!(limits.no_output_timeout, Duration::from_secs(3600));
        assert_eq!(limits.log_size, 64 << 20);
        assert_eq!(limits.wheelhouse, 16 << 30);
        assert_eq!(timeout, Duration::from_secs(6 * 3600));
        assert_eq!(said.len(), 8, "{said:?}");
        assert_eq!(
            said[0],
            "limits.memory: 1024 GiB asked, lowered to this machine's maximum, 16 GiB"
        );
        assert!(
            said[4].starts_with("timeout: 2592000s asked"),
            "{}",
            said[4]
        );
    }

    #[test]
    fn limits_within_the_ceiling_are_left_alone() {
        let mut limits = Limits::default();
        let mut timeout = Duration::from_secs(1800);
        let said = Ceiling::fixed().clamp(&mut limits, &mut timeout);
        assert!(said.is_empty(), "{said:?}");
        assert_eq!(limits, Limits::default());
    }

    #[test]
    fn the_lower_ceiling_wins_limit_by_limit() {
        let agent = Ceiling {
            memory: 4 << 30,
            cpus: 32.0,
            ..Ceiling::fixed()
        };
        let both = agent.min(&Ceiling::fixed());
        assert_eq!(both.memory, 4 << 30);
        assert_eq!(both.cpus, 16.0);
    }
}
