//! Which database a URL names, and the URL sqlx is given for it.
//!
//! Pure, except [`prepare`], which creates a SQLite file's directory.

use super::StoreError;
use std::path::Path;

/// The environment variable naming the database when `--database` is not given.
pub const ENV_VAR: &str = "PONYSWARM_DATABASE";

/// The embedded default: a SQLite file beside the runs, relative to the working directory.
pub const DEFAULT_URL: &str = "sqlite://.ponyswarm/ponyswarm.db";

/// The two databases the store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file (or memory), one writer at a time.
    Sqlite,
    /// A server, shared by several ponyswarm processes.
    Postgres,
}

impl Backend {
    /// The backend of `url`: `sqlite:…` or a bare path is SQLite, `postgres://` and
    /// `postgresql://` PostgreSQL; any other scheme is refused.
    pub fn of(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            return Ok(Backend::Sqlite);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Backend::Postgres);
        }
        // `mysql://`, `http://`: a scheme we do not speak. A Windows drive letter
        // (`C:\…`) or a plain path has no `://`.
        if url.contains("://") || url.is_empty() {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        }
        Ok(Backend::Sqlite)
    }
}

/// The database URL to use: `--database` if given, else `PONYSWARM_DATABASE` if set and
/// not empty, else [`DEFAULT_URL`].
pub fn resolve_url(flag: Option<&str>, env: Option<&str>) -> String {
    [flag, env]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|u| !u.is_empty())
        .unwrap_or(DEFAULT_URL)
        .to_string()
}

/// The URL handed to sqlx. For SQLite: a bare path becomes `sqlite://PATH`, the file is
/// created when missing (`mode=rwc`) and so is its directory.
pub(super) fn prepare(url: &str, backend: Backend) -> Result<String, StoreError> {
    if backend == Backend::Postgres {
        return Ok(url.to_string());
    }
    let url = if url.starts_with("sqlite:") {
        url.to_string()
    } else {
        format!("sqlite://{url}")
    };
    let Some(path) = sqlite_path(&url) else {
        return Ok(url);
    };
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(if url.contains("mode=") {
        url
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// The file of a SQLite URL; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// A database URL that may hold a password: shown redacted by `Debug`.
#[derive(Clone)]
pub(super) struct Secret(pub(super) String);

impl Secret {
    /// The URL itself, to connect with.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// `url` with its password (in the user part or a `password=` parameter) replaced by
/// `***`, for messages.
pub(super) fn redact(url: &str) -> String {
    let url = match url.split_once("password=") {
        Some((before, after)) => {
            let rest = after.find('&').map_or("", |i| &after[i..]);
            format!("{before}password=***{rest}")
        }
        None => url.to_string(),
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url,
        },
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_precedence() {
        let cases = [
            (None, None, DEFAULT_URL),
            (None, Some(""), DEFAULT_URL),
            (None, Some("postgres://h/db"), "postgres://h/db"),
            (Some("x.db"), Some("postgres://h/db"), "x.db"),
            (Some("  "), Some("postgres://h/db"), "postgres://h/db"),
        ];
        for (flag, env, want) in cases {
            assert_eq!(resolve_url(flag, env), want, "{flag:?} {env:?}");
        }
    }

    #[test]
    fn backends() {
        let cases = [
            ("sqlite://.ponyswarm/ponyswarm.db", Some(Backend::Sqlite)),
            ("sqlite::memory:", Some(Backend::Sqlite)),
            ("results.db", Some(Backend::Sqlite)),
            ("/var/lib/ponyswarm.db", Some(Backend::Sqlite)),
            ("postgres://u:p@h:5432/db", Some(Backend::Postgres)),
            ("postgresql://h/db", Some(Backend::Postgres)),
            ("mysql://h/db", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(Backend::of(url).ok(), want, "{url}");
        }
    }

    #[test]
    fn sqlite_urls_create_the_file() {
        let cases = [
            ("sqlite::memory:", "sqlite::memory:"),
            ("sqlite://a.db", "sqlite://a.db?mode=rwc"),
            ("b.db", "sqlite://b.db?mode=rwc"),
            (
                "sqlite://c.db?cache=shared",
                "sqlite://c.db?cache=shared&mode=rwc",
            ),
            ("sqlite://d.db?mode=ro", "sqlite://d.db?mode=ro"),
        ];
        for (url, want) in cases {
            assert_eq!(prepare(url, Backend::Sqlite).expect(url), want, "{url}");
        }
    }

    #[test]
    fn passwords_are_hidden() {
        let cases = [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?password=x&a=b",
                "postgres://h/db?password=***&a=b",
            ),
            ("sqlite://a.db", "sqlite://a.db"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
        }
    }
}
