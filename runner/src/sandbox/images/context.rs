//! An image directory read into memory: its content hash and its build context.
//!
//! The hash is what makes tags trustworthy, so it covers everything a build reads
//! from the directory (every file, its path and whether it is executable) plus the
//! base image's id, and nothing else: not timestamps, and not the CA bundle that is
//! added to the context, which differs between hosts without changing the image.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ImageError;
use crate::sandbox::egress::BUILD_CONTEXT_CA_NAME;

/// Bumped when the hashing itself changes, so old tags stop matching.
const HASH_VERSION: &[u8] = b"ponyswarm-image-v1";

/// The files of one image directory.
#[derive(Debug)]
pub(super) struct Context {
    /// The catalog name, for errors.
    name: String,
    files: Vec<File>,
}

#[derive(Debug)]
struct File {
    /// Relative path with `/` separators.
    path: String,
    executable: bool,
    bytes: Vec<u8>,
}

impl Context {
    /// Reads every file under `dir` (recursively, sorted by path). `name` is the
    /// catalog name, for errors.
    pub(super) fn read(name: &str, dir: &Path) -> Result<Self, ImageError> {
        let err = |path: &Path| {
            let path = path.to_owned();
            move |source| ImageError::Context {
                name: name.to_owned(),
                path,
                source,
            }
        };
        let dockerfile = dir.join("Dockerfile");
        std::fs::metadata(&dockerfile).map_err(err(&dockerfile))?;
        let mut files = Vec::new();
        let mut pending = vec![(dir.to_owned(), String::new())];
        while let Some((abs, rel)) = pending.pop() {
            for entry in std::fs::read_dir(&abs).map_err(err(&abs))? {
                let entry = entry.map_err(err(&abs))?;
                let path: PathBuf = entry.path();
                let file_name = entry.file_name().to_string_lossy().into_owned();
                let rel = if rel.is_empty() {
                    file_name
                } else {
                    format!("{rel}/{file_name}")
                };
                // Follows symlinks: what the build sees is the target's content.
                let meta = std::fs::metadata(&path).map_err(err(&path))?;
                if meta.is_dir() {
                    pending.push((path, rel));
                } else if rel == BUILD_CONTEXT_CA_NAME {
                    let source = std::io::Error::other(format!(
                        "{BUILD_CONTEXT_CA_NAME} is reserved for the CA bundle ponyswarm adds"
                    ));
                    return Err(err(&path)(source));
                } else {
                    use std::os::unix::fs::PermissionsExt;
                    let bytes = std::fs::read(&path).map_err(err(&path))?;
                    let executable = meta.permissions().mode() & 0o111 != 0;
                    files.push(File {
                        path: rel,
                        executable,
                        bytes,
                    });
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self {
            name: name.to_owned(),
            files,
        })
    }

    /// The content hash (hex SHA-256) of these files built on the image `base_id`.
    pub(super) fn content_hash(&self, base_id: &str) -> String {
        let mut h = Sha256::new();
        h.update(HASH_VERSION);
        for f in &self.files {
            // Lengths keep the encoding unambiguous: no file can pose as two.
            h.update((f.path.len() as u64).to_le_bytes());
            h.update(f.path.as_bytes());
            h.update([u8::from(f.executable)]);
            h.update((f.bytes.len() as u64).to_le_bytes());
            h.update(&f.bytes);
        }
        h.update(b"base");
        h.update(base_id.as_bytes());
        hex::encode(h.finalize())
    }

    /// The build context: these files plus the CA bundle as `ponyswarm-ca.crt` (empty
    /// when there is none, so Dockerfiles can always `COPY` it), as a tar.gz.
    pub(super) fn tar_gz(&self, ca_bundle: &[u8]) -> Result<Vec<u8>, ImageError> {
        // Writing into memory only fails on a bug (an over-long path), not on I/O.
        self.write_tar_gz(ca_bundle)
            .map_err(|source| ImageError::Context {
                name: self.name.clone(),
                path: PathBuf::from("(build context)"),
                source,
            })
    }

    fn write_tar_gz(&self, ca_bundle: &[u8]) -> std::io::Result<Vec<u8>> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let ca = (BUILD_CONTEXT_CA_NAME, false, ca_bundle);
        let files = self
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.executable, &f.bytes[..]));
        for (path, executable, bytes) in files.chain([ca]) {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_mtime(0);
            tar.append_data(&mut header, path, bytes)?;
        }
        let mut gz = tar.into_inner()?;
        gz.flush()?;
        gz.finish()
    }

    /// The relative paths of the files, sorted.
    #[cfg(test)]
    fn paths(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.path.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    #[test]
    fn hash_covers_every_file_and_the_base() {
        let a = dir_with(&[("Dockerfile", "FROM x"), ("conf/a.cnf", "a")]);
        let ctx = Context::read("t", a.path()).unwrap();
        assert_eq!(ctx.paths(), ["Dockerfile", "conf/a.cnf"]);
        let h = ctx.content_hash("sha256:1");
        assert_eq!(
            h,
            Context::read("t", a.path())
                .unwrap()
                .content_hash("sha256:1")
        );
        assert_ne!(
            h,
            ctx.content_hash("sha256:2"),
            "a new base changes the hash"
        );

        std::fs::write(a.path().join("conf/a.cnf"), "b").unwrap();
        let changed = Context::read("t", a.path())
            .unwrap()
            .content_hash("sha256:1");
        assert_ne!(h, changed, "a changed file changes the hash");
    }

    #[test]
    fn ca_bundle_is_added_to_the_context() {
        let a = dir_with(&[("Dockerfile", "FROM x")]);
        let ctx = Context::read("t", a.path()).unwrap();
        let with = ctx.tar_gz(b"CERT").unwrap();
        let gz = flate2::read::GzDecoder::new(&with[..]);
        let names: Vec<String> = tar::Archive::new(gz)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", BUILD_CONTEXT_CA_NAME]);
    }

    #[test]
    fn missing_dockerfile_names_the_image_and_path() {
        let a = dir_with(&[("README", "")]);
        let err = Context::read("3.11", a.path()).unwrap_err().to_string();
        assert!(
            err.contains("image 3.11") && err.contains("Dockerfile"),
            "{err}"
        );
    }
}
