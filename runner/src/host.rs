//! This machine: its name, and whether a process on it is still alive. How a new start
//! tells a crashed run from one another ponyswarm is still going through, how `clean`
//! tells leftovers from objects in use, and what an agent calls itself by default.
//!
//! I/O: reads `/proc` and `/etc/hostname` (or asks `kill -0` where there is no `/proc`).

use std::path::Path;
use std::process::{Command, Stdio};

/// The machine's host name: the kernel's, else `/etc/hostname`, else `HOSTNAME`; `None`
/// when none of them names it.
pub fn name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Whether process `pid` on this machine runs and, when `start` (see [`process_start`])
/// is known, is the process that had that pid then, not a later one reusing the number.
///
/// One rule for every caller: when in doubt, alive. Deciding "dead" marks a run
/// interrupted or removes its containers, so a wrong "alive" only postpones that to a
/// later start, a wrong "dead" breaks a live run. Where there is no `/proc` (macOS),
/// `kill -0` decides, and the start time cannot be checked.
pub fn process_alive(pid: u32, start: Option<u64>) -> bool {
    if !Path::new("/proc/self/stat").exists() {
        // `kill -0` succeeds when the process exists (and is ours to signal).
        return Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_or(true, |s| s.success());
    }
    match (process_start(pid), start) {
        (None, _) => false,
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
    }
}

/// The start time (clock ticks after boot) of process `pid`, from `/proc/<pid>/stat`;
/// `None` when it does not run or there is no `/proc`.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; field 22,
    // the start time, is the 20th after it.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_a_name() {
        let name = name().expect("a host name");
        assert!(!name.is_empty() && name.trim() == name, "{name:?}");
    }

    #[test]
    fn own_process_is_alive_a_reused_pid_is_not() {
        let me = std::process::id();
        let start = process_start(me);
        assert!(start.is_some());
        assert!(process_alive(me, start));
        assert!(process_alive(me, None));
        assert!(!process_alive(me, start.map(|s| s + 1)));
        // The parent runs, but started at another tick than the one given.
        let parent = std::os::unix::process::parent_id();
        let parent_start = process_start(parent).expect("the parent runs");
        assert!(process_alive(parent, Some(parent_start)));
        assert!(process_alive(parent, None));
        assert!(!process_alive(parent, Some(parent_start + 1)));
    }

    #[test]
    fn a_process_that_does_not_run_is_dead() {
        // Above the kernel's pid_max (at most 2^22), so it never runs.
        assert!(!process_alive(999_999_999, None));
        assert_eq!(process_start(999_999_999), None);
    }
}
