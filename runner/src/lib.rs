//! ponyswarm: a container-based, buildbot-style test pipeline for Python projects.
//!
//! The pipeline (see DESIGN.md): a matrix file becomes a [`matrix::Spec`], which expands
//! into [`matrix::Job`]s; each job is planned ([`plan`]) into images, env, files and
//! commands; [`run`] executes the plans in Docker sandboxes ([`sandbox`]) and turns what
//! happened into [`outcome`]s.

pub mod catalog;
pub mod detect;
pub(crate) mod host;
pub mod http;
pub mod init;
pub mod logcap;
pub mod matrix;
pub mod outcome;
pub mod plan;
pub mod pypi;
pub mod pythons;
pub mod report;
pub mod run;
pub mod sandbox;
pub(crate) mod shorten;
pub(crate) mod skipped_dirs;
pub mod store;
pub mod swarm;
pub mod testresults;
pub mod time;
pub mod tox;
pub mod tree_file;
pub(crate) mod untar;
