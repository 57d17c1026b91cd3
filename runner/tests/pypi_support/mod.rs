//! Helpers shared by the `pypi_*` tests: a local package index served by a real HTTP
//! server ([`index`]) and the fixture releases it serves ([`packages`]).

#![allow(dead_code)]

pub mod index;
pub mod packages;
