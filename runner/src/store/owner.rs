//! Which process a run belongs to, and whether that process is still alive: how a new
//! start tells a crashed run (whose unfinished jobs become `interrupted`) from a run that
//! another ponyswarm on this machine is still going through.
//!
//! I/O: reads the host name and `/proc` (or asks `kill -0` where there is no `/proc`).

use std::path::Path;
use std::process::{Command, Stdio};

/// The process that records a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The machine's host name. Runs of other hosts are never marked interrupted from
    /// here: their process cannot be checked.
    pub host: String,
    /// The process id on that host.
    pub pid: u32,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        Owner {
            host: host_name(),
            pid: std::process::id(),
        }
    }

    /// Whether this owner's process is running on this machine. A reused pid reads as
    /// alive: the run is then marked at a later start, never wrongly now.
    pub fn is_alive_here(&self) -> bool {
        if self.host != host_name() {
            return true;
        }
        if self.pid == std::process::id() {
            return true;
        }
        let proc = Path::new("/proc");
        if proc.join("self").exists() {
            return proc.join(self.pid.to_string()).exists();
        }
        // No /proc (macOS): `kill -0` succeeds when the process exists (and is ours).
        Command::new("kill")
            .args(["-0", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_or(true, |s| s.success())
    }
}

/// The kernel's host name; `HOSTNAME`, else `localhost`, where it cannot be read.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
