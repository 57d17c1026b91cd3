//! `services:`: the containers (databases, caches) a job talks to, and which jobs
//! start them.

use super::error::SpecError;
use super::images::check_service_image;
use super::matrix_def::MatrixDef;
use super::read::{is_null, Map, Reader};
use super::spec::Spanned;
use super::value::Combination;
use super::yaml::{Entry, Node};
use crate::catalog;
use indexmap::{IndexMap, IndexSet};

/// Most services a file may define: each is a container next to the job.
pub const MAX_SERVICES: usize = 32;

/// Keys of one service.
const KEYS: &[&str] = &["image", "when", "port", "env"];

/// One entry of `services:`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// A catalog name (`postgres`) or an image reference (`postgres:16`).
    pub image: Spanned<String>,
    /// Partial matches selecting the jobs that start this service; empty: every job.
    pub when: Vec<Combination>,
    /// Port the service listens on, when it is neither in the catalog nor a
    /// well-known official image.
    pub port: Option<u16>,
    /// Extra environment for the service container.
    pub env: IndexMap<String, String>,
}

/// Reads `services:`. `matrix` says which keys `when:` may use.
pub(super) fn parse(
    r: &Reader<'_>,
    node: &Node,
    matrix: &MatrixDef,
) -> Result<IndexMap<String, ServiceSpec>, SpecError> {
    let map = r.map("services", node)?;
    if let Some((name, entry)) = map.get_index(MAX_SERVICES) {
        return Err(r.err(
            entry.key_pos,
            format!("service `{name}` is one too many: a file may define at most {MAX_SERVICES} services"),
        ));
    }
    let known = matrix.keys();
    let mut services = IndexMap::with_capacity(map.len());
    for (name, entry) in map {
        check_name(r, name, entry)?;
        services.insert(name.clone(), service(r, name, entry, &known)?);
    }
    Ok(services)
}

/// The service name is the host name on the job's network and the prefix of its
/// environment variables (`POSTGRES_HOST`), so it must suit both.
fn check_name(r: &Reader<'_>, name: &str, entry: &Entry) -> Result<(), SpecError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if ok {
        return Ok(());
    }
    Err(r.err(
        entry.key_pos,
        format!(
            "service name `{name}` must be letters, digits and `_`, starting with a letter \
             (it becomes a host name and the prefix of NAME_HOST)"
        ),
    ))
}

/// One service; `known` holds the keys `when:` may use.
fn service(
    r: &Reader<'_>,
    name: &str,
    entry: &Entry,
    known: &IndexSet<&str>,
) -> Result<ServiceSpec, SpecError> {
    // `redis:` alone (or `redis: {}`) means the catalog image of that name.
    let empty = Map::new();
    let map = if is_null(&entry.value) {
        &empty
    } else {
        r.map(&format!("services.{name}"), &entry.value)?
    };
    r.check_keys(map, KEYS)?;
    let image = match map.get("image") {
        Some(e) => r.string(&format!("services.{name}.image"), &e.value)?,
        None if catalog::service_entry(name).is_some() => Spanned {
            value: name.to_string(),
            pos: entry.key_pos,
        },
        None => {
            return Err(r.err(
                entry.key_pos,
                format!(
                    "service `{name}` needs an `image:` (a catalog service or an image reference)"
                ),
            ))
        }
    };
    check_service_image(r, &image.value, image.pos)?;
    let port = match map.get("port") {
        Some(e) => Some(r.int(&format!("services.{name}.port"), &e.value, 1, 65_535)? as u16),
        None => None,
    };
    let port_known = catalog::service_entry(&image.value).is_some()
        || catalog::service_info_for_reference(&image.value).is_some();
    if port.is_none() && !port_known {
        return Err(r.err(
            image.pos,
            format!(
                "ponyswarm doesn't know which port `{}` listens on; add `port:` to service `{name}`",
                image.value
            ),
        ));
    }
    let when = match map.get("when") {
        Some(e) => {
            MatrixDef::partial_matches(r, &format!("services.{name}.when"), &e.value, known)?
        }
        None => Vec::new(),
    };
    let env = match map.get("env") {
        Some(e) => r
            .env(&format!("services.{name}.env"), &e.value)?
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect(),
        None => IndexMap::new(),
    };
    Ok(ServiceSpec {
        image,
        when,
        port,
        env,
    })
}
