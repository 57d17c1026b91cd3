//! The agent's INI file: who it is (name, registration token, key file, the pinned
//! coordinator key), what it offers (Pythons, services, or `detect`), how many jobs at
//! once.
//!
//! ```ini
//! [agent]
//! name = laptop-1
//! token = the-registration-token
//! key = agent.key
//! slots = 2
//!
//! [offers]
//! pythons = 3.11, 3.13
//! services = detect
//! ```
//!
//! Pure apart from [`AgentConfig::load`] reading the file: unknown sections and keys
//! are errors that name the file and line, so a typo never silently turns an option
//! off.

use crate::catalog::{self, Kind};
use crate::matrix::Ceiling;
use std::path::{Path, PathBuf};

/// Most jobs an agent may run at once.
pub const MAX_SLOTS: u32 = 64;

/// Every key of the `[agent]` section.
const AGENT_KEYS: &[&str] = &[
    "name",
    "token",
    "key",
    "coordinator_key",
    "coordinator_key_file",
    "slots",
    "work_dir",
];
/// Every key of the `[offers]` section.
const OFFER_KEYS: &[&str] = &["pythons", "services"];
/// Every key of the `[limits]` section: the most a job may take here.
const LIMIT_KEYS: &[&str] = crate::matrix::CEILING_KEYS;

/// What an agent offers of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// List the local images at start and offer what the catalog knows of them.
    Detect,
    /// These catalog names or image references.
    List(Vec<String>),
}

/// The agent's configuration, as read from its INI file.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// The file it was read from (errors and relative paths refer to it).
    pub path: PathBuf,
    /// A human name, shown on the coordinator's pages. Default: the host name.
    pub name: String,
    /// The registration token the coordinator expects (its `agent_tokens`).
    pub token: String,
    /// The agent's ed25519 key file, made on first start. Default `agent.key` beside
    /// the INI file.
    pub key_file: PathBuf,
    /// The coordinator's public key (hex), when pinned: a coordinator (or an impostor
    /// at its address) presenting another key is refused, and so is every job spec
    /// it signs.
    pub coordinator_key: Option<String>,
    /// A file holding the coordinator's public key (hex), read at start, instead of
    /// `coordinator_key`: for a coordinator that writes it (`coordinator.pub` in its
    /// data directory) where the agent can read it, as in compose.yaml.
    ///
    /// ## Security
    /// Over plain http a pin is required (see [`AgentConfig::pinned_key`]).
    pub coordinator_key_file: Option<PathBuf>,
    /// Most jobs at once (default 1).
    pub slots: u32,
    /// Where job sources are unpacked (default: the system's temporary directory).
    pub work_dir: Option<PathBuf>,
    /// The Pythons offered.
    pub pythons: Offer,
    /// The services offered.
    pub services: Offer,
    /// `[limits]`: the most any job may take on this machine, whatever its matrix
    /// asks (the lower of these and [`Ceiling::for_this_machine`]'s); each lowering is
    /// said in the job's log.
    pub ceiling: Ceiling,
}

/// The configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the agent config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// Something is wrong at a line of the file.
    #[error("{path}:{line}: {message}")]
    At {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Something is missing from the file as a whole.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl AgentConfig {
    /// Reads and checks the INI file at `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        AgentConfig::parse(path, &text)
    }

    /// Checks `text`, the contents of `path`. Relative paths in it are relative to
    /// `path`'s directory.
    pub fn parse(path: &Path, text: &str) -> Result<AgentConfig, ConfigError> {
        let file = IniFile { path, text };
        let ini = ini::Ini::load_from_str_noescape(text).map_err(|e| ConfigError::At {
            path: path.to_path_buf(),
            line: e.line.max(1),
            message: e.msg.to_string(),
        })?;
        file.check_known(&ini)?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let get = |section: &str, key: &str| {
            ini.get_from(Some(section), key)
                .map(|v| strip_comment(v).to_string())
        };
        let token = get("agent", "token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| file.whole("[agent] token is required: the registration token the coordinator lists in agent_tokens"))?;
        let slots = match get("agent", "slots") {
            None => 1,
            Some(s) => parse_slots(&s).map_err(|m| file.at(Some("agent"), Some("slots"), m))?,
        };
        let coordinator_key = match get("agent", "coordinator_key") {
            None => None,
            Some(k) => {
                crate::swarm::sign::public_key(&k)
                    .map_err(|e| file.at(Some("agent"), Some("coordinator_key"), e.to_string()))?;
                Some(k)
            }
        };
        let coordinator_key_file = get("agent", "coordinator_key_file").map(|f| dir.join(f));
        if coordinator_key.is_some() && coordinator_key_file.is_some() {
            return Err(file.at(
                Some("agent"),
                Some("coordinator_key_file"),
                "give coordinator_key or coordinator_key_file, not both",
            ));
        }
        let offer = |key: &str, kind: Kind| match get("offers", key) {
            None => Ok(Offer::Detect),
            Some(v) => parse_offer(&v, kind).map_err(|m| file.at(Some("offers"), Some(key), m)),
        };
        Ok(AgentConfig {
            path: path.to_path_buf(),
            name: get("agent", "name")
                .filter(|n| !n.is_empty())
                .unwrap_or_else(host_name),
            token,
            key_file: dir.join(get("agent", "key").unwrap_or_else(|| "agent.key".into())),
            coordinator_key,
            coordinator_key_file,
            slots,
            work_dir: get("agent", "work_dir").map(|w| dir.join(w)),
            pythons: offer("pythons", Kind::Python)?,
            services: offer("services", Kind::Service)?,
            ceiling: parse_ceiling(&file, |key| get("limits", key))?,
        })
    }
}

impl AgentConfig {
    /// The pinned coordinator key for the coordinator at `url`: `coordinator_key`, or
    /// what `coordinator_key_file` holds. Required unless `url` is https: over plain
    /// http, whoever answers at the coordinator's address (or on the way) could
    /// otherwise register the agent and hand it jobs, since the agent would trust the
    /// key learnt at registration. Loopback is no exception.
    pub fn pinned_key(&self, url: &str) -> Result<Option<String>, ConfigError> {
        let whole = |message: String| ConfigError::File {
            path: self.path.clone(),
            message,
        };
        let key = match (&self.coordinator_key, &self.coordinator_key_file) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| whole(format!("coordinator_key_file {}: {e}", file.display())))?;
                let key = text.trim().to_string();
                crate::swarm::sign::public_key(&key)
                    .map_err(|e| whole(format!("coordinator_key_file {}: {e}", file.display())))?;
                Some(key)
            }
            (None, None) => None,
        };
        let https = url
            .trim_start()
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        if key.is_none() && !https {
            return Err(whole(format!(
                "the coordinator {url} is plain http, so the agent needs its key pinned: \
                 set [agent] coordinator_key to the key `ponyswarm serve` prints at start \
                 (or coordinator_key_file to a file holding it), or use an https URL"
            )));
        }
        Ok(key)
    }
}

/// `[limits]`, under [`Ceiling::for_this_machine`]; `get` reads a key of it.
fn parse_ceiling(
    file: &IniFile<'_>,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Ceiling, ConfigError> {
    let mut c = Ceiling::for_this_machine();
    for key in LIMIT_KEYS {
        if let Some(value) = get(key) {
            c.lower(key, &value).map_err(|what| {
                file.at(Some("limits"), Some(key), format!("{key} must be {what}"))
            })?;
        }
    }
    Ok(c)
}

/// The file being checked, to point errors at its lines.
struct IniFile<'a> {
    path: &'a Path,
    text: &'a str,
}

impl IniFile<'_> {
    /// Every section and key must be one we know.
    fn check_known(&self, ini: &ini::Ini) -> Result<(), ConfigError> {
        for (section, props) in ini.iter() {
            let known: &[&str] = match section {
                None if props.is_empty() => continue,
                None => {
                    let key = props.iter().next().map(|(k, _)| k);
                    return Err(self.at(None, key, "keys must be inside [agent] or [offers]"));
                }
                Some("agent") => AGENT_KEYS,
                Some("offers") => OFFER_KEYS,
                Some("limits") => LIMIT_KEYS,
                Some(other) => {
                    return Err(self.at(
                        Some(other),
                        None,
                        format!(
                            "unknown section [{other}]; expected [agent], [offers] or [limits]"
                        ),
                    ))
                }
            };
            for (key, _) in props.iter() {
                if !known.contains(&key) {
                    return Err(self.at(
                        section,
                        Some(key),
                        format!("unknown key `{key}`; expected one of {}", known.join(", ")),
                    ));
                }
                if props.get_all(key).count() > 1 {
                    return Err(self.at(section, Some(key), format!("`{key}` is given twice")));
                }
            }
        }
        Ok(())
    }

    fn at(
        &self,
        section: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        match line_of(self.text, section, key) {
            Some(line) => ConfigError::At {
                path: self.path.to_path_buf(),
                line,
                message: message.into(),
            },
            None => self.whole(message),
        }
    }

    fn whole(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::File {
            path: self.path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// The line (from 1) of `key` in `section` (or of the section's header when `key` is
/// `None`). rust-ini keeps no positions, so the text is scanned the same simple way.
fn line_of(text: &str, section: Option<&str>, key: Option<&str>) -> Option<usize> {
    let mut current: Option<&str> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim());
            if key.is_none() && current == section {
                return Some(n + 1);
            }
            continue;
        }
        if line.starts_with([';', '#']) || current != section {
            continue;
        }
        let name = line.split(['=', ':']).next().unwrap_or("").trim();
        if key == Some(name) {
            return Some(n + 1);
        }
    }
    None
}

/// rust-ini keeps `value ; comment` whole; a `;` or `#` after a space starts a comment.
fn strip_comment(value: &str) -> &str {
    let cut = [" ;", " #", "\t;", "\t#"]
        .iter()
        .filter_map(|m| value.find(m))
        .min()
        .unwrap_or(value.len());
    value[..cut].trim()
}

fn parse_slots(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=MAX_SLOTS).contains(&n) => Ok(n),
        _ => Err(format!(
            "slots must be a whole number from 1 to {MAX_SLOTS}, not `{s}`"
        )),
    }
}

/// `detect`, or a comma-separated list of catalog names of `kind` and image references.
fn parse_offer(value: &str, kind: Kind) -> Result<Offer, String> {
    if value == "detect" {
        return Ok(Offer::Detect);
    }
    let mut names = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let known = catalog::get(name).is_some_and(|e| e.kind == kind);
        if !known && !catalog::is_image_reference(name) {
            return Err(format!(
                "`{name}` is neither a catalog {} ({}) nor an image reference (name:tag)",
                if kind == Kind::Python {
                    "Python"
                } else {
                    "service"
                },
                catalog::names(kind).join(", ")
            ));
        }
        names.push(name.to_string());
    }
    Ok(Offer::List(names))
}

/// The machine's name, for an agent that gives none.
fn host_name() -> String {
    crate::host::name().unwrap_or_else(|| "agent".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentConfig, String> {
        AgentConfig::parse(Path::new("/etc/ponyswarm/agent.ini"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_file_is_read_with_paths_beside_it() {
        let key = crate::swarm::sign::Keypair::generate().public_hex();
        let c = parse(&format!(
            "; an agent\n[agent]\nname = box\ntoken = t0k ; the token\nkey = keys/a.key\n\
             coordinator_key = {key}\nslots = 3\nwork_dir = /var/tmp/ps\n\
             [offers]\npythons = 3.11, pypy3,python:3.12\nservices = detect\n"
        ))
        .unwrap();
        assert_eq!(c.name, "box");
        assert_eq!(c.token, "t0k");
        assert_eq!(c.key_file, Path::new("/etc/ponyswarm/keys/a.key"));
        assert_eq!(c.coordinator_key.as_deref(), Some(key.as_str()));
        assert_eq!(c.slots, 3);
        assert_eq!(c.work_dir.as_deref(), Some(Path::new("/var/tmp/ps")));
        assert_eq!(
            c.pythons,
            Offer::List(vec!["3.11".into(), "pypy3".into(), "python:3.12".into()])
        );
        assert_eq!(c.services, Offer::Detect);
    }

    #[test]
    fn defaults_are_one_slot_detect_and_a_key_beside_the_file() {
        let c = parse("[agent]\ntoken = t\n").unwrap();
        assert_eq!(c.slots, 1);
        assert_eq!(c.pythons, Offer::Detect);
        assert_eq!(c.services, Offer::Detect);
        assert_eq!(c.key_file, Path::new("/etc/ponyswarm/agent.key"));
        assert_eq!(c.coordinator_key, None);
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let cases: &[(&str, &str)] = &[
            (
                "[agent]\ntoken = t\nslot = 2\n",
                "agent.ini:3: unknown key `slot`",
            ),
            (
                "[agent]\ntoken = t\n\n[offer]\npythons = 3.11\n",
                "agent.ini:4: unknown section [offer]",
            ),
            (
                "[agent]\ntoken = t\nslots = 0\n",
                "agent.ini:3: slots must be",
            ),
            (
                "[agent]\ntoken = t\nslots = many\n",
                "agent.ini:3: slots must be",
            ),
            (
                "[agent]\ntoken = t\n[offers]\npythons = 3.11, 3.12\n",
                "agent.ini:4: `3.12` is neither",
            ),
            (
                "[agent]\ntoken = t\n[offers]\nservices = 3.11\n",
                "agent.ini:4: `3.11` is neither a catalog service",
            ),
            (
                "[agent]\ntoken = t\ncoordinator_key = abc\n",
                "agent.ini:3: bad key",
            ),
            ("token = t\n", "agent.ini:1: keys must be inside"),
            (
                "[agent]\ntoken = t\ntoken = u\n",
                "agent.ini:2: `token` is given twice",
            ),
            (
                "[agent]\nname = x\n",
                "agent.ini: [agent] token is required",
            ),
            ("[agent\ntoken = t\n", "agent.ini:3: expecting"),
        ];
        for (text, want) in cases {
            let got = parse(text).expect_err(text);
            assert!(got.contains(want), "{text:?}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn limits_lower_the_machines_ceiling() {
        let c = parse(
            "[agent]\ntoken = t\n[limits]\nmemory = 4g\ncpus = 0.5\ntimeout = 1h\npids = 100000\nwheelhouse = 1g\n",
        )
        .unwrap();
        let machine = Ceiling::for_this_machine();
        assert_eq!(c.ceiling.memory, 4 << 30);
        assert_eq!(c.ceiling.cpus, 0.5);
        assert_eq!(c.ceiling.timeout, std::time::Duration::from_secs(3600));
        assert_eq!(c.ceiling.pids, machine.pids, "never above the machine's");
        assert_eq!(c.ceiling.disk, machine.disk);
        assert_eq!(c.ceiling.wheelhouse, 1 << 30);
        let err = parse("[agent]\ntoken = t\n[limits]\nmemory = lots\n").unwrap_err();
        assert!(err.contains("agent.ini:4: memory must be a size"), "{err}");
    }

    #[test]
    fn plain_http_needs_a_pinned_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::swarm::sign::Keypair::generate().public_hex();
        std::fs::write(dir.path().join("c.pub"), format!("{key}\n")).unwrap();
        std::fs::write(dir.path().join("bad.pub"), "nope\n").unwrap();
        let ini = dir.path().join("agent.ini");
        let config = |extra: &str| {
            AgentConfig::parse(&ini, &format!("[agent]\ntoken = t\n{extra}\n")).unwrap()
        };
        let pinned = format!("coordinator_key = {key}");
        type Case<'a> = (&'a str, &'a str, Result<Option<&'a str>, &'a str>);
        let cases: [Case; 7] = [
            ("", "https://swarm.example", Ok(None)),
            (
                "",
                "http://swarm.example:8642",
                Err("set [agent] coordinator_key"),
            ),
            ("", "http://127.0.0.1:8642", Err("is plain http")),
            (&pinned, "http://127.0.0.1:8642", Ok(Some(&key))),
            (
                "coordinator_key_file = c.pub",
                "http://c:8642",
                Ok(Some(&key)),
            ),
            (
                "coordinator_key_file = bad.pub",
                "https://c",
                Err("bad.pub"),
            ),
            (
                "coordinator_key_file = none.pub",
                "http://c",
                Err("none.pub"),
            ),
        ];
        for (extra, url, want) in cases {
            let got = config(extra).pinned_key(url);
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got.as_deref(), want, "{extra} {url}"),
                (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{url}: {e}"),
                (got, want) => panic!("{extra} {url}: {got:?}, want {want:?}"),
            }
        }
        let both = AgentConfig::parse(
            &ini,
            &format!("[agent]\ntoken = t\n{pinned}\ncoordinator_key_file = c.pub\n"),
        );
        assert!(both.unwrap_err().to_string().contains("agent.ini:4: give"));
    }

    #[test]
    fn line_of_finds_keys_only_in_their_section() {
        let text = "[a]\nx = 1\n[b]\n# x = 0\nx: 2\n";
        assert_eq!(line_of(text, Some("a"), Some("x")), Some(2));
        assert_eq!(line_of(text, Some("b"), Some("x")), Some(5));
        assert_eq!(line_of(text, Some("b"), None), Some(3));
        assert_eq!(line_of(text, Some("c"), Some("x")), None);
    }
}
