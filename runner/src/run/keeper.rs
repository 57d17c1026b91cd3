//! The keeper of a wheelhouse: the one container of a prepare that mounts the
//! wheelhouse's volume writable. It runs only ponyswarm's own commands, by absolute
//! path ([`Exec::own_shell`]): it checks a wheelhouse against its manifest before
//! reuse, and copies a completed fill from the scratch (a tmpfs of
//! `limits.wheelhouse`, where the fetch and build containers wrote it) into the
//! volume, then hashes it. Code of the project or its dependencies never runs with
//! the volume mounted writable, so what the volume holds is bounded by the scratch.
//!
//! I/O: execs in the keeper container.

use super::prepare::PrepareError;
use crate::logcap::LogBuffer;
use crate::outcome::DISK_FULL_SIGNS;
use crate::sandbox::container::{Container, Exec, ExecEnd, ExecLimits};
use tokio::time::Instant;

/// Written last: a wheelhouse without it is incomplete and is filled again.
const MARKER: &str = "/wheels/.ponyswarm-complete";
/// `sha256sum` lines of every file of a complete wheelhouse, written before
/// [`MARKER`] (whose content is this file's digest).
const MANIFEST: &str = "/wheels/.ponyswarm-manifest";
/// Most output of one of the keeper's commands kept.
const MAX_OUTPUT: usize = 64 << 10;

/// Checks a wheelhouse against its manifest. Exit 0 with the marker's content:
/// complete and intact; 1: not complete; 2: complete but altered (its files are
/// removed, so it is filled again).
const VERIFY: &str = "cd /wheels || exit 1; [ -f .ponyswarm-complete ] || exit 1; \
    if [ -f .ponyswarm-manifest ] && sha256sum --check --quiet --strict .ponyswarm-manifest >/dev/null 2>&1 \
       && [ \"$(find . -maxdepth 1 -type f ! -name '.*' | wc -l)\" -eq \"$(wc -l < .ponyswarm-manifest)\" ]; \
    then cat .ponyswarm-complete; exit 0; fi; \
    find . -maxdepth 1 -type f -delete; exit 2";

/// The keeper at work for one prepare.
pub(super) struct Keeping<'a> {
    /// The container: the volume at `/wheels`, writable; the scratch at `/scratch`.
    pub keeper: &'a Container,
    /// The prepare's deadline.
    pub deadline: Instant,
    /// The prepare log.
    pub log: &'a mut String,
}

impl Keeping<'_> {
    /// The content digest of a complete, intact wheelhouse; `None` when it must be
    /// filled (never filled, or altered since: then emptied, with a warning).
    pub async fn verified(&mut self) -> Result<Option<String>, PrepareError> {
        match self.run(VERIFY.to_string()).await? {
            (0, content) => {
                self.log.push_str(
                    "wheelhouse complete already and matches its manifest: nothing fetched\n",
                );
                Ok(Some(content))
            }
            (2, _) => {
                self.log.push_str(
                    "warning: the wheelhouse's files do not match the manifest written when it was completed \
                     (changed after completion); emptied and filled again\n",
                );
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Copies the regular files of the scratch's directory `partial` into the
    /// volume, removes files of an earlier, unfinished fill that are not among them,
    /// then writes the manifest and the marker; returns the content digest.
    ///
    /// Files are copied to a directory of this fill's own and moved into place, so
    /// another process publishing the same wheelhouse at the same time, or a copy
    /// cut short, never leaves a marker over missing files. The copy is checked
    /// against `cap` first, though the scratch cannot hold more.
    pub async fn publish(&mut self, partial: &str, cap: u64) -> Result<String, PrepareError> {
        let from = format!("/scratch/{partial}");
        let incoming = format!(
            "/wheels/.incoming{}",
            partial.trim_start_matches(".partial")
        );
        let script = format!(
            "set -e; used=$(du -sb {from} | cut -f1); \
             if [ \"$used\" -gt {cap} ]; then echo \"the fill holds $used bytes\"; exit 3; fi; \
             rm -rf {incoming}; mkdir {incoming}; \
             find {from} -maxdepth 1 -type f -exec cp -t {incoming} -- {{}} +; \
             cd /wheels; \
             for f in *; do if [ -f \"$f\" ] && [ ! -e {incoming}/\"$f\" ]; then rm -f -- \"$f\"; fi; done; \
             for f in {incoming}/*; do if [ -e \"$f\" ]; then mv -f -- \"$f\" /wheels/; fi; done; \
             rmdir {incoming}; \
             find . -maxdepth 1 -type f ! -name '.*' -printf '%f\\n' | sort \
             | xargs -r -d '\\n' sha256sum -- > {MANIFEST}.tmp; mv -f {MANIFEST}.tmp {MANIFEST}; \
             sha256sum < {MANIFEST} | cut -c1-16 > {MARKER}; cat {MARKER}"
        );
        match self.run(script).await? {
            (0, content) => Ok(content),
            (3, out) => Err(PrepareError::Full {
                cap,
                step: format!("publish: {out}"),
                log: std::mem::take(self.log),
            }),
            (code, out) => Err(PrepareError::Fetch {
                step: format!("publish (exit {code}): {out}"),
                log: std::mem::take(self.log),
            }),
        }
    }

    /// Whether a failed fill, whose log is `log`, ran out of room: the log shows a
    /// write refused for lack of space (the scratch, or `/tmp` of the same size), or
    /// the scratch has less than 1 MiB left.
    pub async fn scratch_full(&mut self, log: &str) -> bool {
        if DISK_FULL_SIGNS.iter().any(|sign| log.contains(sign)) {
            return true;
        }
        let free = self
            .run("stat -f -c '%a %S' /scratch".to_string())
            .await
            .ok()
            .and_then(|(code, out)| {
                let (blocks, size) = out.split_once(' ')?;
                let free = blocks.parse::<u64>().ok()? * size.parse::<u64>().ok()?;
                (code == 0).then_some(free)
            });
        free.is_some_and(|free| free < 1 << 20)
    }

    /// Runs the shell line `line` of ponyswarm's own by the deadline: its exit code
    /// and output (trimmed).
    async fn run(&mut self, line: String) -> Result<(i64, String), PrepareError> {
        let mut out = LogBuffer::new(MAX_OUTPUT, std::time::Instant::now());
        let limits = ExecLimits {
            deadline: Some(self.deadline),
            no_output: None,
        };
        let end = self
            .keeper
            .exec(&Exec::own_shell(line), limits, &mut |b: &[u8]| {
                out.push(b, std::time::Instant::now())
            })
            .await?;
        match end {
            ExecEnd::Exited(code) => Ok((code, out.text().trim().to_string())),
            ExecEnd::TimedOut | ExecEnd::NoOutput(_) => Err(PrepareError::Timeout {
                log: std::mem::take(self.log),
            }),
        }
    }
}
