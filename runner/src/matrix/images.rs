//! Checks that the images a matrix file names exist: a catalog name ponyswarm builds
//! from `images/`, or a registry image reference the user vouches for.

use super::error::{Pos, SpecError};
use super::read::Reader;
use super::suggest;
use crate::catalog::{self, Kind};
use crate::pythons;

/// `python:` values and `python` axis values: a catalog Python, a CPython version
/// (whether this machine can have it is decided at plan time: [`pythons::check`]), or
/// an image reference.
pub fn check_python(r: &Reader<'_>, name: &str, pos: Pos) -> Result<(), SpecError> {
    if pythons::is_known(name) || catalog::is_image_reference(name) {
        return Ok(());
    }
    Err(r.err(
        pos,
        format!(
            "unknown Python `{name}`; expected one of {} or an image reference like `python:3.12`",
            suggest::list(pythons::names())
        ),
    ))
}

/// A service's `image:`: a catalog service or an image reference.
pub fn check_service_image(r: &Reader<'_>, image: &str, pos: Pos) -> Result<(), SpecError> {
    if catalog::service_entry(image).is_some() || catalog::is_image_reference(image) {
        return Ok(());
    }
    let services = catalog::names(Kind::Service);
    let message = match suggest::nearest(image, services.iter().copied()) {
        Some(near) => format!("unknown service image `{image}`; did you mean `{near}`?"),
        None => format!(
            "unknown service image `{image}`; expected a catalog service ({}) or an image \
             reference like `{image}:latest`",
            suggest::list(services)
        ),
    };
    Err(r.err(pos, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn pythons_from_the_catalog_or_a_registry() {
        let r = Reader {
            file: Path::new("p.yaml"),
        };
        let at = Pos { line: 3, col: 5 };
        for ok in [
            "3.9",
            "3.11",
            "3.13",
            "3.10",
            "3.12",
            "3.14",
            "pypy3",
            "python:3.12",
            "ghcr.io/x/py",
        ] {
            assert!(check_python(&r, ok, at).is_ok(), "{ok}");
        }
        let e = check_python(&r, "3.8", at).unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.yaml:3:5: unknown Python `3.8`; expected one of `3.9`, `3.10`, `3.11`, `3.12`, \
             `3.13`, `3.14`, `3.15`, `pypy3` or an image reference like `python:3.12`"
        );
    }

    #[test]
    fn service_images_suggest_the_nearest_catalog_name() {
        let r = Reader {
            file: Path::new("s.yaml"),
        };
        let at = Pos { line: 1, col: 1 };
        for ok in [
            "postgres",
            "redis",
            "mariadb",
            "postgres:16",
            "docker.io/library/mysql",
        ] {
            assert!(check_service_image(&r, ok, at).is_ok(), "{ok}");
        }
        let cases = [
            (
                "postgress",
                "unknown service image `postgress`; did you mean `postgres`?",
            ),
            (
                "mongo",
                "unknown service image `mongo`; expected a catalog service (`postgres`, \
                 `mariadb`, `redis`) or an image reference like `mongo:latest`",
            ),
        ];
        for (image, message) in cases {
            assert_eq!(
                check_service_image(&r, image, at).unwrap_err().message,
                message
            );
        }
    }
}
