//! Helpers shared by the `pypi_*` tests: a local package index served by a real HTTP
//! server ([`index`]), the fixture releases it serves ([`packages`]), and a release
//! test of one of them end to end ([`trial`]).

#![allow(dead_code)]

pub mod index;
pub mod packages;
pub mod trial;
