//! The tox configuration format's mechanics, in the order a value goes through them:
//!
//! 1. [`Ini`] reads the INI dialect (`tox.ini`, and `setup.cfg` too): sections, keys,
//!    values continued on indented lines, comments.
//! 2. [`lines`] splits a multi-line value into logical lines.
//! 3. [`split_top`], [`expand_braces`] and [`env_names`] read env lists
//!    (`py{39,311}-dj{42,50}, lint`).
//! 4. [`Condition`] reads a factor-conditional line (`py39-!dj42: x`) and says whether it
//!    applies to an env's factors.
//! 5. [`substitute`] replaces tox's substitutions (`{posargs}`, `{env:X:default}`, …),
//!    reporting the ones it cannot replace; what to do with those is the caller's call.
//!
//! Used by `ponyswarm init` (tox.ini → a matrix) and by the PyPI release tester (a
//! release's test dependencies and command). What tox's settings *mean* to each lives
//! with the caller; only the format lives here.
//!
//! Pure: reads text; no I/O.

mod envlist;
mod factors;
mod ini;
mod substitute;

pub use envlist::{env_names, expand_braces, split_top};
pub use factors::{Condition, Factor};
pub use ini::{lines, Ini, Section};
pub use substitute::{substitute, EnvVars, Substitutions, Unhandled};
