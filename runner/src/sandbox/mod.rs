//! Everything that talks to the Docker Engine: connecting, images, the container
//! policy, networks, services and file changes.
//!
//! The rest of ponyswarm decides; this module carries the decisions out.

pub mod areas;
pub mod changes;
pub mod container;
pub mod docker;
pub mod door;
pub mod egress;
pub mod images;
pub mod labels;
pub mod network;
pub mod policy;
pub(crate) mod service;
