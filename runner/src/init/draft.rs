//! What `ponyswarm init` found in a project's CI configuration, in the matrix file's
//! terms but not yet written: the shared output of every reader (`workflow`, `tox`)
//! and the input of the writer.
//!
//! Plain data; values are kept as text, as the written file quotes every value.

use indexmap::IndexMap;

/// A combination of axis values, or a partial one (`exclude`, `include`, `when`).
pub type Entry = IndexMap<String, String>;

/// A matrix file in the making.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    /// Where it came from, for the file's header: `.github/workflows/ci.yml, job test`.
    pub origin: String,
    /// `name:`.
    pub name: String,
    /// `python:` when the matrix has no `python` axis.
    pub python: Option<String>,
    /// The axes in order, each with its values in order.
    pub axes: IndexMap<String, Vec<String>>,
    pub exclude: Vec<Entry>,
    pub include: Vec<Entry>,
    pub services: IndexMap<String, Service>,
    /// `env:`: name → handlebars template.
    pub env: IndexMap<String, String>,
    /// `install:` lines, handlebars templates.
    pub install: Vec<String>,
    /// `test:`; `None`: let ponyswarm detect it.
    pub test: Option<String>,
    pub fail_fast: bool,
    pub max_parallel: Option<u64>,
    /// `timeout:` in minutes.
    pub timeout_minutes: Option<u64>,
    /// `allow-failure:` entries.
    pub allow_failure: Vec<Entry>,
    /// What could not be translated, one sentence each.
    pub notes: Vec<String>,
}

/// A service of the draft.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// A catalog name (`postgres`) or an image reference.
    pub image: String,
    /// Only for an image reference: the port it listens on.
    pub port: Option<u16>,
    /// The jobs that start it; `None`: every job.
    pub when: Option<Entry>,
    /// Only for an image reference: its environment.
    pub env: IndexMap<String, String>,
}

impl Draft {
    /// Records something that could not be translated.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }
}

/// The catalog Python for a version as CI files write it: `3.11` and `3.11.4` and
/// `3.13-dev` are `3.11`/`3.13`; every PyPy (`pypy-3.9`, `pypy3.10`) is `pypy3`.
/// `None` for what names no version (`3.x`, `3`).
pub fn python_version(text: &str) -> Option<String> {
    let t = text.trim();
    if t.starts_with("pypy") {
        return Some("pypy3".into());
    }
    let t = t.split(['-', '~', ' ']).next().unwrap_or("");
    let mut parts = t.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    if major.is_empty() || !major.chars().all(|c| c.is_ascii_digit()) || minor.is_empty() {
        return None;
    }
    Some(format!("{major}.{minor}"))
}

/// The catalog service for a service image (`postgres:16`, `mysql:8.0`,
/// `docker.io/library/redis:7`): `postgres`, `mariadb` (also for MySQL) or `redis`.
pub fn catalog_service(image: &str) -> Option<&'static str> {
    let without_tag = image.split(['@', ':']).next().unwrap_or(image);
    let repo = without_tag.rsplit('/').next().unwrap_or(without_tag);
    match repo {
        "postgres" | "postgis" | "postgresql" => Some("postgres"),
        "mysql" | "mariadb" => Some("mariadb"),
        "redis" | "valkey" => Some("redis"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions_as_ci_files_write_them() {
        let cases = [
            ("3.11", Some("3.11")),
            ("3.11.4", Some("3.11")),
            ("3.13-dev", Some("3.13")),
            ("3.14.0-alpha.1", Some("3.14")),
            ("pypy-3.9", Some("pypy3")),
            ("pypy3.10", Some("pypy3")),
            ("3.x", None),
            ("3", None),
            ("latest", None),
        ];
        for (text, want) in cases {
            assert_eq!(python_version(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn service_images_map_to_the_catalog() {
        let cases = [
            ("postgres:16", Some("postgres")),
            ("postgis/postgis:15-3.4", Some("postgres")),
            ("mysql:8.0", Some("mariadb")),
            ("mariadb:10.11", Some("mariadb")),
            ("docker.io/library/redis:7", Some("redis")),
            ("memcached:1.6", None),
        ];
        for (image, want) in cases {
            assert_eq!(catalog_service(image), want, "{image}");
        }
    }
}
