//! Images against the real Docker engine: built from `images/` on a Debian base made
//! with debootstrap (there is no registry here), cached by content, and working:
//! each Python runs and makes a venv with pip, each service passes its health check.
//!
//! The catalog tests use the shared `ponyswarm` prefix, so later tests and CI reuse
//! what they build; the from-scratch and CA bundle tests use a prefix of their own
//! and remove their images at the end.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HealthStatusEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, ListImagesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use ponyswarm::sandbox::docker::connect;
use ponyswarm::sandbox::egress::Egress;
use ponyswarm::sandbox::images::{
    self, ensure, ImageError, ImageOptions, Origin, PullPolicy, ResolvedImage,
};
use ponyswarm::sandbox::labels;

/// Options for the shared images: the default prefix, the host's CA bundle.
fn shared_options() -> ImageOptions {
    ImageOptions {
        egress: Egress::from_host(None).expect("host CA bundle"),
        ..ImageOptions::default()
    }
}

/// A tag prefix of this test's own, whose images are removed when it is dropped
/// (also when the test fails).
struct OwnPrefix(String);

impl OwnPrefix {
    fn new(what: &str) -> Self {
        Self(format!("ponyswarm-test-{what}-{}", std::process::id()))
    }

    fn options(&self) -> ImageOptions {
        ImageOptions {
            tag_prefix: self.0.clone(),
            ..shared_options()
        }
    }

    /// Tags the shared bookworm base (built if missing) as this prefix's base, so a
    /// test builds on it instead of running debootstrap again.
    async fn tag_shared_base(&self, docker: &Docker) {
        ensure(docker, "3.11", &shared_options())
            .await
            .expect("shared base");
        let options = TagImageOptionsBuilder::default()
            .repo(&format!("{}/debian", self.0))
            .tag("bookworm")
            .build();
        docker
            .tag_image(&shared_base(docker).await, Some(options))
            .await
            .expect("tag base");
    }
}

impl Drop for OwnPrefix {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        // Drop cannot await; a thread with its own runtime can.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(remove_prefix(&prefix));
        });
        let _ = cleanup.join();
    }
}

async fn remove_prefix(prefix: &str) {
    let Ok(docker) = connect().await else { return };
    let pattern = format!("{prefix}/*");
    let filters = HashMap::from([("reference", vec![pattern.as_str()])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let images = docker.list_images(Some(options)).await.unwrap_or_default();
    for tag in images.iter().flat_map(|i| &i.repo_tags) {
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        let _ = docker.remove_image(tag, Some(options), None).await;
    }
}

/// Runs `script` with `sh -c` in a fresh container of `image`; returns the exit
/// code and the combined output.
async fn run_in(docker: &Docker, image: &str, script: &str) -> (i64, String) {
    let config = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, config)
        .await
        .expect("create container")
        .id;
    docker.start_container(&id, None).await.expect("start");
    let code = match docker.wait_container(&id, None).next().await {
        Some(Ok(r)) => r.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        other => panic!("waiting for {image}: {other:?}"),
    };
    let output = logs(docker, &id).await;
    remove_container(docker, &id).await;
    (code, output)
}

async fn logs(docker: &Docker, id: &str) -> String {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .build();
    let mut stream = docker.logs(id, Some(options));
    let mut out = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&chunk.to_string());
    }
    out
}

async fn remove_container(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(id, Some(options)).await;
}

async fn image_labels(docker: &Docker, reference: &str) -> HashMap<String, String> {
    let image = docker
        .inspect_image(reference)
        .await
        .expect("inspect image");
    image.config.and_then(|c| c.labels).unwrap_or_default()
}

/// Builds under a prefix of its own on the shared Debian base: making a base with
/// debootstrap is what `.ci/run`'s `ponyswarm images build` does on a cold machine, and
/// what the ignored `every_catalog_image_builds_cold` does here.
#[tokio::test]
async fn a_service_builds_once_on_the_base_then_nothing_is_rebuilt() {
    let docker = connect().await.expect("docker");
    let prefix = OwnPrefix::new("scratch");
    prefix.tag_shared_base(&docker).await;
    let base = format!("{}/debian:bookworm", prefix.0);
    let opts = ImageOptions {
        pull: PullPolicy::Never,
        ..prefix.options()
    };

    // Two jobs asking for the same image at once: one builds, the other waits and
    // finds it by tag.
    let (a, b) = tokio::join!(
        ensure(&docker, "redis", &opts),
        ensure(&docker, "redis", &opts)
    );
    let (redis, b) = (a.expect("redis builds"), b.expect("redis builds"));
    let mut origins = [redis.origin, b.origin];
    origins.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(origins, [Origin::Built, Origin::Cached]);
    assert_eq!(redis.id, b.id);
    assert!(redis.reference.starts_with(&format!("{}/redis:", prefix.0)));

    let base_labels = image_labels(&docker, &base).await;
    assert_eq!(
        base_labels.get(labels::MANAGED).map(String::as_str),
        Some("1")
    );
    let redis_labels = image_labels(&docker, &redis.reference).await;
    assert_eq!(
        redis_labels.get(labels::IMAGE).map(String::as_str),
        Some("redis")
    );
    assert!(redis_labels.contains_key(labels::CONTENT));

    // The second time, nothing is done: same id, no build.
    let again = ensure(&docker, "redis", &opts).await.expect("cached");
    assert_eq!(again.origin, Origin::Cached, "redis was rebuilt");
    assert_eq!((&again.id, &again.reference), (&redis.id, &redis.reference));

    let rows = images::list(&docker, &opts).await.expect("list");
    let row = |tag: &str| rows.iter().find(|r| r.tag == tag);
    for tag in [&redis.reference, &base] {
        let row = row(tag).unwrap_or_else(|| panic!("{tag} not listed in {rows:?}"));
        assert!(row.current && row.size > 0, "{row:?}");
    }

    // A changed Dockerfile means a new tag, and a build.
    let changed = copy_images_dir(&["redis"]);
    let dockerfile = changed.path().join("redis/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("read Dockerfile");
    std::fs::write(&dockerfile, format!("{text}\nLABEL changed=yes\n")).expect("write");
    let opts_changed = ImageOptions {
        images_dir: changed.path().to_owned(),
        ..opts.clone()
    };
    let rebuilt = ensure(&docker, "redis", &opts_changed)
        .await
        .expect("rebuilds");
    assert_eq!(rebuilt.origin, Origin::Built);
    assert_ne!(rebuilt.reference, redis.reference);
    let rows = images::list(&docker, &opts_changed).await.expect("list");
    let old = rows
        .iter()
        .find(|r| r.tag == redis.reference)
        .expect("old row");
    assert!(!old.current, "the old redis is no longer current");
}

/// A copy of the shipped `images/` directories `dirs` in a temporary directory.
fn copy_images_dir(dirs: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let shipped = ImageOptions::default().images_dir;
    for dir in dirs {
        std::fs::create_dir(tmp.path().join(dir)).expect("mkdir");
        for entry in std::fs::read_dir(shipped.join(dir)).expect("read images dir") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), tmp.path().join(dir).join(entry.file_name()))
                .expect("copy");
        }
    }
    tmp
}

/// Checks that the catalog Python `name` runs, reports `version` in `sys.version`,
/// and makes a venv whose pip works, as the unprivileged user in /work.
async fn python_works(name: &str, version: &str) {
    let docker = connect().await.expect("docker");
    let image = ensure(&docker, name, &shared_options())
        .await
        .expect("image");
    let (code, out) = run_in(
        &docker,
        &image.reference,
        "python -c 'import sys; print(sys.version)' && id -u && pwd && \
         python -m venv /work/venv && /work/venv/bin/pip --version",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let sys_version = out.lines().next().unwrap_or_default();
    assert!(sys_version.starts_with(version), "{name}: {sys_version}");
    if name == "pypy3" {
        assert!(out.contains("PyPy"), "{out}");
    }
    // PyPy's sys.version spans two lines, so look for the rest anywhere.
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"1000"), "runs as pony: {out}");
    assert!(lines.contains(&"/work"), "starts in /work: {out}");
    assert!(out.contains("pip "), "pip --version in the venv: {out}");
}

#[tokio::test]
async fn python_3_9_reports_its_version_and_makes_a_venv_with_pip() {
    python_works("3.9", "3.9.").await;
}

#[tokio::test]
async fn python_3_11_reports_its_version_and_makes_a_venv_with_pip() {
    python_works("3.11", "3.11.").await;
}

#[tokio::test]
async fn python_3_13_reports_its_version_and_makes_a_venv_with_pip() {
    python_works("3.13", "3.13.").await;
}

#[tokio::test]
async fn pypy3_reports_pypy_and_makes_a_venv_with_pip() {
    python_works("pypy3", "3.").await;
}

/// Starts the catalog service `name`, waits (with a deadline) for Docker to report
/// it healthy, then runs `client` inside it against its bridge address (`$ADDR`), to
/// show it listens on all interfaces and takes the catalog's credentials.
async fn service_is_healthy(name: &str, client: &str) {
    let docker = connect().await.expect("docker");
    let image = ensure(&docker, name, &shared_options())
        .await
        .expect("image");
    let config = ContainerCreateBody {
        image: Some(image.reference.clone()),
        host_config: Some(HostConfig {
            cap_drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, config)
        .await
        .expect("create")
        .id;
    let result = wait_healthy_then_connect(&docker, &id, client).await;
    let log = logs(&docker, &id).await;
    remove_container(&docker, &id).await;
    if let Err(e) = result {
        panic!("{name}: {e}\n--- service log ---\n{log}");
    }
}

async fn wait_healthy_then_connect(docker: &Docker, id: &str, client: &str) -> Result<(), String> {
    docker
        .start_container(id, None)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let deadline = Duration::from_secs(60);
    let addr = loop {
        let c = docker
            .inspect_container(id, None)
            .await
            .map_err(|e| e.to_string())?;
        let state = c.state.unwrap_or_default();
        let health = state.health.and_then(|h| h.status);
        if health == Some(HealthStatusEnum::HEALTHY) {
            let networks = c
                .network_settings
                .and_then(|n| n.networks)
                .unwrap_or_default();
            break networks
                .values()
                .find_map(|n| n.ip_address.clone())
                .unwrap_or_default();
        }
        if state.running != Some(true) {
            return Err(format!(
                "stopped before becoming healthy ({:?})",
                state.exit_code
            ));
        }
        if started.elapsed() > deadline {
            return Err(format!("not healthy after {deadline:?} ({health:?})"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("healthy after {:?}", started.elapsed());
    let (code, out) = exec(docker, id, &format!("ADDR={addr}; {client}")).await;
    match code {
        0 => Ok(()),
        _ => Err(format!("client failed ({code}): {out}")),
    }
}

async fn exec(docker: &Docker, id: &str, script: &str) -> (i64, String) {
    let config = bollard::exec::CreateExecOptions {
        cmd: Some(vec!["sh", "-c", script]),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec = docker
        .create_exec(id, config)
        .await
        .expect("create exec")
        .id;
    let mut out = String::new();
    if let Ok(bollard::exec::StartExecResults::Attached { mut output, .. }) =
        docker.start_exec(&exec, None).await
    {
        while let Some(Ok(chunk)) = output.next().await {
            out.push_str(&chunk.to_string());
        }
    }
    let code = docker
        .inspect_exec(&exec)
        .await
        .ok()
        .and_then(|e| e.exit_code);
    (code.unwrap_or(-1), out)
}

#[tokio::test]
async fn postgres_passes_its_health_check_and_takes_the_catalog_credentials() {
    service_is_healthy(
        "postgres",
        r#"psql "postgresql://pony:pony@$ADDR:5432/pony" -c 'CREATE DATABASE test_pony' "#,
    )
    .await;
}

#[tokio::test]
async fn mariadb_passes_its_health_check_and_takes_the_catalog_credentials() {
    service_is_healthy(
        "mariadb",
        r#"mariadb -h "$ADDR" -P 3306 -u pony -ppony pony -e 'CREATE DATABASE test_pony'"#,
    )
    .await;
}

#[tokio::test]
async fn redis_passes_its_health_check_and_answers_on_its_address() {
    service_is_healthy(
        "redis",
        r#"redis-cli -h "$ADDR" -p 6379 ping | grep -x PONG"#,
    )
    .await;
}

#[tokio::test]
async fn ca_bundle_reaches_apt_and_pip_inside_an_image_build() {
    let docker = connect().await.expect("docker");
    // Shares the bookworm base rather than making its own.
    let prefix = OwnPrefix::new("egress");
    prefix.tag_shared_base(&docker).await;

    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/egress");
    let without = ImageOptions {
        images_dir: fixtures.clone(),
        egress: Egress::none(),
        pull: PullPolicy::Never,
        ..prefix.options()
    };
    // Without the bundle the proxy's certificate is not trusted: the build fails, and
    // says where.
    match ensure(&docker, "3.11", &without).await {
        Err(err @ ImageError::BuildFailed { .. }) => {
            eprintln!("without the bundle, as expected: {err}");
            let ImageError::BuildFailed { step, tail, .. } = err else {
                unreachable!()
            };
            let step = step.unwrap_or_default();
            assert!(step.contains("RUN"), "failing step named: {step}");
            assert!(!tail.is_empty());
        }
        other => panic!("expected the build to fail without the CA bundle: {other:?}"),
    }

    let with = ImageOptions {
        egress: Egress::from_host(None).expect("host bundle"),
        ..without
    };
    assert!(
        with.egress.ca_bundle().is_some(),
        "this host has a CA bundle"
    );
    let built: ResolvedImage = ensure(&docker, "3.11", &with)
        .await
        .expect("builds with the bundle");
    let (code, out) = run_in(&docker, &built.reference, "ls /tmp/downloads").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("six-"), "pip downloaded six: {out}");
}

/// Image builds have no fixed request timeout: a step that stays silent for longer
/// than bollard's default two minutes still finishes (only a stream with no progress
/// for much longer fails).
#[tokio::test]
async fn a_build_step_longer_than_two_minutes_succeeds() {
    let docker = connect().await.expect("docker");
    let prefix = OwnPrefix::new("slow");
    prefix.tag_shared_base(&docker).await;
    let opts = ImageOptions {
        images_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/slow"),
        pull: PullPolicy::Never,
        ..prefix.options()
    };
    let started = Instant::now();
    let built = ensure(&docker, "redis", &opts)
        .await
        .unwrap_or_else(|e| panic!("the slow build failed after {:?}: {e}", started.elapsed()));
    assert_eq!(built.origin, Origin::Built);
    assert!(
        started.elapsed() > Duration::from_secs(120),
        "the fixture's step must outlast two minutes to prove anything"
    );
    let (code, out) = run_in(&docker, &built.reference, "cat /slow").await;
    assert_eq!((code, out.trim()), (0, "slow"));
}

/// The shared bookworm base: `debian:bookworm-slim` or the one ponyswarm made.
async fn shared_base(docker: &Docker) -> String {
    for reference in ["debian:bookworm-slim", "ponyswarm/debian:bookworm"] {
        if docker.inspect_image(reference).await.is_ok() {
            return reference.to_owned();
        }
    }
    panic!("no bookworm base after building 3.11");
}

#[tokio::test]
async fn a_reference_neither_local_nor_pullable_is_a_clear_error() {
    let docker = connect().await.expect("docker");
    let reference = "registry.invalid/ponyswarm/missing:1";
    let err = ensure(&docker, reference, &ImageOptions::default())
        .await
        .expect_err("no registry here");
    let message = err.to_string();
    assert!(matches!(err, ImageError::NotAvailable { .. }), "{err:?}");
    assert!(
        message.contains(reference) && message.contains("cannot be pulled"),
        "{message}"
    );

    let never = ImageOptions {
        pull: PullPolicy::Never,
        ..ImageOptions::default()
    };
    let err = ensure(&docker, reference, &never)
        .await
        .expect_err("not local");
    assert!(err.to_string().contains("pulling is turned off"), "{err}");

    let err = ensure(&docker, "python2", &never)
        .await
        .expect_err("not a name");
    assert!(err.to_string().contains("3.11"), "lists the catalog: {err}");
}

/// How long a cold build of the whole catalog takes (three debootstraps, seven
/// images, two at a time). Slow and heavy, so only on demand:
/// `cargo test -p ponyswarm --test images -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "builds every catalog image from nothing: minutes"]
async fn every_catalog_image_builds_cold() {
    let docker = connect().await.expect("docker");
    let prefix = OwnPrefix::new("cold");
    let opts = ImageOptions {
        pull: PullPolicy::Never,
        progress: Some(indicatif::MultiProgress::new()),
        ..prefix.options()
    };
    let started = Instant::now();
    let results = images::build(&docker, &[], &opts).await;
    eprintln!("cold build of the catalog: {:?}", started.elapsed());
    for result in &results {
        let image = result.as_ref().expect("builds");
        assert_eq!(image.origin, Origin::Built, "{image:?}");
    }
    assert_eq!(results.len(), ponyswarm::catalog::ENTRIES.len());

    let again = images::build(&docker, &["3.11", "redis"], &opts).await;
    assert!(again
        .iter()
        .all(|r| matches!(r, Ok(i) if i.origin == Origin::Cached)));
    let unknown = images::build(&docker, &["python2"], &opts).await;
    assert!(matches!(
        unknown[..],
        [Err(ImageError::NotInCatalog { .. })]
    ));
}
