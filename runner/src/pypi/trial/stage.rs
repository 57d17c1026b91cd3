//! The source tree of a release test, on the host: the sdist unpacked (its top
//! directory stripped), and the release's files beside it in [`DIST_DIR`].
//!
//! An sdist is hostile input: only regular files and directories are unpacked, every
//! path must stay inside the tree (no absolute paths, no `..`), links and devices are
//! skipped, and the unpacked size and the number of entries are capped.

use super::recipe::{safe_filename, DIST_DIR};
use crate::untar::{hostile_tar, ExpandsPast, HeaderTooLarge, Limits};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// At most this many bytes are unpacked from an sdist.
pub const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;
/// At most this many entries are unpacked from an sdist.
pub const MAX_ENTRIES: usize = 50_000;
/// Both, for the cap on the decompressed stream ([`crate::untar::Limits::stream_bytes`]).
pub const LIMITS: Limits = Limits {
    max_bytes: MAX_UNPACKED_BYTES,
    max_entries: MAX_ENTRIES,
};

/// The sdist could not be unpacked, or the tree not written.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Reading the archive or writing the tree failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The archive is not one ponyswarm unpacks, or breaks a limit.
    #[error("sdist {file}: {reason}")]
    Refused {
        /// The sdist's file name.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StageError + '_ {
    move |source| StageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What unpacking skipped, for the report's notes.
#[derive(Debug, Default)]
pub struct Unpacked {
    /// Entries not unpacked, and why (links, devices, paths outside the tree).
    pub skipped: Vec<String>,
}

/// Unpacks the `.tar.gz` sdist at `archive` into `dest` (created), stripping the
/// top directory every sdist has (`name-version/`).
pub fn unpack_sdist(archive: &Path, dest: &Path) -> Result<Unpacked, StageError> {
    let file_name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let refused = |reason: String| StageError::Refused {
        file: file_name.clone(),
        reason,
    };
    if !(file_name.ends_with(".tar.gz") || file_name.ends_with(".tgz")) {
        return Err(refused(
            "only .tar.gz sdists are unpacked (PEP 625); the tests cannot be run".into(),
        ));
    }
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let f = std::fs::File::open(archive).map_err(io(archive))?;
    let tar = hostile_tar(flate2::read::GzDecoder::new(f), LIMITS.stream_bytes());
    unpack_entries(tar, archive, dest).map_err(|e| match e {
        StageError::Io { path, source } => {
            match (ExpandsPast::of(&source), HeaderTooLarge::of(&source)) {
                (Some(past), _) => refused(format!("the archive {past}")),
                (_, Some(header)) => refused(format!("the archive {header}")),
                _ => StageError::Io { path, source },
            }
        }
        other => other,
    })
}

fn unpack_entries(
    mut tar: tar::Archive<impl Read>,
    archive: &Path,
    dest: &Path,
) -> Result<Unpacked, StageError> {
    let file_name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let refused = |reason: String| StageError::Refused {
        file: file_name.clone(),
        reason,
    };
    let mut out = Unpacked::default();
    let mut total: u64 = 0;
    let entries = tar.entries().map_err(io(archive))?;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(refused(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut entry = entry.map_err(io(archive))?;
        let raw = entry.path().map_err(io(archive))?.into_owned();
        let Some(rel) = inside_path(&raw) else {
            out.skipped
                .push(format!("{}: outside the tree", raw.display()));
            continue;
        };
        if rel.as_os_str().is_empty() || rel.starts_with(DIST_DIR) {
            continue;
        }
        let target = dest.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(io(&target))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total = total.saturating_add(entry.size());
                if total > MAX_UNPACKED_BYTES {
                    return Err(refused(format!(
                        "unpacks to more than {MAX_UNPACKED_BYTES} bytes"
                    )));
                }
                write_entry(&mut entry, &target)?;
            }
            other => out.skipped.push(format!(
                "{}: {other:?} entries are not unpacked",
                rel.display()
            )),
        }
    }
    Ok(out)
}

/// The entry's path without its top directory, when every component is a plain name.
fn inside_path(raw: &Path) -> Option<PathBuf> {
    let mut parts = raw.components();
    match parts.next()? {
        Component::Normal(_) => {}
        _ => return None,
    }
    let mut rel = PathBuf::new();
    for c in parts {
        match c {
            Component::Normal(p) => rel.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(rel)
}

fn write_entry(entry: &mut impl Read, target: &Path) -> Result<(), StageError> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    // A directory entry may have been written as a file by an earlier entry: refuse
    // to follow anything that is not a plain file we create ourselves.
    if std::fs::symlink_metadata(target).is_ok_and(|m| !m.is_file()) {
        return Ok(());
    }
    let mut f = std::fs::File::create(target).map_err(io(target))?;
    std::io::copy(entry, &mut f).map_err(io(target))?;
    Ok(())
}

/// Copies the release's downloaded files into `src/.ponyswarm-dist/`; returns the
/// file names as they are there. A name that is not safe on a command line is an
/// error naming it.
pub fn copy_dists(files: &[(String, PathBuf)], src: &Path) -> Result<Vec<String>, StageError> {
    let dir = src.join(DIST_DIR);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut names = Vec::new();
    for (name, path) in files {
        if !safe_filename(name) {
            return Err(StageError::Refused {
                file: name.clone(),
                reason: "the file name has characters ponyswarm does not pass to pip".into(),
            });
        }
        let to = dir.join(name);
        std::fs::copy(path, &to).map_err(io(path))?;
        names.push(name.clone());
    }
    let script = dir.join(super::recipe::IN_PLACE_SCRIPT);
    std::fs::write(&script, IN_PLACE).map_err(io(&script))?;
    Ok(names)
}

/// The script that completes the tree as an in-place build would (see
/// [`super::recipe::with_in_place`]).
const IN_PLACE: &str = include_str!("in_place.py");

/// Files bigger than this are not read for the test setup: real configs and
/// requirements files are a few KiB.
const MAX_SETUP_BYTES: u64 = 256 * 1024;

/// The texts of the files [`crate::pypi::testdeps::wanted`] names among `files` (the
/// tree's relative paths), read from `src`; unreadable, too big or non-UTF-8 files
/// are left out.
pub fn setup_texts(src: &Path, files: &[String]) -> std::collections::BTreeMap<String, String> {
    let wanted: Vec<String> = files
        .iter()
        .filter(|f| crate::pypi::testdeps::wanted(f))
        .cloned()
        .collect();
    setup_texts_of(src, &wanted)
}

/// The texts of `files` (relative paths) read from `src`, as [`setup_texts`] reads
/// them.
pub fn setup_texts_of(src: &Path, files: &[String]) -> std::collections::BTreeMap<String, String> {
    files
        .iter()
        .filter_map(|f| {
            let path = src.join(f);
            let meta = std::fs::symlink_metadata(&path).ok()?;
            if !meta.is_file() || meta.len() > MAX_SETUP_BYTES {
                return None;
            }
            Some((f.clone(), std::fs::read_to_string(&path).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dist_directory_holds_no_python_module_for_the_tests_to_collect() {
        let src = tempfile::tempdir().unwrap();
        let wheel = src.path().join("pony-1.0-py3-none-any.whl");
        std::fs::write(&wheel, "zip").unwrap();
        let names =
            copy_dists(&[("pony-1.0-py3-none-any.whl".into(), wheel)], src.path()).expect("copied");
        assert_eq!(names, ["pony-1.0-py3-none-any.whl"]);
        let mut there: Vec<String> = std::fs::read_dir(src.path().join(DIST_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        there.sort();
        assert_eq!(there, ["in-place", "pony-1.0-py3-none-any.whl"]);
        assert!(there.iter().all(|n| !n.ends_with(".py")), "{there:?}");
    }

    #[test]
    fn paths_must_stay_inside() {
        let cases = [
            ("pony-1.0/setup.py", Some("setup.py")),
            ("pony-1.0/pkg/./a.py", Some("pkg/a.py")),
            ("pony-1.0/", Some("")),
            ("pony-1.0/../x", None),
            ("/etc/passwd", None),
            ("../x", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                inside_path(Path::new(raw)),
                want.map(PathBuf::from),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_pax_bomb_is_refused_naming_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("pony-1.0.tar.gz");
        let bomb = crate::untar::bombs::pax_header(LIMITS.stream_bytes() + 1);
        std::fs::write(&archive, bomb).unwrap();
        let err = unpack_sdist(&archive, &dir.path().join("src")).expect_err("a bomb");
        let text = err.to_string();
        assert!(matches!(err, StageError::Refused { .. }), "{text}");
        assert!(
            text.starts_with(
                "sdist pony-1.0.tar.gz: the archive has a PAX extended header claiming"
            ),
            "{text}"
        );
    }
}
