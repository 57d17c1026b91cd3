//! Which Pythons a matrix may name, and where each comes from on this machine.
//!
//! Every CPython from 3.9 to the next release, plus PyPy, as a GitHub user's matrix
//! names them. A version comes from the catalog when a Debian suite ships it (built
//! from `images/`, no registry needed), else from the official `python:<v>-slim`
//! image when a registry is reachable to pull it (or the engine already has it),
//! else it cannot be had here, and the error says which versions can.
//!
//! Pure, but for [`check`], the thin shell that asks the engine.

use crate::catalog::{self, Kind};
use crate::plan::JobPlan;
use crate::sandbox::images::{self, ImageOptions};
use bollard::Docker;

/// The CPython versions a matrix may name, oldest first; the last is the next
/// release, a pre-release until it is out.
pub const CPYTHONS: &[&str] = &["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"];

/// When CPython `name` (`3.11`) was first released (its x.y.0), as an RFC 3339 date:
/// the earliest day test tools could support it. `None` for a version not yet out,
/// PyPy (its Python level follows the Debian suite that ships it) and image names.
pub fn released(name: &str) -> Option<&'static str> {
    Some(match name {
        "3.9" => "2020-10-05",
        "3.10" => "2021-10-04",
        "3.11" => "2022-10-24",
        "3.12" => "2023-10-02",
        "3.13" => "2024-10-07",
        "3.14" => "2025-10-07",
        _ => return None,
    })
}

/// Whether this machine can pull from a registry (or already has the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// `python:<v>-slim` can be had.
    Reachable,
    /// Nothing can be pulled.
    Unreachable,
}

/// Where a Python named in a matrix comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built from `images/` (a Debian suite ships it), by its catalog name.
    Catalog(&'static str),
    /// The official image, pulled from a registry.
    Official(String),
}

/// A Python the matrix names that this machine cannot offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "python {version}: no Debian suite ships it and no registry is reachable to pull \
     {reference}; this machine can offer {}",
    .offer.join(", ")
)]
pub struct Unavailable {
    /// The version asked for (`3.12`).
    pub version: String,
    /// The image that would have served it (`python:3.12-slim`).
    pub reference: String,
    /// What this machine can offer instead.
    pub offer: Vec<&'static str>,
}

/// Whether a matrix may name `name` as its Python: a catalog Python or a CPython
/// version (whether this machine can have it is [`source`]'s question, at plan time).
pub fn is_known(name: &str) -> bool {
    catalog::python_entry(name).is_some() || CPYTHONS.contains(&name)
}

/// Every name a matrix may use, for "expected one of" messages: the CPythons in
/// order, then the catalog's other Pythons (PyPy).
pub fn names() -> Vec<&'static str> {
    let mut names = CPYTHONS.to_vec();
    names.extend(
        catalog::names(Kind::Python)
            .into_iter()
            .filter(|n| !CPYTHONS.contains(n)),
    );
    names
}

/// The image a job of Python `name` runs in: the catalog's when it has `name`, the
/// official image for another CPython, else `name` itself (an image reference).
pub fn image_for(name: &str) -> String {
    match catalog::python_entry(name) {
        Some(entry) => entry.name.to_string(),
        None if CPYTHONS.contains(&name) => official(name),
        None => name.to_string(),
    }
}

/// `python:3.12-slim`.
fn official(version: &str) -> String {
    format!("python:{version}-slim")
}

/// Where `name` comes from given whether a registry is reachable; `None` for a
/// name that is neither a catalog Python nor a CPython (an image reference).
pub fn source(name: &str, registry: Registry) -> Option<Result<Source, Unavailable>> {
    if let Some(entry) = catalog::python_entry(name) {
        return Some(Ok(Source::Catalog(entry.name)));
    }
    if !CPYTHONS.contains(&name) {
        return None;
    }
    Some(match registry {
        Registry::Reachable => Ok(Source::Official(official(name))),
        Registry::Unreachable => Err(Unavailable {
            version: name.to_string(),
            reference: official(name),
            offer: offer(registry),
        }),
    })
}

/// The Pythons this machine can offer: the catalog's always, every CPython when a
/// registry is reachable; in [`names`] order.
pub fn offer(registry: Registry) -> Vec<&'static str> {
    names()
        .into_iter()
        .filter(|n| catalog::python_entry(n).is_some() || registry == Registry::Reachable)
        .collect()
}

/// Checks, before any job starts, that every Python the plans name can be had: a
/// CPython no Debian suite ships must be pulled (or be in the engine already). The
/// error is the first that cannot, with what this machine offers.
pub async fn check(
    docker: &Docker,
    plans: &[JobPlan],
    opts: &ImageOptions,
) -> Result<(), Unavailable> {
    let mut asked: Vec<&str> = plans.iter().map(|p| p.job.python.as_str()).collect();
    asked.sort_unstable();
    asked.dedup();
    for name in asked {
        let Some(Ok(Source::Official(reference))) = source(name, Registry::Reachable) else {
            continue;
        };
        let registry = match images::ensure(docker, &reference, opts).await {
            Ok(_) => Registry::Reachable,
            Err(_) => Registry::Unreachable,
        };
        if let Some(Err(e)) = source(name, registry) {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_comes_from_debian_else_a_registry_else_nowhere() {
        use Registry::{Reachable, Unreachable};
        type Case = (&'static str, Registry, Option<Result<Source, &'static str>>);
        let cases: &[Case] = &[
            ("3.11", Unreachable, Some(Ok(Source::Catalog("3.11")))),
            ("3.14", Unreachable, Some(Ok(Source::Catalog("3.14")))),
            ("pypy3", Unreachable, Some(Ok(Source::Catalog("pypy3")))),
            ("3.13", Reachable, Some(Ok(Source::Catalog("3.13")))),
            (
                "3.12",
                Reachable,
                Some(Ok(Source::Official("python:3.12-slim".into()))),
            ),
            (
                "3.12",
                Unreachable,
                Some(Err(
                    "python 3.12: no Debian suite ships it and no registry is reachable to \
                     pull python:3.12-slim; this machine can offer 3.9, 3.11, 3.13, 3.14, \
                     3.15, pypy3",
                )),
            ),
            (
                "3.10",
                Unreachable,
                Some(Err(
                    "python 3.10: no Debian suite ships it and no registry is reachable to \
                     pull python:3.10-slim; this machine can offer 3.9, 3.11, 3.13, 3.14, \
                     3.15, pypy3",
                )),
            ),
            ("python:3.12", Unreachable, None),
        ];
        for (name, registry, want) in cases {
            let got = source(name, *registry).map(|r| r.map_err(|e| e.to_string()));
            let want = want.clone().map(|r| r.map_err(str::to_string));
            assert_eq!(got, want, "{name} {registry:?}");
        }
    }

    #[test]
    fn a_reachable_registry_offers_every_cpython() {
        assert_eq!(
            offer(Registry::Reachable),
            ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "pypy3"]
        );
    }

    #[test]
    fn jobs_run_in_the_catalog_image_or_the_official_one() {
        assert_eq!(image_for("3.13"), "3.13");
        assert_eq!(image_for("3.12"), "python:3.12-slim");
        assert_eq!(image_for("ghcr.io/x/py:1"), "ghcr.io/x/py:1");
        assert!(is_known("3.10") && is_known("pypy3") && !is_known("3.8"));
    }
}
