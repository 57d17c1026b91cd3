//! The most a machine lets any job take, whatever its matrix asks: `limits:` and
//! `timeout:` are clamped to a [`Ceiling`] before a job runs, and each clamp is said in
//! the job's log, never silently.
//!
//! `ponyswarm run` uses [`Ceiling::for_this_machine`]; an agent takes the lower of that
//! and its config's `[limits]` (a volunteer decides what its machine gives).
//!
//! Pure, but for [`Ceiling::for_this_machine`] asking how many CPUs there are.

use super::Limits;
use crate::untar::human_bytes;
use std::time::Duration;

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
