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

use super::as_of::{AsOf, Resolution};
use super::report::{facts_of, FileReport, InstallReport, ReleaseReport, TestSuite};
use super::{DistFile, DistKind, Release};
use crate::detect::{self, runner_of, SourceTree};
use crate::plan::{self, Selection};
use crate::run::progress::OutputMode;
use crate::run::{self as runs, RunOptions};
use crate::sandbox::egress::Egress;
use crate::sandbox::images::ImageOptions;
use bollard::Docker;
use std::collections::BTreeMap;
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
    /// When the test tools and dependencies are resolved as of (see
    /// [`super::as_of`]); default: as of the release's upload.
    pub as_of: AsOf,
}

impl TrialOptions {
    /// Defaults: Python 3.11, no egress settings, default images, no extra index, 15
    /// minutes per job, quiet output, dependencies as of the release's upload, work
    /// in `work_dir`.
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
            as_of: AsOf::Release,
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

/// The files a release test installs: the first sdist (not yanked first), and for
/// each Python the wheel its interpreter takes, the most specific (see
/// [`super::wheel_tags`]), not yanked first. The wheels chosen per Python, and a note
/// for each Python that no wheel fits.
struct Choice<'a> {
    picked: Vec<&'a (DistFile, PathBuf)>,
    wheels: Vec<(String, String)>,
    notes: Vec<String>,
    /// How many Pythons the release is tested on.
    pythons: usize,
}

fn chosen<'a>(files: &'a [(DistFile, PathBuf)], pythons: &[String]) -> Choice<'a> {
    let sdist = files
        .iter()
        .filter(|(f, _)| f.kind == DistKind::Sdist)
        .min_by_key(|(f, _)| f.yanked);
    let tier = |yanked: bool| -> Vec<&str> {
        files
            .iter()
            .filter(|(f, _)| f.kind == DistKind::Wheel && f.yanked == yanked)
            .map(|(f, _)| f.filename.as_str())
            .collect()
    };
    let (wheels, notes) =
        super::wheel_tags::choose(pythons, &[tier(false), tier(true)], sdist.is_some());
    let mut picked: Vec<&(DistFile, PathBuf)> = files
        .iter()
        .filter(|(f, _)| wheels.iter().any(|(_, w)| *w == f.filename))
        .collect();
    picked.extend(sdist);
    Choice {
        picked,
        wheels,
        notes,
        pythons: pythons.len(),
    }
}

/// Installs and tests `release` (its downloaded, verified `files`) on every Python of
/// `opts`: the wheel and the sdist each in a job of their own.
pub async fn test_release(
    docker: &Docker,
    release: &Release,
    files: &[(DistFile, PathBuf)],
    opts: &TrialOptions,
) -> Result<ReleaseReport, TrialError> {
    let choice = chosen(files, &opts.pythons);
    if choice.picked.is_empty() {
        return Err(TrialError::NothingToInstall {
            name: release.name.clone(),
            version: release.version.clone(),
        });
    }
    let run_id = runs::new_run_id();
    let stage_dir = opts.work_dir.join(format!("pypi-{run_id}"));
    let result = in_stage(docker, release, files, &choice, opts, &stage_dir, &run_id).await;
    // The tree and the run's scratch results are not kept: the report is.
    let _ = std::fs::remove_dir_all(&stage_dir);
    result
}

async fn in_stage(
    docker: &Docker,
    release: &Release,
    files: &[(DistFile, PathBuf)],
    choice: &Choice<'_>,
    opts: &TrialOptions,
    stage_dir: &Path,
    run_id: &str,
) -> Result<ReleaseReport, TrialError> {
    let src = stage_dir.join("src");
    let picked = &choice.picked;
    let mut notes = choice.notes.clone();
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
    let mut setup = author_setup(release, &src, &tree, opts, &mut notes);
    let django = django_app(release, &src, &tree, &detected, &mut setup, &mut notes);
    let suite = TestSuite {
        found: recipe::has_tests(&tree),
        command: setup
            .command
            .as_ref()
            .map_or(detected.command.clone(), |c| c.command.clone()),
        reason: setup.command.as_ref().map_or(detected.reason.clone(), |c| {
            format!("the author's: {}", c.source)
        }),
        dependencies: setup.dependencies.clone(),
    };
    let mut jobs = Jobs::new(release, choice, &suite, &setup, &mut notes);
    let wheels: Vec<String> = choice.wheels.iter().map(|(_, w)| w.clone()).collect();
    if suite.found && recipe::has_compiled_parts(&wheels, &tree) {
        jobs.test = Some(recipe::with_in_place(&release.name, &suite.command));
        notes.push(
            "compiled modules: before the tests, the tree's packages get the installed \
             ones, as the in-place build of upstream CI would have them"
                .into(),
        );
    }
    jobs.services = django.services;
    jobs.env = django.env;
    jobs.resolution = Resolution::of(opts.as_of, &release.files, &opts.pythons);
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
    let declared = declared_names(release, &setup, &tree);
    let installs: Vec<InstallReport> = outcomes
        .into_iter()
        .map(|(python, dist, filename, outcome)| {
            let evidence = super::judgement::Evidence {
                suite_found: suite.found,
                declared: declared.clone(),
                guarded: guarded_imports(&src, &tree, &outcome),
            };
            let mut r = InstallReport::from_outcome(&python, dist, &filename, suite.found, outcome);
            r.judged = super::judgement::judge(&r.outcome, &evidence);
            r
        })
        .collect();
    let mut facts = facts_of(&file_reports, suite.found, &installs);
    facts.description_renders = describe::description_renders(
        docker,
        &release.metadata,
        opts,
        &describe::RunWheels {
            prepare: &jobs.prepare,
            src: &src,
            cutoff: jobs.resolution.cutoff.as_deref(),
        },
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
        resolution: Some(jobs.resolution),
    })
}

/// The author's test setup read from the sdist's files (see [`super::testdeps`]),
/// for the first Python of `opts`; what was not used goes to `notes`.
fn author_setup(
    release: &Release,
    src: &Path,
    tree: &SourceTree,
    opts: &TrialOptions,
    notes: &mut Vec<String>,
) -> super::testdeps::TestSetup {
    let texts = stage::setup_texts(src, tree.files());
    let python = opts
        .pythons
        .first()
        .map(|p| super::wheel_tags::Interpreter::of_catalog(p).version)
        .unwrap_or((3, 11));
    let meta = &release.metadata;
    let setup = super::testdeps::discover(&super::testdeps::Inputs {
        texts: &texts,
        requires_dist: &meta.requires_dist,
        python,
        pytest_configured: detect::pytest_configured(tree),
    });
    notes.extend(setup.notes.iter().cloned());
    setup
}

/// What the release declares, for telling a missing declaration from a failing
/// test: its name, its `Requires-Dist` and test dependencies, and the top-level
/// modules its sdist ships (at the top or under `src/`).
fn declared_names(
    release: &Release,
    setup: &super::testdeps::TestSetup,
    tree: &SourceTree,
) -> super::judgement::Declared {
    use super::testdeps::normalized_name;
    let mut names = vec![release.name.clone()];
    names.extend(
        release
            .metadata
            .requires_dist
            .iter()
            .map(|r| normalized_name(r)),
    );
    names.extend(
        setup
            .dependencies
            .iter()
            .map(|d| normalized_name(&d.requirement)),
    );
    for f in tree.files() {
        let f = f.strip_prefix("src/").unwrap_or(f);
        let top = f.split('/').next().unwrap_or(f);
        names.push(top.strip_suffix(".py").unwrap_or(top).to_string());
    }
    super::judgement::Declared::new(names)
}

/// The guarded imports (`try: import x … except ImportError`) of the test modules
/// whose failures in `outcome` are `NameError`s, by failing test, read from the
/// unpacked sdist in `src`: what the judgement needs to tell a test's own `NameError`
/// from an optional import that failed (see [`super::judgement`]).
fn guarded_imports(
    src: &Path,
    tree: &SourceTree,
    outcome: &crate::outcome::JobOutcome,
) -> BTreeMap<String, Vec<super::pysource::Guarded>> {
    use super::pysource;
    let mut by_file: BTreeMap<String, Vec<pysource::Guarded>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for f in &outcome.failures {
        if super::judgement::name_error(&f.message).is_none() {
            continue;
        }
        let Some(file) = pysource::module_file(&f.test, tree.files()) else {
            continue;
        };
        if !by_file.contains_key(file) {
            let texts = stage::setup_texts_of(src, &[file.to_string()]);
            let guarded = texts
                .get(file)
                .map(|t| pysource::guarded_imports(t))
                .unwrap_or_default();
            by_file.insert(file.to_string(), guarded);
        }
        out.insert(f.test.clone(), by_file[file].clone());
    }
    out
}

/// What a Django app's jobs need besides the usual: a database service and the
/// environment that points its settings at it.
#[derive(Default)]
struct DjangoApp {
    services: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

/// A release that depends on Django and ships a test settings module: run with
/// Django's runner and that module (unless the author's command or pytest,
/// configured, or a `runtests.py` already runs it), with the database its settings
/// name (see [`super::django`]).
///
/// A Django app whose tests pytest runs gets pytest-django when it declares none:
/// Django's `TestCase` under plain pytest never has its test database made ("no
/// such table"), and the repositories of such apps install it from files their sdists
/// do not ship.
fn django_app(
    release: &Release,
    src: &Path,
    tree: &SourceTree,
    detected: &detect::TestCommand,
    setup: &mut super::testdeps::TestSetup,
    notes: &mut Vec<String>,
) -> DjangoApp {
    use super::django;
    let mut app = DjangoApp::default();
    if !django::depends_on_django(&release.metadata.requires_dist) {
        return app;
    }
    let read = |f: &str| {
        let text = stage::setup_texts_of(src, &[f.to_string()]);
        text.into_values().next()
    };
    if let Some((module, file)) = django::settings_module(tree.files(), read) {
        app.env
            .push(("DJANGO_SETTINGS_MODULE".into(), module.clone()));
        let own_runner =
            detected.runner == detect::Runner::Django || detect::pytest_configured(tree);
        if setup.command.is_none() && !own_runner {
            setup.command = Some(super::testdeps::AuthorCommand {
                command: django::command(&module),
                source: format!("Django's runner with the settings in {file}"),
            });
        }
        let text = stage::setup_texts_of(src, std::slice::from_ref(&file));
        if let Some(db) = text.get(&file).and_then(|t| django::database(t)) {
            let (name, image) = db.service();
            app.services.push((name.into(), image.into()));
            app.env.extend(db.env());
            notes.push(format!("{file} uses {image}: the jobs start it"));
        }
    }
    if let Some(dep) = implied_pytest_django(setup, detected) {
        setup.dependencies.push(dep);
    }
    app
}

/// pytest-django for a Django app whose tests pytest runs (by the author's command or
/// as detected) and which declares none (see [`django_app`]).
fn implied_pytest_django(
    setup: &super::testdeps::TestSetup,
    detected: &detect::TestCommand,
) -> Option<super::testdeps::Dependency> {
    let runs_pytest = setup
        .command
        .as_ref()
        .map_or(detected.runner == detect::Runner::Pytest, |c| {
            detect::runner_of(&c.command) == detect::Runner::Pytest
        });
    let declared = setup
        .dependencies
        .iter()
        .any(|d| super::testdeps::normalized_name(&d.requirement) == "pytest-django");
    (runs_pytest && !declared).then(|| super::testdeps::Dependency {
        requirement: "pytest-django".into(),
        source: "ponyswarm: a Django app's tests under pytest need pytest-django for their \
                 test database, and the release declares none"
            .into(),
    })
}

/// The jobs of a release test, before they run.
struct Jobs {
    /// The wheel of each Python that has one.
    wheels: Vec<(String, String)>,
    sdist: Option<String>,
    extras: Vec<String>,
    /// What every job's prepare fetches for.
    prepare: Vec<String>,
    /// The author's test dependencies.
    test_deps: Vec<String>,
    /// The author's test command, if one was read.
    test: Option<String>,
    /// Services the jobs start (name, image).
    services: Vec<(String, String)>,
    /// The jobs' environment templates.
    env: Vec<(String, String)>,
    /// As of when their dependencies are resolved.
    resolution: Resolution,
}

/// One job's result: Python, what it installed (kind and file), its outcome.
type JobResult = (String, DistKind, String, crate::outcome::JobOutcome);

impl Jobs {
    fn new(
        release: &Release,
        choice: &Choice<'_>,
        suite: &TestSuite,
        setup: &super::testdeps::TestSetup,
        notes: &mut Vec<String>,
    ) -> Jobs {
        let file = |kind| {
            choice
                .picked
                .iter()
                .find(|(f, _)| f.kind == kind)
                .map(|(f, _)| f.filename.clone())
        };
        let mut extras = recipe::test_extras(&release.metadata.requires_dist);
        for e in &setup.extras {
            let declared = super::testdeps::declared_extras(&release.metadata.requires_dist);
            if !extras.contains(e) && declared.contains(e) {
                extras.push(e.clone());
            }
        }
        if suite.found && !extras.is_empty() {
            notes.push(format!("test extras installed: {}", extras.join(", ")));
        }
        let meta = &release.metadata;
        // One wheel for every Python: dependencies are fetched through it. Wheels
        // that differ per Python would not install on the others' prepare, so then
        // through Requires-Dist.
        let common = (choice.wheels.len() == choice.pythons)
            .then(|| recipe::common_wheel(&choice.wheels))
            .flatten();
        let (mut prepare, skipped) = recipe::prepare_commands(
            common,
            &extras,
            &meta.requires_dist,
            runner_of(&suite.command),
        );
        notes.extend(skipped);
        let test_deps: Vec<String> = setup
            .dependencies
            .iter()
            .map(|d| d.requirement.clone())
            .collect();
        prepare.extend(recipe::deps_command(&test_deps));
        let needs_renderer = describe::without_renderer(
            meta.description.as_deref(),
            meta.description_content_type.as_deref(),
        )
        .is_none();
        if needs_renderer {
            prepare.push(format!("pip install {}", describe::RENDERER));
        }
        Jobs {
            wheels: choice.wheels.clone(),
            sdist: file(DistKind::Sdist),
            extras,
            prepare,
            test_deps,
            test: setup.command.as_ref().map(|c| c.command.clone()),
            services: Vec::new(),
            env: Vec::new(),
            resolution: Resolution::of(AsOf::Now, &[], &[]),
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
            wheels: self.wheels.clone(),
            sdist: self.sdist.clone(),
            extras: self.extras.clone(),
            prepare: self.prepare.clone(),
            test_deps: self.test_deps.clone(),
            test: self.test.clone(),
            services: self.services.clone(),
            env: self.env.clone(),
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
        run_opts.resolved_as_of = self.resolution.cutoff.clone();
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
        if is_sdist {
            return (DistKind::Sdist, self.sdist.clone().unwrap_or_default());
        }
        let python = matrix.get("python").map(|v| v.text()).unwrap_or_default();
        let wheel = self.wheels.iter().find(|(p, _)| *p == python);
        (
            DistKind::Wheel,
            wheel.map(|(_, w)| w.clone()).unwrap_or_default(),
        )
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
/// address on that network (when the engine lists only the subnet, its first
/// address, which Docker gives the gateway). Other URLs are returned as they are.
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
    match crate::sandbox::network::bridge_gateway(docker).await {
        Some(g) if parsed.set_host(Some(&g)).is_ok() => parsed.to_string(),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pypi::testdeps::{AuthorCommand, Dependency, TestSetup};

    fn detected(runner: detect::Runner) -> detect::TestCommand {
        detect::TestCommand {
            runner,
            command: "python -m pytest".into(),
            reason: String::new(),
        }
    }

    fn dep(requirement: &str) -> Dependency {
        Dependency {
            requirement: requirement.into(),
            source: "tox.ini".into(),
        }
    }

    #[test]
    fn a_django_app_under_pytest_gets_pytest_django_unless_it_declares_it() {
        use detect::Runner::{Django, Pytest};
        let author = |command: &str| {
            Some(AuthorCommand {
                command: command.into(),
                source: "tox.ini".into(),
            })
        };
        let cases = [
            ("pytest detected", TestSetup::default(), Pytest, true),
            (
                "Django's runner detected",
                TestSetup::default(),
                Django,
                false,
            ),
            (
                "the author's pytest command",
                TestSetup {
                    command: author("pytest -q tests"),
                    ..TestSetup::default()
                },
                Django,
                true,
            ),
            (
                "the author's Django runner",
                TestSetup {
                    command: author("python runtests.py"),
                    ..TestSetup::default()
                },
                Pytest,
                false,
            ),
            (
                "pytest declared, pytest-django not",
                TestSetup {
                    dependencies: vec![dep("pytest")],
                    ..TestSetup::default()
                },
                Pytest,
                true,
            ),
            (
                "declared",
                TestSetup {
                    dependencies: vec![dep("Pytest_Django>=4")],
                    ..TestSetup::default()
                },
                Pytest,
                false,
            ),
        ];
        for (what, setup, runner, implied) in cases {
            let got = implied_pytest_django(&setup, &detected(runner));
            assert_eq!(got.is_some(), implied, "{what}");
            if let Some(d) = got {
                assert_eq!(d.requirement, "pytest-django", "{what}");
                assert!(d.source.contains("declares none"), "{what}");
            }
        }
    }
}
