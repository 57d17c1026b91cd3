//! One job's life in the sandbox: images, its network and services, the wheelhouse,
//! then install and tests with the network off, and the collection of what happened.
//!
//! Returns facts ([`JobRecord`]), never a verdict: `run::record` turns them into an
//! outcome. A Docker failure ends the job with [`JobEnd::Error`]; every
//! container and the network are removed before this returns (and by their guards
//! when the job is cancelled under it).

use crate::detect::{runner_of, with_junit};
use crate::logcap::LogBuffer;
use crate::outcome::DISK_FULL_SIGNS;
use crate::plan::JobPlan;
use crate::run::environment::{
    project_reinstall, source_digest, venv_copy_command, venv_name, EnvError, EnvRequest,
    Environment, Environments, WarmRequest, ENV_VENV,
};
use crate::run::image_cache::ImageCache;
use crate::run::layout::{side_area, AREAS, HOME, JUNIT, PATH, SRC, VENV, WORK};
use crate::run::pip::project_targets;
use crate::run::prepare::{PrepareError, PrepareRequest, Wheelhouse, Wheelhouses, WHEELS};
use crate::run::progress::{Phase, Progress};
use crate::run::record::{JobEnd, JobRecord};
use crate::run::services::start_services;
use crate::run::source;
use crate::sandbox::areas;
use crate::sandbox::changes::ChangeKind;
use crate::sandbox::container::{Container, Exec, ExecEnd, ExecLimits, OomWatch, Tracker};
use crate::sandbox::images::{ImageOptions, ResolvedImage};
use crate::sandbox::network::Network;
use crate::sandbox::policy::{NetworkAccess, Owner, SandboxBuilder};
use crate::testresults::{junit, summary, Counts, Failure};
use bollard::Docker;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The longest a service may take to become healthy (within the job's timeout).
pub(super) const SERVICE_HEALTH_TIMEOUT: Duration = Duration::from_secs(180);

/// What every job of a run shares.
pub struct JobContext {
    /// The engine.
    pub docker: Docker,
    /// The run's live objects.
    pub tracker: Tracker,
    /// Labels for the run's objects (`job` is filled per job).
    pub owner: Owner,
    /// The source tree.
    pub source: PathBuf,
    /// How images are made.
    pub image_options: ImageOptions,
    /// The run's images, each resolved once.
    pub images: ImageCache,
    /// The run's wheelhouses.
    pub wheelhouses: Wheelhouses,
    /// The run's environment images.
    pub environments: Environments,
    /// The display.
    pub progress: Arc<Progress>,
    /// The most any job may take (see [`crate::matrix::Ceiling`]).
    pub ceiling: crate::matrix::Ceiling,
    /// Jobs' containers and networks on their way out: a job ends, and frees its
    /// slot, once its facts are in; its objects are removed meanwhile. The run waits
    /// for these before it ends.
    pub removals: tokio_util::task::TaskTracker,
}

/// One job under way: its record, built as it goes.
struct JobUnderWay<'a> {
    ctx: &'a JobContext,
    plan: &'a JobPlan,
    owner: Owner,
    log: LogBuffer,
    phases: Vec<(Phase, Duration)>,
    deadline: Instant,
    record_images: Vec<(String, String)>,
    wheelhouse: Option<(String, bool)>,
    install_changes: Vec<(String, ChangeKind)>,
    full_area: Option<String>,
}

/// Runs one job to its end and tears its containers down.
pub async fn run_job(ctx: &JobContext, plan: &JobPlan) -> JobRecord {
    let started = Instant::now();
    let mut clamped = plan.clone();
    let lowered = ctx.ceiling.clamp(&mut clamped.limits, &mut clamped.timeout);
    let plan = &clamped;
    let mut owner = ctx.owner.clone();
    owner.job = Some(plan.job.index);
    let mut job = JobUnderWay {
        ctx,
        plan,
        owner,
        log: LogBuffer::new(
            usize::try_from(plan.limits.log_size)
                .unwrap_or(usize::MAX)
                .max(1024),
            started.into_std(),
        ),
        phases: Vec::new(),
        deadline: started + plan.timeout,
        record_images: Vec::new(),
        wheelhouse: None,
        install_changes: Vec::new(),
        full_area: None,
    };
    for line in &lowered {
        job.note(&format!("ponyswarm: {line}"));
    }
    let mut objects = Objects::default();
    let result = job.go(&mut objects).await;
    // Teardown, timed as a phase: what the job's objects can still tell (services'
    // logs, an OOM kill), read now; their removal (main container, then services,
    // then the network) goes on after the job has ended (see `JobContext::removals`).
    let teardown = Instant::now();
    ctx.progress
        .phase(plan.job.index, &plan.job.name, Phase::Teardown);
    let (end, tested) = match result {
        Ok(done) => done,
        Err(end) => (end, None),
    };
    let service_logs = objects.service_logs(plan, &end).await;
    let oom_killed = objects.oom_killed(&end).await;
    let progress = ctx.progress.clone();
    ctx.removals.spawn(async move {
        for problem in objects.remove().await {
            progress.note(&format!("ponyswarm: {problem}"));
        }
    });
    job.phases.push((Phase::Teardown, teardown.elapsed()));
    let tested = tested.unwrap_or_default();
    JobRecord {
        end,
        phases: job.phases,
        images: job.record_images,
        wheelhouse: job.wheelhouse,
        counts: tested.counts,
        failures: tested.failures,
        junit_problem: tested.junit_problem,
        install_changes: job.install_changes,
        full_area: job.full_area,
        oom_killed,
        test_command: tested.command,
        log: job.log.text(),
        service_logs,
    }
}

/// The job's Docker objects, held so teardown happens whatever the job's path.
#[derive(Default)]
pub(super) struct Objects {
    pub(super) main: Option<Container>,
    pub(super) oom: Option<OomWatch>,
    pub(super) services: Vec<Container>,
    /// The pod holder: owns the network namespace the services and the job share.
    pub(super) holder: Option<Container>,
    pub(super) network: Option<Network>,
}

impl Objects {
    /// The tail of each service's output, unless the job's tests ran and passed
    /// (then nobody reads them).
    async fn service_logs(&self, plan: &JobPlan, end: &JobEnd) -> Vec<(String, String)> {
        if matches!(end, JobEnd::Tested(ExecEnd::Exited(0))) {
            return Vec::new();
        }
        let tails = self
            .services
            .iter()
            .map(|c| c.log_tail(crate::sandbox::service::LOG_TAIL));
        let tails = futures_util::future::join_all(tails).await;
        let names = plan.services.iter().map(|s| s.name.clone());
        names.zip(tails).collect()
    }

    /// Whether the kernel OOM-killed something in the job's container (`end` is how
    /// the job ended).
    async fn oom_killed(&self, end: &JobEnd) -> bool {
        let Some(main) = &self.main else { return false };
        let mut oom_killed = matches!(main.state().await, Ok(s) if s.oom_killed == Some(true));
        if let Some(watch) = &self.oom {
            let killed = matches!(
                end,
                JobEnd::Install {
                    end: ExecEnd::Exited(137),
                    ..
                } | JobEnd::Tested(ExecEnd::Exited(137))
            );
            if killed && !watch.seen() {
                // SIGKILLed: the OOM event may trail the exit of the process it killed.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            oom_killed |= watch.seen();
        }
        oom_killed
    }

    /// Removes the job's container, then its services and pod holder, then its
    /// network; returns what could not be removed (the run's tracker tries again).
    async fn remove(mut self) -> Vec<String> {
        let mut problems = Vec::new();
        self.oom.take();
        if let Some(main) = self.main.take() {
            problems.extend(main.remove().await.err().map(|e| e.to_string()));
        }
        for svc in self.services.drain(..) {
            problems.extend(svc.remove().await.err().map(|e| e.to_string()));
        }
        // After its joiners: the namespace they share is the holder's.
        if let Some(holder) = self.holder.take() {
            problems.extend(holder.remove().await.err().map(|e| e.to_string()));
        }
        if let Some(net) = self.network.take() {
            problems.extend(net.remove().await.err().map(|e| e.to_string()));
        }
        problems
    }
}

/// What the test phase produced.
#[derive(Default)]
struct Tested {
    command: Option<String>,
    counts: Option<Counts>,
    failures: Vec<Failure>,
    junit_problem: Option<String>,
}

impl JobUnderWay<'_> {
    fn note(&mut self, line: &str) {
        self.log.push_line(line, std::time::Instant::now());
    }

    fn enter(&self, phase: Phase) -> Instant {
        self.ctx
            .progress
            .phase(self.plan.job.index, &self.plan.job.name, phase);
        Instant::now()
    }

    fn name(&self, what: &str) -> String {
        object_name(&self.owner, self.plan, what)
    }

    fn error(&mut self, message: String) -> JobEnd {
        self.note(&format!("ponyswarm: {message}"));
        JobEnd::Error(message)
    }

    async fn go(&mut self, objects: &mut Objects) -> Result<(JobEnd, Option<Tested>), JobEnd> {
        let python = self.images().await?;
        let (ctx, plan, deadline) = (self.ctx, self.plan, self.deadline);
        let owner = self.owner.clone();
        let first = if plan.services.is_empty() {
            Phase::Prepare
        } else {
            Phase::Services
        };
        ctx.progress.phase(plan.job.index, &plan.job.name, first);
        // Services start while the wheelhouse fills (or a warm rerun finds its
        // environment): neither needs the other.
        let ((services, services_took), (warm, prepared)) = tokio::join!(
            start_services(ctx, plan, &python.reference, &owner, deadline, objects),
            warm_or_prepare(ctx, plan, &python, deadline),
        );
        if !plan.services.is_empty() {
            self.phases.push((Phase::Services, services_took));
        }
        if let Err(failure) = services {
            self.note(&format!("ponyswarm: {}", failure.message()));
            return Err(failure.into_end());
        }
        let wheels = match prepared {
            Ok(wheels) => wheels,
            Err(end) => {
                match &end {
                    JobEnd::PrepareFailed(log) | JobEnd::WheelhouseFull { log, .. } => {
                        self.note(log)
                    }
                    JobEnd::PrepareTimedOut => {
                        self.note("ponyswarm: fetching dependencies ran out of the job's time")
                    }
                    JobEnd::Error(e) => self.note(&format!("ponyswarm: {e}")),
                    _ => {}
                }
                return Err(end);
            }
        };
        self.wheelhouse_used(&wheels);
        let t = self.enter(Phase::Install);
        let env = match warm {
            Some(env) => {
                self.note(&format!("ponyswarm: environment {} (reused)", env.image));
                Ok(env)
            }
            None => self.environment(&python, &wheels.0).await,
        };
        let env = match env {
            Ok(env) => env,
            Err(end) => {
                self.phases.push((Phase::Install, t.elapsed()));
                return match end {
                    JobEnd::Install { .. } | JobEnd::EnvOutOfMemory { .. } => Ok((end, None)),
                    other => Err(other),
                };
            }
        };
        let reinstall = self.reinstall(&env).await;
        // Linked in the source's upload, when the venv is used as built: no exec.
        let link = reinstall.is_empty();
        let started = self.main_container(&env, &wheels.0, objects, link).await;
        if let Err(end) = started {
            self.phases.push((Phase::Install, t.elapsed()));
            return Err(end);
        }
        let Some(main) = objects.main.as_ref() else {
            return Err(self.error("the job's container vanished".into()));
        };
        let installed = self.install(main, reinstall).await;
        self.phases.push((Phase::Install, t.elapsed()));
        if let Some(end) = installed? {
            self.check_full(objects, &end).await;
            return Ok((end, None));
        }
        let t = self.enter(Phase::Test);
        let tested = self.test(main).await;
        self.phases.push((Phase::Test, t.elapsed()));
        let (end, tested) = tested?;
        self.check_full(objects, &end).await;
        Ok((end, Some(tested)))
    }

    /// Makes the Python image and every service image available.
    async fn images(&mut self) -> Result<ResolvedImage, JobEnd> {
        let t = self.enter(Phase::Images);
        let ctx = self.ctx;
        let mut names = vec![self.plan.python_image.clone()];
        names.extend(self.plan.services.iter().map(|s| s.image.clone()));
        let resolved = futures_util::future::join_all(
            names
                .iter()
                .map(|n| ctx.images.get(&ctx.docker, n, &ctx.image_options)),
        )
        .await;
        self.phases.push((Phase::Images, t.elapsed()));
        let roles =
            std::iter::once("python").chain(self.plan.services.iter().map(|s| s.name.as_str()));
        let mut out = Vec::new();
        for (r, role) in resolved.into_iter().zip(roles) {
            match r {
                Ok(image) => {
                    self.record_images
                        .push((role.to_string(), image.id.clone()));
                    out.push(image);
                }
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok(out.swap_remove(0))
    }

    /// Records the wheelhouse the job uses and the time it waited for it.
    fn wheelhouse_used(&mut self, (w, took): &Prepared) {
        self.phases.push((Phase::Prepare, *took));
        self.wheelhouse = Some((w.volume.clone(), w.cached));
        self.note(&format!(
            "ponyswarm: wheelhouse {} ({})",
            w.volume,
            if w.cached { "cached" } else { "filled" }
        ));
        if !w.cached {
            for line in w.log.lines() {
                self.note(line);
            }
        }
    }

    /// The job's environment image, built when no job or run made it before; an
    /// install command that failed in the build is the job's `Install` end.
    async fn environment(
        &mut self,
        python: &ResolvedImage,
        wheels: &Wheelhouse,
    ) -> Result<Environment, JobEnd> {
        let ctx = self.ctx;
        let req = EnvRequest {
            image: python.reference.clone(),
            image_id: python.id.clone(),
            python: python_command(self.plan).to_string(),
            install: self.plan.install.clone(),
            source: ctx.source.clone(),
            files: files_of(self.plan),
            wheels: wheels.volume.clone(),
            wheels_content: wheels.content.clone(),
            env: self.job_env(),
            limits: self.plan.limits.clone(),
            deadline: self.deadline,
        };
        match ctx.environments.get(&req).await {
            Ok(env) => {
                let how = if env.built { "built" } else { "reused" };
                self.note(&format!("ponyswarm: environment {} ({how})", env.image));
                for line in env.log.lines() {
                    self.note(line);
                }
                Ok(env)
            }
            Err(EnvError::Install { command, end, log }) => {
                for line in log.lines() {
                    self.note(line);
                }
                Err(JobEnd::Install { command, end })
            }
            Err(EnvError::OutOfMemory { command, log }) => {
                for line in log.lines() {
                    self.note(line);
                }
                Err(JobEnd::EnvOutOfMemory { command })
            }
            Err(EnvError::Docker(e)) => Err(self.error(e)),
        }
    }

    /// Creates and starts the job's container from its environment `env` (its image,
    /// its venv volume mounted read-only), with the source in it.
    async fn main_container(
        &mut self,
        env: &Environment,
        wheels: &Wheelhouse,
        objects: &mut Objects,
        link_venv: bool,
    ) -> Result<(), JobEnd> {
        let volume = &wheels.volume;
        for (rel, _) in &self.plan.files {
            if let Err(e) = source::check_relative(rel) {
                return Err(self.error(e.to_string()));
            }
        }
        // With services, the job joins their pod (see `run::services`); without, it
        // has no network at all.
        let network = match &objects.holder {
            Some(holder) => NetworkAccess::Pod {
                holder: holder.name().to_string(),
            },
            None => NetworkAccess::None,
        };
        let limits = &self.plan.limits;
        let side = side_area(limits.disk);
        let mut config = SandboxBuilder::new(&env.image);
        if let Some(venv) = &env.venv_volume {
            config = config.volume(venv, ENV_VENV, false);
        }
        let config = config
            .command(vec![
                "/bin/sh".into(),
                "-c".into(),
                source::unpack_then_idle(),
            ])
            .stdin()
            // Not SRC: the source arrives with the start (see below).
            .working_dir(WORK)
            .network(network)
            .work_area(WORK, limits.disk)
            .scratch(HOME, side)
            .tmp_size(Some(side))
            .volume(volume, WHEELS, false)
            .env(self.job_env())
            .memory_limit(limits.memory)
            .cpu_limit(limits.cpus)
            .pids_limit(limits.pids)
            .labels(self.owner.labels())
            .build()
            .map_err(|e| self.error(e.to_string()))?;
        let ctx = self.ctx;
        let main = Container::create(&ctx.docker, &ctx.tracker, &self.name("main"), config)
            .await
            .map_err(|e| self.error(e.to_string()))?;
        // The source goes in at the start: the work area is a tmpfs that is mounted
        // only while the container runs. Pid 1 unpacks it into /work (src/, owned by
        // the sandbox user) and then idles while the job's commands run.
        let links = if link_venv {
            vec![(venv_name(), ENV_VENV.to_string())]
        } else {
            Vec::new()
        };
        let tar = source::tar_stream(ctx.source.clone(), "src", files_of(self.plan), links);
        let uploaded =
            tokio::time::timeout_at(self.deadline, main.start_fed(tar, source::READY)).await;
        let uploaded = match uploaded {
            Ok(done) => done.map_err(|e| e.to_string()),
            Err(_) => Err("the job's time ran out while its source was unpacked".to_string()),
        };
        objects.oom = Some(main.watch_oom());
        objects.main = Some(main);
        uploaded.map_err(|e| self.error(e))
    }

    /// The environment of the job's container: the plan's, the venv first on PATH, pip
    /// pointed at the wheelhouse and away from any index.
    fn job_env(&self) -> Vec<String> {
        let mut env = vec![
            format!("PATH={VENV}/bin:{PATH}"),
            format!("VIRTUAL_ENV={VENV}"),
            format!("HOME={HOME}"),
            "PIP_NO_INDEX=1".to_string(),
            format!("PIP_FIND_LINKS={WHEELS}"),
            "PIP_DISABLE_PIP_VERSION_CHECK=1".to_string(),
            "PIP_NO_INPUT=1".to_string(),
            "PIP_PROGRESS_BAR=off".to_string(),
            "PYTHONUNBUFFERED=1".to_string(),
        ];
        env.extend(self.plan.env.iter().map(|(k, v)| format!("{k}={v}")));
        env
    }

    fn limits(&self) -> ExecLimits {
        ExecLimits {
            deadline: Some(self.deadline),
            no_output: Some(self.plan.limits.no_output_timeout),
        }
    }

    /// The limits of one of ponyswarm's own steps (the venv, a listing, `df`): the
    /// job's wall clock only, since they may rightly print nothing for a while.
    fn own_step_limits(&self) -> ExecLimits {
        ExecLimits {
            no_output: None,
            ..self.limits()
        }
    }

    /// Runs `line` through `sh -c` in the source tree, output into the log; the
    /// no-output timeout applies when `quiet_limit` (a project's command, not one of
    /// ponyswarm's own).
    async fn shell(
        &mut self,
        main: &Container,
        line: &str,
        quiet_limit: bool,
    ) -> Result<ExecEnd, JobEnd> {
        if quiet_limit {
            self.note(&format!("$ {line}"));
        }
        let mut exec = Exec::shell(line);
        exec.working_dir = Some(SRC.to_string());
        let limits = if quiet_limit {
            self.limits()
        } else {
            self.own_step_limits()
        };
        let log = &mut self.log;
        let end = main
            .exec(&exec, limits, &mut |chunk: &[u8]| {
                log.push(chunk, std::time::Instant::now())
            })
            .await;
        match end {
            Ok(end) => {
                if let ExecEnd::Exited(code) = end {
                    if code != 0 {
                        self.note(&format!("ponyswarm: exit code {code}"));
                    }
                }
                Ok(end)
            }
            Err(e) => Err(self.error(e.to_string())),
        }
    }

    /// The commands that install the project alone into a copy of `env`'s venv: none
    /// when the environment's install of it still stands. Takes the environment's
    /// install changes as the job's.
    async fn reinstall(&mut self, env: &Environment) -> Vec<String> {
        self.install_changes = env.changes.clone();
        let source_changed = if project_targets(&self.plan.install).is_empty() {
            false
        } else {
            self.source_changed(env).await
        };
        project_reinstall(&self.plan.install, source_changed, env.wrote_source, env.uv)
    }

    /// With `reinstall` (see [`Self::reinstall`]) empty, nothing: the venv was linked
    /// at `/work/venv` with the source. Else copies the environment's venv there and
    /// runs `reinstall` in it; `Some(end)` when that failed. The install changes are
    /// the environment's plus, listed around it, the project install's own.
    async fn install(
        &mut self,
        main: &Container,
        reinstall: Vec<String>,
    ) -> Result<Option<JobEnd>, JobEnd> {
        if reinstall.is_empty() {
            return Ok(None);
        }
        let copy = venv_copy_command();
        let end = self.shell(main, &copy, false).await?;
        if end != ExecEnd::Exited(0) {
            return Ok(Some(JobEnd::Install { command: copy, end }));
        }
        let before = self.listing(main).await;
        for command in reinstall {
            let end = self.shell(main, &command, true).await?;
            if end != ExecEnd::Exited(0) {
                return Ok(Some(JobEnd::Install { command, end }));
            }
        }
        if let (Some(before), Some(after)) = (before, self.listing(main).await) {
            self.install_changes.extend(areas::compare(&before, &after));
        }
        Ok(None)
    }

    /// Whether the source changed since `env` was built in a way that could change
    /// its install of the project (see `run::installed`), with a note saying which
    /// file made the difference, or that none did.
    async fn source_changed(&mut self, env: &Environment) -> bool {
        let (source, files) = (self.ctx.source.clone(), files_of(self.plan));
        let installed = env.installed_source.clone();
        let recorded = env.source_digest.clone();
        // `Ok(None)`: unchanged, or changed where no install reads; `Err`: changed,
        // and what the install was made from is not known.
        let cause = tokio::task::spawn_blocking(move || {
            if source_digest(&source, &files) == recorded {
                return Ok(None);
            }
            let installed = installed.ok_or(())?;
            let now = crate::run::source::manifest(&source, &files).map_err(drop)?;
            match installed.reinstall_cause(&now) {
                None => Ok(Some(None)),
                Some(path) => Ok(Some(Some(path))),
            }
        })
        .await
        .unwrap_or(Err(()));
        match cause {
            Ok(None) => false,
            Ok(Some(None)) => {
                if env.wrote_source {
                    // Installed again all the same (see `project_reinstall`).
                    return false;
                }
                self.note(
                    "ponyswarm: the source changed outside the installed project: \
                     the environment's install of it stands",
                );
                false
            }
            Ok(Some(Some(path))) => {
                self.note(&format!(
                    "ponyswarm: {path} changed since the environment was built: \
                     the project is installed again"
                ));
                true
            }
            Err(()) => true,
        }
    }

    /// The writable areas' listing, or `None` with a note saying why not.
    async fn listing(&mut self, main: &Container) -> Option<areas::Listing> {
        let limits = self.own_step_limits();
        match areas::list(main, AREAS, limits).await {
            Ok(listing) => Some(listing),
            Err(e) => {
                self.note(&format!("ponyswarm: install changes not recorded: {e}"));
                None
            }
        }
    }

    /// After a phase that failed (`end`): whether it left a writable area full, the
    /// job's own or a service's data, kept for the outcome. A container that a limit
    /// killed has nothing left to ask.
    async fn check_full(&mut self, objects: &Objects, end: &JobEnd) {
        let failed = match end {
            JobEnd::Install { end, .. } | JobEnd::Tested(end) => {
                matches!(end, ExecEnd::Exited(code) if *code != 0)
            }
            _ => false,
        };
        let Some(main) = objects.main.as_ref().filter(|_| failed) else {
            return;
        };
        let limits = self.own_step_limits();
        let full = match areas::usage(main, AREAS, limits).await {
            Ok(usage) => usage.into_iter().find(areas::Usage::is_full),
            Err(e) => {
                self.note(&format!("ponyswarm: could not read disk use: {e}"));
                None
            }
        };
        if let Some(area) = full {
            return self.keep_full(format!("{} ({})", area.path, mib(area.size)));
        }
        for (container, service) in objects.services.iter().zip(&self.plan.services) {
            let Some(data) = &service.data else { continue };
            // A database that found its disk full may have shut down (PostgreSQL does
            // when it cannot write its WAL): then its log tells, not `df`.
            let full = match areas::usage(container, &[data.as_str()], limits).await {
                Ok(usage) => usage.iter().any(areas::Usage::is_full),
                Err(_) => false,
            } || {
                let log = container.log_tail(200).await;
                DISK_FULL_SIGNS.iter().any(|sign| log.contains(sign))
            };
            if full {
                let size = mib(self.plan.limits.disk);
                return self.keep_full(format!("service {}: {data} ({size})", service.name));
            }
        }
    }

    /// Keeps `area` (`/work (64 MiB)`) as the outcome's full area, with a note.
    fn keep_full(&mut self, area: String) {
        self.note(&format!("ponyswarm: {area} is full"));
        self.full_area = Some(area);
    }

    /// Runs the test command and reads its results.
    async fn test(&mut self, main: &Container) -> Result<(JobEnd, Tested), JobEnd> {
        let runner = runner_of(&self.plan.test.command);
        let command = with_junit(&self.plan.test.command, runner, JUNIT);
        if let Some(why) = &self.plan.test.detected {
            self.note(&format!("ponyswarm: test command detected: {why}"));
        }
        let end = self.shell(main, &command, true).await?;
        let mut tested = Tested {
            command: Some(command),
            ..Tested::default()
        };
        // Only pytest is asked for JUnit XML: for other runners there is nothing to
        // fetch, and the request would cost every such job a round trip.
        let xml = if runner == crate::detect::Runner::Pytest {
            main.download_file(JUNIT, junit::MAX_XML_BYTES as u64 + 1)
                .await
                .map_err(|e| self.error(e.to_string()))?
        } else {
            None
        };
        match xml.map(|x| junit::parse(&x)) {
            Some(Ok(report)) => {
                tested.counts = Some(report.counts());
                tested.failures = report.failures();
            }
            Some(Err(e)) => tested.junit_problem = Some(e.to_string()),
            None if runner == crate::detect::Runner::Pytest
                && matches!(end, ExecEnd::Exited(_)) =>
            {
                tested.junit_problem = Some("pytest wrote no JUnit XML".to_string());
            }
            None => {}
        }
        if let Some(problem) = &tested.junit_problem {
            self.note(&format!(
                "ponyswarm: {problem}; counts read from the output"
            ));
        }
        if tested.counts.is_none() {
            tested.counts = summary::parse_text_counts(&self.log.text());
        }
        Ok((JobEnd::Tested(end), tested))
    }
}

/// A filled wheelhouse and the time this job waited for it.
type Prepared = (Wheelhouse, Duration);

/// `64 MiB`, `2 GiB`: an area's size as a detail shows it.
fn mib(bytes: u64) -> String {
    match bytes >> 20 {
        m if m >= 1024 && m % 1024 == 0 => format!("{} GiB", m / 1024),
        m => format!("{m} MiB"),
    }
}

/// The plan's `files:` as pairs.
fn files_of(plan: &JobPlan) -> Vec<(String, String)> {
    plan.files
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The interpreter command in the job's Python image: the catalog's, else `python3`.
fn python_command(plan: &JobPlan) -> &'static str {
    crate::catalog::python_entry(&plan.python_image)
        .and_then(|e| e.python)
        .unwrap_or("python3")
}

/// The container name of the job's `what` (`main`, `net`, `svc-redis`).
pub(super) fn object_name(owner: &Owner, plan: &JobPlan, what: &str) -> String {
    format!("ponyswarm-{}-{}-{what}", owner.run, plan.job.index)
}

/// The environment of a warm rerun and its wheelhouse, found without a container
/// (see [`Environments::find_warm`]); else the wheelhouse the prepare fills or finds.
/// Jobs with their own `prepare:` commands always prepare.
async fn warm_or_prepare(
    ctx: &JobContext,
    plan: &JobPlan,
    python: &ResolvedImage,
    deadline: Instant,
) -> (Option<Environment>, Result<Prepared, JobEnd>) {
    if plan.prepare.is_none() {
        let req = WarmRequest {
            image_id: python.id.clone(),
            python: python_command(plan).to_string(),
            install: plan.install.clone(),
            source: ctx.source.clone(),
            files: files_of(plan),
        };
        let t = Instant::now();
        if let Some((env, wheels)) = ctx.environments.find_warm(&req).await {
            return (Some(env), Ok((wheels, t.elapsed())));
        }
    }
    (None, prepare(ctx, plan, python, deadline).await)
}

/// The end of a job whose wheelhouse hit its cap, the log's first line saying so.
fn wheelhouse_full(e: PrepareError) -> JobEnd {
    let said = e.to_string();
    match e {
        PrepareError::Full { cap, log, .. } => JobEnd::WheelhouseFull {
            cap,
            log: format!("ponyswarm: {said}\n{log}"),
        },
        _ => JobEnd::PrepareFailed(said),
    }
}

/// The wheelhouse for the job's install commands.
async fn prepare(
    ctx: &JobContext,
    plan: &JobPlan,
    python: &ResolvedImage,
    deadline: Instant,
) -> Result<Prepared, JobEnd> {
    let req = PrepareRequest {
        image: python.reference.clone(),
        image_id: python.id.clone(),
        python: python_command(plan).to_string(),
        install: plan.prepare.clone().unwrap_or_else(|| plan.install.clone()),
        source: ctx.source.clone(),
        files: files_of(plan),
        limits: plan.limits.clone(),
        timeout: deadline.saturating_duration_since(Instant::now()),
    };
    let t = Instant::now();
    let got = tokio::time::timeout_at(deadline, ctx.wheelhouses.get(&req)).await;
    let waited = t.elapsed();
    match got {
        Err(_) | Ok(Err(PrepareError::Timeout { .. })) => Err(JobEnd::PrepareTimedOut),
        Ok(Ok(w)) => Ok((w, waited)),
        Ok(Err(PrepareError::Fetch { step, log })) => {
            Err(JobEnd::PrepareFailed(format!("{step}\n{log}")))
        }
        Ok(Err(e @ PrepareError::Full { .. })) => Err(wheelhouse_full(e)),
        Ok(Err(PrepareError::Rewrite(e))) => Err(JobEnd::PrepareFailed(e.to_string())),
        Ok(Err(PrepareError::Docker(e))) => Err(JobEnd::Error(e)),
    }
}
