//! A throwaway PostgreSQL for the coordinator's tests: the one `PONYSWARM_TEST_POSTGRES`
//! names, or one started here with `initdb`/`pg_ctl` in a temporary directory. Shared
//! by tests/store.rs and tests/pypi_watch.rs through `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL server.
pub enum Server {
    /// Given by `PONYSWARM_TEST_POSTGRES`.
    External(String),
    /// Started here; stopped and removed on drop.
    Local {
        bin: PathBuf,
        dir: tempfile::TempDir,
        port: u16,
        as_postgres: bool,
    },
}

impl Server {
    /// Starts a throwaway cluster; `None` when the server binaries are not installed.
    pub fn start() -> Option<Server> {
        let bin = postgres_bin()?;
        // initdb refuses to run as root: run the server as the `postgres` user then.
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("ponyswarm-pg")
            .tempdir()
            .expect("tempdir");
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        let data = dir.path().join("data");
        let port = free_port();
        let server = Server::Local {
            bin,
            dir,
            port,
            as_postgres,
        };
        server.pg(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        );
        let Server::Local { dir, .. } = &server else {
            unreachable!()
        };
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        let log = dir.path().join("server.log");
        server.pg(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-o",
                &options,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Some(server)
    }

    /// Runs one of the server's programs, as `postgres` when we are root; panics when it
    /// fails.
    fn pg(&self, program: &str, args: &[&str]) {
        if let Some(mut cmd) = self.pg_command(program, args) {
            run(&mut cmd);
        }
    }

    fn pg_command(&self, program: &str, args: &[&str]) -> Option<Command> {
        let Server::Local {
            bin, as_postgres, ..
        } = self
        else {
            return None;
        };
        let program = bin.join(program);
        let mut cmd = if *as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args);
        Some(cmd)
    }

    fn admin_url(&self) -> String {
        match self {
            Server::External(url) => url.clone(),
            Server::Local { port, .. } => format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        }
    }

    /// Creates an empty database and returns its URL.
    pub async fn fresh_database(&self, name: &str) -> String {
        use sqlx::Connection;
        let admin = self.admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connects to PostgreSQL");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .await
            .expect("drops");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("creates a database");
        conn.close().await.ok();
        replace_database(&admin, name)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Local { dir, .. } = self {
            let data = dir.path().join("data").to_string_lossy().into_owned();
            // No panic here: this may run while a failed assertion unwinds.
            if let Some(mut cmd) =
                self.pg_command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            {
                let _ = cmd.output();
            }
        }
    }
}

/// `admin` (`postgres://user@host:port/db?params`) with its database replaced by `name`.
fn replace_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}{query}")
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb`, or the `initdb` on PATH.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let on_path = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&on_path.stdout).trim().to_string();
    Path::new(&path)
        .parent()
        .map(Path::to_path_buf)
        .filter(|_| on_path.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Server {
    /// `PONYSWARM_TEST_POSTGRES`'s server, else a local one; `None` without either
    /// (outside CI, where a missing server is a failure).
    pub fn any() -> Option<Server> {
        match std::env::var("PONYSWARM_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Some(Server::External(url)),
            _ => {
                let server = Server::start();
                assert!(
                    server.is_some() || std::env::var_os("CI").is_none(),
                    "no PostgreSQL server binaries in CI: .ci/run must install Debian's `postgresql`"
                );
                server
            }
        }
    }

    /// [`Server::any`], saying loudly on stderr when the test is skipped for want of one.
    pub fn any_or_skip() -> Option<Server> {
        let server = Server::any();
        if server.is_none() {
            eprintln!("\n!!!!!!!! SKIPPED: no PostgreSQL (initdb, pg_ctl) and PONYSWARM_TEST_POSTGRES unset !!!!!!!!\n");
        }
        server
    }
}
