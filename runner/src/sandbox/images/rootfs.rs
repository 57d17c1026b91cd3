//! Making a Debian base image without a registry: `debootstrap --variant=minbase`
//! into a scratch directory, trimmed the way Docker's official slim images are, then
//! streamed into the engine as `docker import` does.
//!
//! The host needs root (debootstrap creates device nodes and files owned by other
//! users, and chroots) and the `debootstrap` package; the mirror comes from
//! `PONYSWARM_DEBIAN_MIRROR` (default <http://deb.debian.org/debian>).
//!
//! The file system is packed by GNU tar as a child process rather than the `tar`
//! crate: tar keeps hard links as links (the crate stores each as a full copy),
//! keeps extended attributes such as file capabilities, and is already on every
//! host that has debootstrap. Its output is streamed into the engine, never written
//! to disk.
//!
//! The file system is made in a [`Scratch`] directory, removed afterwards.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bollard::query_parameters::{CreateImageOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use super::progress::Progress;
use super::scratch::Scratch;
use super::{local_id, ImageError, DEFAULT_DEBIAN_MIRROR};
use crate::sandbox::docker::{for_long_calls, next_or_stall, STALL};
use crate::sandbox::labels;

/// Lines of debootstrap output kept for an error.
const TAIL_LINES: usize = 20;

/// Trims the fresh file system the way Docker's official Debian images are made
/// (debuerreotype's "slim" variant): apt and dpkg configured not to keep caches,
/// documentation or translations, the host's identity removed, and the suite's
/// updates (and, on Debian's own mirror, security updates) in the sources, but for
/// the unstable suite, which has neither.
/// Arguments: the root directory, the suite, the mirror, whether to add security.
const TRIM_SCRIPT: &str = r#"
set -eu
root=$1 suite=$2 mirror=$3 security=$4
cd "$root"

cat > etc/apt/apt.conf.d/docker-clean <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' > etc/apt/apt.conf.d/docker-no-languages
echo 'Acquire::GzipIndexes "true";' > etc/apt/apt.conf.d/docker-gzip-indexes
echo 'Apt::AutoRemove::SuggestsImportant "false";' > etc/apt/apt.conf.d/docker-autoremove-suggests
mkdir -p etc/dpkg/dpkg.cfg.d
cat > etc/dpkg/dpkg.cfg.d/docker <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF

# The unstable suite has neither updates nor security suites: it is updated itself.
{
  echo "deb $mirror $suite main"
  case "$suite" in sid|unstable) ;; *)
    echo "deb $mirror $suite-updates main"
    if [ "$security" = yes ]; then
      echo "deb http://deb.debian.org/debian-security $suite-security main"
    fi
  esac
} > etc/apt/sources.list

find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find usr/share/doc -mindepth 1 -depth -type d -empty -delete
rm -rf usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/lintian/*
rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/log/*.log tmp/*
# Docker provides these per container; the host's must not end up in the image.
: > etc/resolv.conf
: > etc/hostname
rm -f etc/machine-id var/lib/dbus/machine-id
"#;

/// Makes the base for `suite` with debootstrap and imports it as `reference`
/// (`<prefix>/debian:<suite>`); returns its id.
pub(super) async fn make(
    docker: &Docker,
    suite: &str,
    mirror: &str,
    reference: &str,
    progress: &Progress,
) -> Result<String, ImageError> {
    let debootstrap = preflight(suite)?;
    let io = |what: &str| {
        let (suite, what) = (suite.to_owned(), what.to_owned());
        move |source| ImageError::BaseIo {
            suite,
            what,
            source,
        }
    };
    let scratch = Scratch::create(suite).map_err(io("creating a scratch directory"))?;
    let root = scratch.path().join("rootfs");
    tracing::info!(%suite, %mirror, dir = %root.display(), "debootstrap");

    let mut cmd = Command::new(debootstrap);
    cmd.arg("--variant=minbase")
        .arg(suite)
        .arg(&root)
        .arg(mirror);
    run_logged(cmd, suite, mirror, "debootstrap", progress).await?;

    progress.set("trimming the file system");
    let security = if mirror.trim_end_matches('/') == DEFAULT_DEBIAN_MIRROR {
        "yes"
    } else {
        "no"
    };
    let mut trim = Command::new("sh");
    trim.args(["-c", TRIM_SCRIPT, "sh"])
        .arg(&root)
        .args([suite, mirror, security]);
    run_logged(trim, suite, mirror, "trimming the file system", progress).await?;

    progress.set("importing into Docker");
    let id = import(docker, suite, &root, reference).await;
    scratch.remove().await;
    let id = id?;
    tracing::info!(%suite, %reference, %id, "base image made");
    Ok(id)
}

/// Checks what the host needs before starting: root, and debootstrap's path.
fn preflight(suite: &str) -> Result<PathBuf, ImageError> {
    if effective_uid().is_some_and(|uid| uid != 0) {
        return Err(ImageError::NeedsRoot {
            suite: suite.to_owned(),
        });
    }
    find_program("debootstrap").ok_or_else(|| ImageError::NeedsDebootstrap {
        suite: suite.to_owned(),
    })
}

/// The effective user id, from `/proc` (no libc binding needed); `None` if unknown,
/// in which case debootstrap itself will complain.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// `name` on `PATH`, or in the sbin directories a non-login root shell may lack.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Runs `cmd`, showing its output lines on the progress bar and in the debug log,
/// and turns a failure into [`ImageError::BaseFailed`] with the last lines.
async fn run_logged(
    mut cmd: Command,
    suite: &str,
    mirror: &str,
    what: &str,
    progress: &Progress,
) -> Result<(), ImageError> {
    let failed = |message: String, tail: VecDeque<String>| ImageError::BaseFailed {
        suite: suite.to_owned(),
        mirror: mirror.to_owned(),
        message,
        tail: tail.into(),
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Cancelled with its caller (Ctrl-C): the scratch guard then cleans up.
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(format!("cannot start {what}: {e}"), VecDeque::new()))?;
    let mut out = child.stdout.take().map(|s| BufReader::new(s).lines());
    let mut err = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut tail = VecDeque::new();
    while out.is_some() || err.is_some() {
        let line = tokio::select! {
            l = next_line(&mut out), if out.is_some() => l,
            l = next_line(&mut err), if err.is_some() => l,
        };
        if let Some(line) = line {
            tracing::debug!(%suite, "{what}: {line}");
            progress.set(&line);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| failed(format!("waiting for {what}: {e}"), VecDeque::new()))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(format!("{what} failed ({status})"), tail))
    }
}

/// The next line of an output stream; sets it to `None` at its end.
async fn next_line<R: AsyncRead + Unpin>(
    lines: &mut Option<tokio::io::Lines<BufReader<R>>>,
) -> Option<String> {
    let reader = lines.as_mut()?;
    match reader.next_line().await {
        Ok(Some(line)) => Some(line),
        Ok(None) | Err(_) => {
            *lines = None;
            None
        }
    }
}

/// Streams `root` through `tar` into the engine's import, labelled as ponyswarm's.
async fn import(
    docker: &Docker,
    suite: &str,
    root: &Path,
    reference: &str,
) -> Result<String, ImageError> {
    let failed = |message: String| ImageError::BaseFailed {
        suite: suite.to_owned(),
        mirror: String::new(),
        message,
        tail: Vec::new(),
    };
    let (mut child, stdout, stderr) =
        spawn_tar(root).map_err(|e| failed(format!("cannot start tar: {e}")))?;

    let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
    let changes = vec![
        r#"CMD ["bash"]"#.to_owned(),
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        format!(r#"LABEL {}="1""#, labels::MANAGED),
        format!(r#"LABEL {}="debian:{suite}""#, labels::IMAGE),
    ];
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .message(&format!("debootstrap --variant=minbase {suite}"))
        .changes(changes)
        .build();
    let body = bollard::body_try_stream(read_chunks(stdout));
    let long = for_long_calls(docker);
    let mut stream = long.create_image(Some(options), Some(body), None);
    let mut engine_error = None;
    loop {
        match next_or_stall(&mut stream, STALL).await {
            Ok(Some(Ok(_))) => {}
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                engine_error = Some(ImageError::Docker {
                    image: reference.to_owned(),
                    action: "import",
                    source: e,
                });
                break;
            }
            Err(stalled) => {
                engine_error = Some(failed(format!("the import stalled: {stalled}")));
                break;
            }
        }
    }
    // Dropping the request closes tar's pipe, so tar cannot wait on it forever.
    drop(stream);
    let status = child.wait().await;
    let stderr = stderr.await.unwrap_or_default();
    if let Some(err) = engine_error {
        return Err(err);
    }
    let tar_failure = match status {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("tar failed ({s}): {}", stderr.trim())),
        Err(e) => Some(format!("waiting for tar: {e}")),
    };
    if let Some(message) = tar_failure {
        // The engine may have imported what tar wrote before failing: a partial file
        // system must not pass for a base.
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        let _ = docker.remove_image(reference, Some(options), None).await;
        return Err(failed(message));
    }
    local_id(docker, reference)
        .await?
        .ok_or_else(|| failed(format!("the import ended without {reference}")))
}

/// Starts `tar` packing `root` to its stdout; its stderr is collected by a task, so a
/// chatty tar cannot block on a full pipe.
fn spawn_tar(
    root: &Path,
) -> std::io::Result<(Child, ChildStdout, tokio::task::JoinHandle<String>)> {
    let mut tar = Command::new("tar");
    tar.args(["--create", "--file=-", "--numeric-owner"])
        .args(["--xattrs", "--xattrs-include=*"])
        .arg("--directory")
        .arg(root)
        // Docker mounts its own /dev, /proc and /sys; only the empty directories go in.
        .args([
            "--exclude=./dev/*",
            "--exclude=./proc/*",
            "--exclude=./sys/*",
        ])
        .arg(".")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = tar.spawn()?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(std::io::Error::other("tar's output pipes are missing"));
    };
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    Ok((child, stdout, stderr))
}

/// A reader as a stream of chunks, for a streaming request body.
fn read_chunks<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf.into()), Some(reader)))
            }
            // Report the error once, then end.
            Err(e) => Some((Err(e), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_read_from_proc() {
        // The tests run as root on the CI machine, but need not elsewhere.
        assert!(effective_uid().is_some());
    }

    #[test]
    fn errors_say_what_the_host_needs() {
        let root = ImageError::NeedsRoot {
            suite: "bookworm".into(),
        }
        .to_string();
        assert!(
            root.contains("root") && root.contains("debian:bookworm-slim"),
            "{root}"
        );
        let missing = ImageError::NeedsDebootstrap {
            suite: "trixie".into(),
        }
        .to_string();
        assert!(missing.contains("apt-get install debootstrap"), "{missing}");
    }
}
