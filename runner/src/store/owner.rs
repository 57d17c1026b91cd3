//! Which process a run belongs to, and whether that process is still alive: how a new
//! start tells a crashed run (whose unfinished jobs become `interrupted`) from a run that
//! another ponyswarm on this machine is still going through.
//!
//! I/O: through [`crate::host`], reads the host name and asks whether a process runs.

/// The process that records a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwner {
    /// The machine's host name. Runs of other hosts are never marked interrupted from
    /// here: their process cannot be checked.
    pub host: String,
    /// The process id on that host.
    pub pid: u32,
}

impl RunOwner {
    /// This process.
    pub fn current() -> RunOwner {
        RunOwner {
            host: host_name(),
            pid: std::process::id(),
        }
    }

    /// Whether this owner's process is running on this machine. A reused pid reads as
    /// alive: the run is then marked at a later start, never wrongly now.
    pub fn is_alive_here(&self) -> bool {
        self.host != host_name() || crate::host::process_alive(self.pid, None)
    }
}

/// The host name; `localhost` where it cannot be read.
fn host_name() -> String {
    crate::host::name().unwrap_or_else(|| "localhost".to_string())
}
