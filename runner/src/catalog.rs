//! The catalog: the Pythons and services ponyswarm ships Dockerfiles for in `images/`,
//! and what a job needs to know to talk to each service.
//!
//! Pure data: no I/O. Building the images is `sandbox::images`' job.

/// What kind of thing an image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Python interpreter with venv and pip.
    Python,
    /// A service a job talks to over the job's network.
    Service,
    /// A helper ponyswarm runs for itself (the prepare phase's egress door); not a
    /// name a matrix can use.
    Tool,
}

/// One image ponyswarm can build from `images/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The name used in matrix files (`"3.11"`, `"postgres"`).
    pub name: &'static str,
    pub kind: Kind,
    /// Directory under `images/` holding the Dockerfile.
    pub dir: &'static str,
    /// Debian suite of the base image.
    pub suite: &'static str,
    /// The interpreter command inside the image (Pythons only).
    pub python: Option<&'static str>,
    /// How a job reaches the service (services only).
    pub service: Option<ServiceInfo>,
}

/// Connection details of a service image: port, credentials, URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    pub port: u16,
    /// URL scheme for `NAME_URL` (`postgres`, `mysql`, `redis`).
    pub scheme: &'static str,
    /// Credentials, for databases: user, password, database.
    pub credentials: Option<Credentials>,
    /// The directory the service keeps its data in, which its image fills at start
    /// from a seed made at build time (see `images/`), so ponyswarm can mount a
    /// size-capped tmpfs there and the rest of the image read-only. Only for images
    /// built from `images/`: `None` for a service that keeps nothing on disk, and for
    /// any image reference.
    pub data: Option<&'static str>,
}

/// Database credentials baked into a catalog service image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    pub user: &'static str,
    pub password: &'static str,
    pub database: &'static str,
}

const DB_CREDENTIALS: Credentials = Credentials {
    user: "pony",
    password: "pony",
    database: "pony",
};

/// Every catalog image.
pub const ENTRIES: &[Entry] = &[
    python("3.9", "python-3.9", "bullseye", "python3.9"),
    python("3.11", "python-3.11", "bookworm", "python3.11"),
    python("3.13", "python-3.13", "trixie", "python3.13"),
    // Only Debian's unstable suite ships these (sid has the newest CPython first).
    python("3.14", "python-3.14", "sid", "python3.14"),
    python("3.15", "python-3.15", "sid", "python3.15"),
    python("pypy3", "pypy3", "bookworm", "pypy3"),
    service(
        "postgres",
        "bookworm",
        ServiceInfo {
            port: 5432,
            scheme: "postgres",
            credentials: Some(DB_CREDENTIALS),
            data: Some("/var/lib/postgresql/data"),
        },
    ),
    service(
        "mariadb",
        "bookworm",
        ServiceInfo {
            port: 3306,
            scheme: "mysql",
            credentials: Some(DB_CREDENTIALS),
            data: Some("/var/lib/mysql"),
        },
    ),
    // Keeps nothing on disk (`save ""`, no append-only file: images/redis/redis.conf).
    service(
        "redis",
        "bookworm",
        ServiceInfo {
            port: 6379,
            scheme: "redis",
            credentials: None,
            data: None,
        },
    ),
    // The prepare phase's egress door (see `sandbox::door`).
    Entry {
        name: DOOR,
        kind: Kind::Tool,
        dir: "tinyproxy",
        suite: "bookworm",
        python: None,
        service: None,
    },
];

/// The catalog name of the egress door image (`images/tinyproxy`).
pub const DOOR: &str = "door";

const fn python(
    name: &'static str,
    dir: &'static str,
    suite: &'static str,
    cmd: &'static str,
) -> Entry {
    Entry {
        name,
        kind: Kind::Python,
        dir,
        suite,
        python: Some(cmd),
        service: None,
    }
}

const fn service(name: &'static str, suite: &'static str, info: ServiceInfo) -> Entry {
    Entry {
        name,
        kind: Kind::Service,
        dir: name,
        suite,
        python: None,
        service: Some(info),
    }
}

/// The catalog entry called `name`, of any kind.
pub fn get(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.name == name)
}

/// The catalog Python called `name`.
pub fn python_entry(name: &str) -> Option<&'static Entry> {
    get(name).filter(|e| e.kind == Kind::Python)
}

/// The catalog service called `name`.
pub fn service_entry(name: &str) -> Option<&'static Entry> {
    get(name).filter(|e| e.kind == Kind::Service)
}

/// Names of every entry of `kind`, for "expected one of" messages.
pub fn names(kind: Kind) -> Vec<&'static str> {
    ENTRIES
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.name)
        .collect()
}

/// Whether `s` looks like a registry image reference (`postgres:16`,
/// `ghcr.io/org/img`, `img@sha256:…`) rather than a catalog name.
pub fn is_image_reference(s: &str) -> bool {
    s.contains([':', '/', '@'])
}

/// Connection details for a service image that is not in the catalog, guessed from
/// the repository name of well-known official images (`postgres:16` → postgres).
pub fn service_info_for_reference(reference: &str) -> Option<ServiceInfo> {
    let repo = reference.split(['@', ':']).next().unwrap_or(reference);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    let like = match last {
        "postgres" | "postgis" => "postgres",
        "mariadb" | "mysql" => "mariadb",
        "redis" | "valkey" => "redis",
        _ => return None,
    };
    // Such an image does not seed its data directory from a copy of its own.
    service_entry(like)?
        .service
        .map(|info| ServiceInfo { data: None, ..info })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pythons_and_services_are_told_apart() {
        assert!(python_entry("3.11").is_some());
        assert!(python_entry("postgres").is_none());
        assert_eq!(
            service_entry("postgres").unwrap().service.unwrap().port,
            5432
        );
        assert_eq!(
            names(Kind::Python),
            ["3.9", "3.11", "3.13", "3.14", "3.15", "pypy3"]
        );
    }

    #[test]
    fn references_are_recognised() {
        assert!(is_image_reference("postgres:16"));
        assert!(is_image_reference("ghcr.io/x/y"));
        assert!(!is_image_reference("postgres"));
        assert_eq!(
            service_info_for_reference("docker.io/library/mysql:8")
                .unwrap()
                .port,
            3306
        );
        assert!(service_info_for_reference("example/thing:1").is_none());
        assert_eq!(
            service_info_for_reference("postgres:16").unwrap().data,
            None,
            "only catalog images seed their data directory"
        );
        assert!(service_entry("postgres")
            .unwrap()
            .service
            .unwrap()
            .data
            .is_some());
    }
}
