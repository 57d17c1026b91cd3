//! Trying a release: installing and testing it in sandboxed containers, as a matrix
//! run of its own: `python` × `dist` (wheel, sdist), each job a normal ponyswarm job.
//! The run's [`Spec`](crate::matrix::Spec) is built in code
//! ([`recipe::ReleaseMatrix`]) and planned through the front door
//! ([`crate::plan::from_spec`]), like any matrix file.
//!
//! A release test is "prepare with the network, then install and test offline"
//! exactly like a matrix job, so it goes through [`crate::run::run`]: the source tree
//! is the unpacked sdist with the release's files beside it ([`stage`]); a job's
//! install command is `pip install` of its file with the test extras; its test
//! command is what detection finds in the sdist; the file changes after the install
//! are recorded and flagged as for any job. What is release-specific is decided in
//! [`recipe`] (pure).
//!
//! ## Security
//! The release's own code (its `setup.py`, its tests) only runs in the offline install
//! and test phase. The prepare phase fetches dependencies through the wheel, whose
//! metadata pip reads without running anything; without a wheel, through the index's
//! `Requires-Dist`, never by building the sdist (see [`recipe::prepare_commands`]).

pub mod describe;
pub mod recipe;
pub mod stage;

use super::report::{facts_of, FileReport, InstallReport, ReleaseReport, TestSuite};
use super::{DistFile, DistKind, Release};
use crate::detect::{self, runner_of, SourceTree};
use crate::plan::{self, Selection};
use crate::run::progress::OutputMode;
use crate::run::{self as runs, RunOptions};
use crate::sandbox::egress::Egress;
use crate::sandbox::images::ImageOptions;
use bollard::Docker;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a release is tested.
#[derive(Debug, Clone)]
pub struct TrialOptions {
    /// The Pythons, as catalog names (`3.11`, `3.13`, `pypy3`). Default `3.11`.
    pub pythons: Vec<String>,
    /// CA bundle and proxy for the prepare phase (dependencies are fetched with the
    /// network; the release's code never has it).
    pub egress: Egress,
    /// How images are found or built.
    pub images: ImageOptions,
    /// An index to fetch dependencies from besides PyPI, as containers reach it (see
    /// [`container_index_url`]); `None` for PyPI alone.
    ///
    /// ## Security
    /// It is trusted over plain HTTP (`PIP_TRUSTED_HOST`) when its URL is `http://`.
    pub extra_index: Option<String>,
    /// Where the source tree and the run's results.json are made (a directory of its
    /// own per release is created inside).
    pub work_dir: PathBuf,
    /// Time allowed for each job (prepare, install and tests).
    pub timeout: Duration,
    /// Jobs at once.
    pub jobs: Option<usize>,
    /// Progress output.
    pub output: OutputMode,
    /// Cancelled on Ctrl-C: the jobs stop and their containers are removed.
    pub cancel: CancellationToken,
}

impl TrialOptions {
    /// Defaults: Python 3.11, no egress settings, default images, no extra index, 15
    /// minutes per job, quiet output, work in `work_dir`.
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        TrialOptions {
            pythons: vec!["3.11".to_string()],
            egress: Egress::none(),
            images: ImageOptions::default(),
            extra_index: None,
            work_dir: work_dir.into(),
            timeout: Duration::from_secs(15 * 60),
            jobs: None,
            output: OutputMode::Quiet,
            cancel: CancellationToken::new(),
        }
    }
}

/// Why a release could not be tested (a failing install or test is a result, not
/// this).
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The release has neither a wheel nor an sdist to try.
    #[error("{name} {version}: no wheel or sdist to install")]
    NothingToInstall {
        /// The project.
        name: String,
        /// The version.
        version: String,
    },
    /// The source tree could not be made.
    #[error(transparent)]
    Stage(#[from] stage::StageError),
    /// The generated matrix is invalid (a bug in ponyswarm).
    #[error("the release's jobs cannot be planned: {0}")]
    Plan(String),
    /// The run could not record its results.
    #[error(transparent)]
    Run(#[from] runs::RunError),
}

/// The files a release test installs: the first sdist, and the wheel most likely to
/// install in the Linux containers (a pure-Python one, else a Linux x86-64 one, else
/// the first), yanked ones last.
fn chosen(files: &[(DistFile, PathBuf)]) -> Vec<&(DistFile, PathBuf)> {
    let mut out = Vec::new();
    let rank = |f: &DistFile| {
        let name = &f.filename;
        let platform = if name.ends_with("-none-any.whl") {
            0
        } else if name.contains("linux") && name.contains("x86_64") {
            1
        } else {
            2
        };
        (f.yanked, platform)
    };
    for kind in [DistKind::Wheel, DistKind::Sdist] {
        let best = files
            .iter()
            .filter(|(f, _)| f.kind == kind)
            .min_by_key(|(f, _)| rank(f));
        out.extend(best);
    }
    out
}

/// Installs and tests `release` (its downloaded, verified `files`) on every Python of
/// `opts`: the wheel and the sdist each in a job of their own.
pub async fn test_release(
    docker: &Docker,
    release: &Release,
    files: &[(DistFile, PathBuf)],
    opts: &TrialOptions,
) -> Result<ReleaseReport, TrialError> {
    let picked = chosen(files);
    if picked.is_empty() {
        return Err(TrialError::NothingToInstall {
            name: release.name.clone(),
            version: release.version.clone(),
        });
    }
    let run_id = runs::new_run_id();
    let stage_dir = opts.work_dir.join(format!("pypi-{run_id}"));
    let result = in_stage(docker, release, files, &picked, opts, &stage_dir, &run_id).await;
    // The tree and the run's scratch results are not kept: the report is.
    let _ = std::fs::remove_dir_all(&stage_dir);
    result
}

async fn in_stage(
    docker: &Docker,
    release: &Release,
    files: &[(DistFile, PathBuf)],
    picked: &[&(DistFile, PathBuf)],
    opts: &TrialOptions,
    stage_dir: &Path,
    run_id: &str,
) -> Result<ReleaseReport, TrialError> {
    let src = stage_dir.join("src");
    let mut notes = Vec::new();
    std::fs::create_dir_all(&src).map_err(|source| stage::StageError::Io {
        path: src.clone(),
        source,
    })?;
    if let Some((sdist, path)) = picked.iter().find(|(f, _)| f.kind == DistKind::Sdist) {
        match stage::unpack_sdist(path, &src) {
            Ok(unpacked) => notes.extend(
                unpacked
                    .skipped
                    .into_iter()
                    .map(|s| format!("{}: not unpacked: {s}", sdist.filename)),
            ),
            Err(e) => notes.push(format!("tests not run: {e}")),
        }
    }
    let names: Vec<(String, PathBuf)> = picked
        .iter()
        .map(|(f, p)| (f.filename.clone(), p.clone()))
        .collect();
    stage::copy_dists(&names, &src)?;

    let tree = SourceTree::read(&src).map_err(|source| stage::StageError::Io {
        path: src.clone(),
        source,
    })?;
    let detected = detect::detect(&tree);
    let suite = TestSuite {
        found: recipe::has_tests(&tree),
        command: detected.command.clone(),
        reason: detected.reason.clone(),
    };
    let jobs = Jobs::new(release, picked, &suite, &mut notes);
    let outcomes = jobs.run(docker, release, opts, stage_dir, run_id).await?;

    let file_reports: Vec<FileReport> = files
        .iter()
        .map(|(f, _)| FileReport {
            filename: f.filename.clone(),
            kind: f.kind,
            sha256: f.sha256.clone(),
            tried: picked.iter().any(|(p, _)| p.filename == f.filename),
        })
        .collect();
    let installs: Vec<InstallReport> = outcomes
        .into_iter()
        .map(|(python, dist, filename, outcome)| {
            InstallReport::from_outcome(&python, dist, &filename, suite.found, outcome)
        })
        .collect();
    let mut facts = facts_of(&file_reports, suite.found, &installs);
    facts.description_renders = describe::description_renders(
        docker,
        &release.metadata,
        opts,
        &jobs.prepare,
        &src,
        run_id,
        &mut notes,
    )
    .await;
    Ok(ReleaseReport {
        name: release.name.clone(),
        version: release.version.clone(),
        tested_at: crate::time::timestamp(std::time::SystemTime::now()),
        run_id: run_id.to_string(),
        metadata: release.metadata.clone(),
        files: file_reports,
        tests: suite,
        installs,
        facts,
        score: None,
        notes,
    })
}

/// The jobs of a release test, before they run.
struct Jobs {
    wheel: Option<String>,
    sdist: Option<String>,
    extras: Vec<String>,
    /// What every job's prepare fetches for.
    prepare: Vec<String>,
}

/// One job's result: Python, what it installed (kind and file), its outcome.
type JobResult = (String, DistKind, String, crate::outcome::JobOutcome);

impl Jobs {
    fn new(
        release: &Release,
        picked: &[&(DistFile, PathBuf)],
        suite: &TestSuite,
        notes: &mut Vec<String>,
    ) -> Jobs {
        let file = |kind| {
            picked
                .iter()
                .find(|(f, _)| f.kind == kind)
                .map(|(f, _)| f.filename.clone())
        };
        let extras = recipe::test_extras(&release.metadata.requires_dist);
        if suite.found && !extras.is_empty() {
            notes.push(format!("test extras installed: {}", extras.join(", ")));
        }
        let wheel = file(DistKind::Wheel);
        let meta = &release.metadata;
        let (mut prepare, skipped) = recipe::prepare_commands(
            wheel.as_deref(),
            &extras,
            &meta.requires_dist,
            runner_of(&suite.command),
        );
        notes.extend(skipped);
        let needs_renderer = describe::without_renderer(
            meta.description.as_deref(),
            meta.description_content_type.as_deref(),
        )
        .is_none();
        if needs_renderer {
            prepare.push(format!("pip install {}", describe::RENDERER));
        }
        Jobs {
            wheel,
            sdist: file(DistKind::Sdist),
            extras,
            prepare,
        }
    }

    /// Plans the jobs, runs them, and pairs each outcome with what it installed.
    async fn run(
        &self,
        docker: &Docker,
        release: &Release,
        opts: &TrialOptions,
        stage_dir: &Path,
        run_id: &str,
    ) -> Result<Vec<JobResult>, TrialError> {
        let matrix = recipe::ReleaseMatrix {
            name: format!("{}-{}", release.name, release.version),
            pythons: opts.pythons.clone(),
            wheel: self.wheel.clone(),
            sdist: self.sdist.clone(),
            extras: self.extras.clone(),
            prepare: self.prepare.clone(),
            timeout: opts.timeout,
        };
        let spec = matrix.spec(&stage_dir.join("ponyswarm.yaml"));
        let plan::Plans { spec, jobs: plans } = plan::from_spec(spec, &Selection::all())
            .map_err(|e| TrialError::Plan(e.to_string()))?;
        let mut run_opts = RunOptions::new(stage_dir.join("run"));
        run_opts.run_id = run_id.to_string();
        run_opts.jobs = opts.jobs;
        run_opts.images = opts.images.clone();
        run_opts.egress = egress_with_index(&opts.egress, opts.extra_index.as_deref());
        run_opts.output = opts.output;
        run_opts.cancel = opts.cancel.clone();
        // A release's sdists run their publisher's build code.
        run_opts.trust = crate::run::prepare::Trust::Untrusted;
        let result = runs::run(docker, &spec, plans, run_opts).await?;
        Ok(result
            .jobs
            .into_iter()
            .map(|o| {
                let python = o.matrix.get("python").map(|v| v.text()).unwrap_or_default();
                let (kind, file) = self.file_of(&o.matrix);
                (python, kind, file, o)
            })
            .collect())
    }

    /// The kind and file a job installs, from its `dist` matrix value.
    fn file_of(&self, matrix: &crate::matrix::Combination) -> (DistKind, String) {
        let is_sdist = matrix.get("dist").is_some_and(|v| v.text() == "sdist");
        let (kind, file) = if is_sdist {
            (DistKind::Sdist, &self.sdist)
        } else {
            (DistKind::Wheel, &self.wheel)
        };
        (kind, file.clone().unwrap_or_default())
    }
}

/// The egress of the prepare phase with `index` added as an extra index: pip is told
/// where it is, to trust it over HTTP, and to reach it without the proxy.
pub fn egress_with_index(egress: &Egress, index: Option<&str>) -> Egress {
    let Some(index) = index else {
        return egress.clone();
    };
    let base = index.trim_end_matches('/');
    let mut out = egress
        .clone()
        .with_proxy("PIP_EXTRA_INDEX_URL", &format!("{base}/simple/"));
    if let Ok(url) = reqwest::Url::parse(base) {
        if let Some(host) = url.host_str() {
            if url.scheme() == "http" {
                out = out.with_proxy("PIP_TRUSTED_HOST", host);
            }
            let no_proxy = egress
                .proxy()
                .iter()
                .find(|(n, _)| n == "NO_PROXY")
                .map(|(_, v)| format!("{v},{host}"))
                .unwrap_or_else(|| host.to_string());
            out = out.with_proxy("NO_PROXY", &no_proxy);
        }
    }
    out
}

/// `url` as containers on the default bridge reach it: a loopback host
/// (`127.0.0.1`, `localhost`, `0.0.0.0`) becomes the bridge's gateway, the host's
/// address on that network. Other URLs are returned as they are.
pub async fn container_index_url(docker: &Docker, url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_string();
    };
    let loopback = matches!(
        parsed.host_str(),
        Some("127.0.0.1" | "localhost" | "0.0.0.0" | "[::1]")
    );
    if !loopback {
        return url.to_string();
    }
    let gateway = docker
        .inspect_network(
            "bridge",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .ok()
        .and_then(|n| n.ipam?.config?.into_iter().find_map(|c| c.gateway));
    match gateway {
        Some(g) if parsed.set_host(Some(&g)).is_ok() => parsed.to_string(),
        _ => url.to_string(),
    }
}
