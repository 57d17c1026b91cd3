//! Where things are inside a job's container: the work area, the home directory, the
//! venv, the source tree, the JUnit file, and which of them are writable.
//!
//! Constants only, shared by the job, its environment image and the outcome.

/// The job's work area: the source tree, the venv and the test output.
pub const WORK: &str = "/work";
/// The sandbox user's home directory, a writable area of its own.
pub const HOME: &str = "/home/pony";
/// The writable areas of a job's container: the only places it can write (its root
/// is read-only), listed before and after the install to find what it changed.
/// `/dev/shm` is the engine's own 64 MiB tmpfs.
pub(super) const AREAS: &[&str] = &[WORK, HOME, "/tmp", "/dev/shm"];
/// The most `/tmp` and the home directory (a service's `/tmp`) may each hold.
const SIDE_AREA: u64 = 512 << 20;

/// The size of `/tmp` and of the home directory for a job whose `limits.disk` is
/// `disk`: [`SIDE_AREA`], or `disk` when that is smaller.
pub(super) fn side_area(disk: u64) -> u64 {
    disk.min(SIDE_AREA)
}
/// Where the job's venv is made.
pub const VENV: &str = "/work/venv";
/// Where the source tree is extracted.
pub const SRC: &str = "/work/src";
/// Where pytest is asked to write its JUnit XML.
pub const JUNIT: &str = "/work/ponyswarm-junit.xml";
/// PATH inside the job: the venv first, then Debian's usual directories.
pub(super) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
