//! Labels on every Docker object ponyswarm creates, so that `ponyswarm clean` and the
//! next start can find the leftovers of a killed run.

/// Present (value `"1"`) on every container, network and volume ponyswarm creates.
pub const MANAGED: &str = "io.ponyswarm";
/// The run id an object belongs to.
pub const RUN: &str = "io.ponyswarm.run";
/// The job (its index within the run) an object belongs to.
pub const JOB: &str = "io.ponyswarm.job";
/// The pid of the ponyswarm process that created the object, so a later start can
/// tell a live run's objects from a dead one's.
pub const PID: &str = "io.ponyswarm.pid";
/// The start time (in clock ticks since boot) of the process named by [`PID`], so a
/// reused pid is not taken for a live run.
pub const PID_START: &str = "io.ponyswarm.pid-start";
/// On images ponyswarm built: the catalog name.
pub const IMAGE: &str = "io.ponyswarm.image";
/// On images ponyswarm built: the content hash the tag was made from.
pub const CONTENT: &str = "io.ponyswarm.content";
