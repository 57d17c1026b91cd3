//! The writable areas of a job's container (its work area, `/tmp`, its home): what the
//! install changed in them, and whether one filled up.
//!
//! With a read-only root these are the only places a job can write, so a listing of
//! them taken before the install and compared with one taken right after it finds
//! every file the install changed. (Docker's `container_changes` sees only the
//! container's writable layer, which a read-only root leaves empty.)
//!
//! Pure, but for [`list`] and [`usage`], which run `find` and `df` in the container.

use crate::sandbox::changes::ChangeKind;
use crate::sandbox::container::{Container, ContainerError, Exec, ExecEnd, ExecLimits};
use std::collections::BTreeMap;

/// Most bytes of listing read (some 300,000 paths); a larger tree is not compared.
pub const MAX_LISTING: usize = 32 << 20;

/// What is under the areas at one moment: each path (the areas themselves left out)
/// with what identifies its state: type, size, modification time, mode, owner and,
/// for a link, its target.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Listing {
    entries: BTreeMap<String, String>,
}

impl Listing {
    /// Reads the output of [`list_command`]. A record cut short at the end (the output
    /// was capped) is left out.
    pub fn parse(out: &[u8]) -> Listing {
        let mut fields = out.split(|b| *b == 0);
        let mut entries = BTreeMap::new();
        while let (Some(state), Some(path), Some(link)) =
            (fields.next(), fields.next(), fields.next())
        {
            if path.is_empty() {
                break;
            }
            let state = format!(
                "{} -> {}",
                String::from_utf8_lossy(state),
                String::from_utf8_lossy(link)
            );
            entries.insert(String::from_utf8_lossy(path).into_owned(), state);
        }
        Listing { entries }
    }

    /// How many paths it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no path.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The shell line that lists everything under `roots` for [`Listing::parse`]. Three
/// NUL-terminated fields a path (state, path, link target): no file name can contain a
/// NUL, so none can forge a record. `-xdev` keeps to each area; what cannot be read is
/// passed over. Exit 127 when the image has no `find`.
pub fn list_command(roots: &[&str]) -> String {
    format!(
        "[ -x /usr/bin/find ] || exit 127; \
         /usr/bin/find {} -xdev -mindepth 1 -printf '%y %s %T@ %m %U %G\\0%p\\0%l\\0' 2>/dev/null; \
         exit 0",
        quoted(roots)
    )
}

/// The changes from `before` to `after`, in path order: paths only in `after` are
/// added, paths only in `before` deleted, paths whose state differs changed.
pub fn compare(before: &Listing, after: &Listing) -> Vec<(String, ChangeKind)> {
    let mut changes: Vec<(String, ChangeKind)> = after
        .entries
        .iter()
        .filter_map(|(path, state)| match before.entries.get(path) {
            None => Some((path.clone(), ChangeKind::Added)),
            Some(old) if old != state => Some((path.clone(), ChangeKind::Changed)),
            Some(_) => None,
        })
        .collect();
    changes.extend(
        before
            .entries
            .keys()
            .filter(|path| !after.entries.contains_key(*path))
            .map(|path| (path.clone(), ChangeKind::Deleted)),
    );
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    changes
}

/// Why a listing could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The engine failed.
    #[error(transparent)]
    Docker(#[from] ContainerError),
    /// More than [`MAX_LISTING`] bytes of listing.
    #[error("more than {} MiB of file names: not compared", MAX_LISTING >> 20)]
    TooLarge,
    /// `find` did not run to its end.
    #[error("listing the files ended with {0:?} (does the image have GNU find?)")]
    Failed(ExecEnd),
}

/// Lists everything under `roots` in `container`, by `deadline`.
pub async fn list(
    container: &Container,
    roots: &[&str],
    limits: ExecLimits,
) -> Result<Listing, ListError> {
    let mut out = Vec::new();
    let mut over = false;
    let end = container
        .exec(
            &Exec::own_shell(list_command(roots)),
            limits,
            &mut |chunk: &[u8]| {
                if out.len() + chunk.len() > MAX_LISTING {
                    over = true;
                } else {
                    out.extend_from_slice(chunk);
                }
            },
        )
        .await?;
    match end {
        _ if over => Err(ListError::TooLarge),
        ExecEnd::Exited(0) => Ok(Listing::parse(&out)),
        other => Err(ListError::Failed(other)),
    }
}

/// How full one area is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Where it is mounted.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes still free.
    pub available: u64,
}

impl Usage {
    /// Whether a write would (nearly) fail: under 1% or 1 MiB left, whichever is more.
    /// (A writer that met "No space left on device" leaves less than its last write.)
    pub fn is_full(&self) -> bool {
        self.available < (self.size / 100).max(1 << 20)
    }
}

/// The shell line whose output [`parse_usage`] reads.
pub fn usage_command(roots: &[&str]) -> String {
    format!("/bin/df -P -B1 {} 2>/dev/null", quoted(roots))
}

/// Reads `df -P -B1`: a header, then `filesystem size used available capacity mount`
/// a line. Lines that do not parse are passed over.
pub fn parse_usage(text: &str) -> Vec<Usage> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let [_, size, _, available, _, path] = cols.as_slice() else {
                return None;
            };
            Some(Usage {
                path: path.to_string(),
                size: size.parse().ok()?,
                available: available.parse().ok()?,
            })
        })
        .collect()
}

/// How full each of `roots` is in `container` (empty when `df` cannot tell).
pub async fn usage(
    container: &Container,
    roots: &[&str],
    limits: ExecLimits,
) -> Result<Vec<Usage>, ContainerError> {
    let mut out = Vec::new();
    container
        .exec(
            &Exec::own_shell(usage_command(roots)),
            limits,
            &mut |chunk: &[u8]| {
                if out.len() < 64 << 10 {
                    out.extend_from_slice(chunk);
                }
            },
        )
        .await?;
    Ok(parse_usage(&String::from_utf8_lossy(&out)))
}

/// `roots` as shell words, each single-quoted.
fn quoted(roots: &[&str]) -> String {
    roots
        .iter()
        .map(|r| format!("'{}'", r.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChangeKind::{Added, Changed, Deleted};

    /// A listing as `find` prints it: (state, path, link target) each.
    fn listing(entries: &[(&str, &str, &str)]) -> Listing {
        let mut out = Vec::new();
        for (state, path, link) in entries {
            for field in [state, path, link] {
                out.extend_from_slice(field.as_bytes());
                out.push(0);
            }
        }
        Listing::parse(&out)
    }

    #[test]
    fn compare_finds_added_changed_and_deleted_paths() {
        let before = listing(&[
            ("d 60 1.0 755 1000 1000", "/work/src", ""),
            ("f 10 1.0 644 1000 1000", "/work/src/a.py", ""),
            ("f 10 1.0 644 1000 1000", "/work/src/gone.py", ""),
            ("l 3 1.0 777 1000 1000", "/work/src/link", "a.py"),
        ]);
        let after = listing(&[
            ("d 80 2.0 755 1000 1000", "/work/src", ""),
            ("f 10 1.0 644 1000 1000", "/work/src/a.py", ""),
            ("l 3 1.0 777 1000 1000", "/work/src/link", "/etc/passwd"),
            ("f 5 2.0 600 1000 1000", "/home/pony/.evil", ""),
        ]);
        assert_eq!(
            compare(&before, &after),
            [
                ("/home/pony/.evil".to_string(), Added),
                ("/work/src".to_string(), Changed),
                ("/work/src/gone.py".to_string(), Deleted),
                ("/work/src/link".to_string(), Changed),
            ]
        );
        assert_eq!(compare(&after, &after), []);
    }

    #[test]
    fn a_mode_or_owner_change_is_a_change() {
        let before = listing(&[("f 1 1.0 644 1000 1000", "/tmp/x", "")]);
        for state in ["f 1 1.0 4755 1000 1000", "f 1 1.0 644 0 1000"] {
            let after = listing(&[(state, "/tmp/x", "")]);
            assert_eq!(compare(&before, &after), [("/tmp/x".to_string(), Changed)]);
        }
    }

    #[test]
    fn names_with_newlines_and_spaces_survive() {
        let l = listing(&[("f 1 1.0 644 1000 1000", "/tmp/a b\nc", "")]);
        assert_eq!(l.len(), 1);
        assert!(l.entries.contains_key("/tmp/a b\nc"));
    }

    #[test]
    fn a_record_cut_short_is_left_out() {
        let l = Listing::parse(b"f 1 1.0 644 1000 1000\0/tmp/a\0\0f 1 1.0 644 1000 1000\0/tmp/");
        assert_eq!(l.len(), 1);
        assert!(Listing::parse(b"").is_empty());
    }

    #[test]
    fn usage_reads_df_and_knows_full() {
        let text = "Filesystem 1-blocks Used Available Capacity Mounted on\n\
                    tmpfs 67108864 67108864 0 100% /work\n\
                    tmpfs 536870912 4096 536866816 1% /tmp\n\
                    garbage\n";
        let usage = parse_usage(text);
        assert_eq!(
            usage,
            [
                Usage {
                    path: "/work".into(),
                    size: 64 << 20,
                    available: 0
                },
                Usage {
                    path: "/tmp".into(),
                    size: 512 << 20,
                    available: 536866816
                },
            ]
        );
        assert!(usage[0].is_full());
        assert!(!usage[1].is_full());
        let nearly = Usage {
            path: "/w".into(),
            size: 64 << 20,
            available: 512 << 10,
        };
        assert!(nearly.is_full(), "under 1 MiB left of a small area");
    }

    #[test]
    fn commands_quote_their_roots() {
        assert!(list_command(&["/work", "/tmp"]).contains("find '/work' '/tmp' -xdev"));
        assert_eq!(
            usage_command(&["/a'b"]),
            r"/bin/df -P -B1 '/a'\''b' 2>/dev/null"
        );
    }
}
