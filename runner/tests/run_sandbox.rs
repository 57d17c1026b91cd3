//! The sandbox's building blocks against the real engine: a policed container runs
//! commands as uid 1000 with no network and a read-only root, timeouts kill what
//! ignores SIGTERM, the writable areas are capped, files go in owned by the sandbox
//! user (uploaded, or fed to pid 1 at the start) and come out again, an internal network has no route out, and the tracker
//! removes everything it recorded.

mod run_support;

use bollard::Docker;
use ponyswarm::run::source;
use ponyswarm::sandbox::areas;
use ponyswarm::sandbox::changes::ChangeKind;
use ponyswarm::sandbox::container::{
    Container, ContainerError, Exec, ExecEnd, ExecLimits, Tracker,
};
use ponyswarm::sandbox::network::Network;
use ponyswarm::sandbox::policy::{NetworkAccess, Owner, SandboxBuilder};
use run_support::{image_options, leftovers};
use std::time::Duration;
use tokio::time::Instant;

async fn image(docker: &Docker) -> String {
    if let Ok(image) = std::env::var("PONYSWARM_TEST_IMAGE") {
        return image;
    }
    ponyswarm::sandbox::images::ensure(docker, "3.11", &image_options())
        .await
        .expect("python image")
        .reference
}

fn owner(run: &str) -> Owner {
    Owner {
        run: run.to_string(),
        job: Some(0),
        pid: std::process::id(),
        pid_start: None,
    }
}

/// Starts an idle sandboxed container of run `run`, with a 16 MiB work area at
/// `/work` and a 4 MiB home.
async fn idle(docker: &Docker, tracker: &Tracker, run: &str, network: NetworkAccess) -> Container {
    let config = SandboxBuilder::new(image(docker).await)
        .command(vec!["sleep".into(), "infinity".into()])
        .network(network)
        .memory_limit(256 << 20)
        .work_area("/work", 16 << 20)
        .scratch("/home/pony", 4 << 20)
        .labels(owner(run).labels())
        .build()
        .expect("policy");
    let c = Container::create(docker, tracker, &format!("ponyswarm-{run}-0-main"), config)
        .await
        .expect("create");
    c.start().await.expect("start");
    c
}

async fn sh(c: &Container, line: &str, limits: ExecLimits) -> (ExecEnd, String) {
    let mut out = Vec::new();
    let end = c
        .exec(&Exec::shell(line), limits, &mut |b: &[u8]| {
            out.extend_from_slice(b)
        })
        .await
        .expect("exec");
    (end, String::from_utf8_lossy(&out).into_owned())
}

fn run_id(what: &str) -> String {
    format!("t{}-{what}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_confined_and_limits_kill() {
    let docker = run_support::docker().await;
    let tracker = Tracker::new(&docker);
    let run = run_id("exec");
    let c = idle(&docker, &tracker, &run, NetworkAccess::None).await;

    let (end, out) = sh(&c, "id -u; echo err >&2; exit 3", ExecLimits::default()).await;
    assert_eq!(end, ExecEnd::Exited(3));
    assert!(out.contains("1000") && out.contains("err"), "{out}");

    // No network but loopback, no Docker socket, no capabilities.
    let (_, out) = sh(
        &c,
        "ls /sys/class/net; ls /var/run/docker.sock 2>&1; grep CapEff /proc/self/status",
        ExecLimits::default(),
    )
    .await;
    assert!(!out.contains("eth0"), "{out}");
    assert!(out.contains("No such file"), "{out}");
    assert!(out.contains("0000000000000000"), "{out}");

    // A process ignoring SIGTERM still ends at the deadline: the container is killed.
    let t = Instant::now();
    let limits = ExecLimits {
        deadline: Some(Instant::now() + Duration::from_secs(3)),
        no_output: None,
    };
    let (end, _) = sh(
        &c,
        "trap '' TERM; while true; do echo tick; sleep 1; done",
        limits,
    )
    .await;
    assert_eq!(end, ExecEnd::TimedOut);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(c.state().await.expect("state").running, Some(false));
    c.remove().await.expect("remove");
    assert_eq!(tracker.live_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_and_orphans_do_not_hang_an_exec() {
    let docker = run_support::docker().await;
    let tracker = Tracker::new(&docker);
    let run = run_id("quiet");
    let c = idle(&docker, &tracker, &run, NetworkAccess::None).await;
    // A child that keeps the output open outlives its parent: the exec still ends.
    let t = Instant::now();
    let (end, out) = sh(
        &c,
        "(sleep 300 &) ; echo parent done",
        ExecLimits::default(),
    )
    .await;
    assert_eq!(end, ExecEnd::Exited(0));
    assert!(out.contains("parent done"));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    let limits = ExecLimits {
        deadline: None,
        no_output: Some(Duration::from_secs(2)),
    };
    let (end, _) = sh(&c, "echo hi; sleep 60", limits).await;
    assert_eq!(end, ExecEnd::NoOutput(Duration::from_secs(2)));
    drop(c);
    let failed = tracker.teardown().await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(leftovers(&docker, &run).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_in_owned_by_the_sandbox_user_and_come_out() {
    let docker = run_support::docker().await;
    let tracker = Tracker::new(&docker);
    let run = run_id("files");
    let c = idle(&docker, &tracker, &run, NetworkAccess::None).await;
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join("a.py"), "print('a')\n").expect("write");
    let files = vec![("conf/b.txt".to_string(), "bee\n".to_string())];
    let tar =
        ponyswarm::run::source::tar_stream(src.path().to_path_buf(), "src", files, Vec::new());
    c.upload("/work", tar).await.expect("upload");
    let roots = ["/work", "/home/pony", "/tmp"];
    let before = areas::list(&c, &roots, ExecLimits::default())
        .await
        .expect("listing");
    let (end, out) = sh(
        &c,
        "stat -c '%u %n' /work/src /work/src/a.py /work/src/conf/b.txt; echo x > /work/src/new; \
         echo y > /home/pony/.evil; rm /work/src/a.py",
        ExecLimits::default(),
    )
    .await;
    assert_eq!(end, ExecEnd::Exited(0), "{out}");
    assert_eq!(out.matches("1000 ").count(), 3, "{out}");
    let got = c
        .download_file("/work/src/conf/b.txt", 1 << 20)
        .await
        .expect("download");
    assert_eq!(got.as_deref(), Some(&b"bee\n"[..]));
    assert_eq!(
        c.download_file("/work/nope", 1 << 20)
            .await
            .expect("download"),
        None
    );
    let after = areas::list(&c, &roots, ExecLimits::default())
        .await
        .expect("listing");
    assert_eq!(
        areas::compare(&before, &after),
        [
            ("/home/pony/.evil".to_string(), ChangeKind::Added),
            ("/work/src".to_string(), ChangeKind::Changed),
            ("/work/src/a.py".to_string(), ChangeKind::Deleted),
            ("/work/src/new".to_string(), ChangeKind::Added),
        ]
    );
    c.remove().await.expect("remove");
}

/// A container started with `src` fed to its pid 1, the shell line `pid1`: a job's
/// ([`source::unpack_then_idle`]), or one that says [`source::READY`] as it does.
async fn fed(
    docker: &Docker,
    tracker: &Tracker,
    run: &str,
    pid1: String,
    src: &std::path::Path,
) -> (Container, Result<(), ContainerError>) {
    let config = SandboxBuilder::new(image(docker).await)
        .command(vec!["/bin/sh".into(), "-c".into(), pid1])
        .stdin()
        .memory_limit(256 << 20)
        .work_area("/work", 16 << 20)
        .labels(owner(run).labels())
        .build()
        .expect("policy");
    let c = Container::create(docker, tracker, &format!("ponyswarm-{run}-0-main"), config)
        .await
        .expect("create");
    let tar = source::tar_stream(src.to_path_buf(), "src", Vec::new(), Vec::new());
    let started = c.start_fed(tar, source::READY).await;
    (c, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_fed_at_the_start_is_the_sandbox_users_with_its_modes_and_dates() {
    let docker = run_support::docker().await;
    let tracker = Tracker::new(&docker);
    let run = run_id("fed");
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(src.path().join("bin")).expect("mkdir");
    std::fs::write(src.path().join("a.py"), "print('a')\n").expect("write");
    let tool = src.path().join("bin/tool");
    std::fs::write(&tool, "#!/bin/sh\necho tool ran\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (c, started) = fed(
        &docker,
        &tracker,
        &run,
        source::unpack_then_idle(),
        src.path(),
    )
    .await;
    started.expect("fed start");
    // Unpacked before `ready`: nothing to wait for. The dates are the archive's fixed
    // one (2000-01-01), which ZIP-writing tests need.
    let (end, out) = sh(
        &c,
        "cd /work/src && stat -c '%u %a %Y %n' . a.py bin/tool && bin/tool",
        ExecLimits::default(),
    )
    .await;
    assert_eq!(end, ExecEnd::Exited(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "1000 755 946684800 .",
            "1000 644 946684800 a.py",
            "1000 755 946684800 bin/tool",
            "tool ran"
        ],
        "{out}"
    );
    c.remove().await.expect("remove");

    // A pid 1 that cannot unpack ends the start with what it said, not a hang.
    let run = run_id("fed-fails");
    let (c, started) = fed(
        &docker,
        &tracker,
        &run,
        format!(
            "tar -x -f - -C /nowhere && echo {} && exec sleep infinity",
            source::READY
        ),
        src.path(),
    )
    .await;
    let err = started.expect_err("no /nowhere to unpack into");
    assert!(matches!(err, ContainerError::NotReady { .. }), "{err}");
    assert!(err.to_string().contains("/nowhere"), "{err}");
    c.remove().await.expect("remove");
    assert_eq!(leftovers(&docker, &run).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_capped_areas_are_writable_and_they_go_with_the_container() {
    let docker = run_support::docker().await;
    let tracker = Tracker::new(&docker);
    let run = run_id("areas");
    let c = idle(&docker, &tracker, &run, NetworkAccess::None).await;
    // The root is read-only, even where the image lets the user write.
    let (end, out) = sh(&c, "touch /var/tmp/x", ExecLimits::default()).await;
    assert_ne!(end, ExecEnd::Exited(0));
    assert!(out.contains("Read-only file system"), "{out}");
    // The work area holds 16 MiB, the home 4 MiB; /tmp is its own.
    for (area, mib) in [("/work", 16), ("/home/pony", 4)] {
        let fill = format!("dd if=/dev/zero of={area}/fill bs=1M count={}", mib * 2);
        let (end, out) = sh(&c, &fill, ExecLimits::default()).await;
        assert_ne!(end, ExecEnd::Exited(0), "{area}: {out}");
        assert!(out.contains("No space left on device"), "{area}: {out}");
    }
    // Native code runs from the work area (it is not mounted noexec).
    let (end, out) = sh(
        &c,
        "rm /work/fill && cp /bin/true /work/t && /work/t",
        ExecLimits::default(),
    )
    .await;
    assert_eq!(end, ExecEnd::Exited(0), "{out}");
    let usage = areas::usage(&c, &["/work", "/home/pony"], ExecLimits::default())
        .await
        .expect("df");
    assert_eq!(usage.len(), 2, "{usage:?}");
    assert_eq!(usage[0].size, 16 << 20, "{usage:?}");
    assert!(!usage[0].is_full() && usage[1].is_full(), "{usage:?}");
    // The work area is an anonymous volume: removing the container removes it.
    c.remove().await.expect("remove");
    assert_eq!(leftovers(&docker, &run).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_network_reaches_peers_not_the_internet() {
    let docker = run_support::docker().await;
    let tracker = Tracker::new(&docker);
    let run = run_id("net");
    let net = Network::create_internal(
        &docker,
        &tracker,
        &format!("ponyswarm-{run}-0-net"),
        owner(&run).labels(),
    )
    .await
    .expect("network");
    let peer_config = SandboxBuilder::new(image(&docker).await)
        .command(vec!["sleep".into(), "infinity".into()])
        .network(NetworkAccess::Internal {
            network: net.name().to_string(),
            aliases: vec!["peer".into()],
        })
        .labels(owner(&run).labels())
        .build()
        .expect("policy");
    let peer = Container::create(
        &docker,
        &tracker,
        &format!("ponyswarm-{run}-0-svc-peer"),
        peer_config,
    )
    .await
    .expect("peer");
    peer.start().await.expect("start peer");
    let c = idle(
        &docker,
        &tracker,
        &run,
        NetworkAccess::Internal {
            network: net.name().to_string(),
            aliases: vec![],
        },
    )
    .await;
    let (end, out) = sh(&c, "getent hosts peer", ExecLimits::default()).await;
    assert_eq!(end, ExecEnd::Exited(0), "the peer resolves: {out}");
    let (end, out) = sh(&c, "getent hosts pypi.org", ExecLimits::default()).await;
    assert_ne!(end, ExecEnd::Exited(0), "no names outside: {out}");
    // The tracker removes containers first, then the network.
    drop((c, peer, net));
    let failed = tracker.teardown().await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(leftovers(&docker, &run).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_kill_is_seen_though_pid_1_survives() {
    let docker = run_support::docker().await;
    let tracker = Tracker::new(&docker);
    let run = run_id("oom");
    let config = SandboxBuilder::new(image(&docker).await)
        .command(vec!["sleep".into(), "infinity".into()])
        .memory_limit(64 << 20)
        .labels(owner(&run).labels())
        .build()
        .expect("policy");
    let c = Container::create(
        &docker,
        &tracker,
        &format!("ponyswarm-{run}-0-main"),
        config,
    )
    .await
    .expect("create");
    let watch = c.watch_oom();
    c.start().await.expect("start");
    let (end, out) = sh(
        &c,
        "python3 -c 'x = bytearray(512 << 20); print(len(x))'",
        ExecLimits::default(),
    )
    .await;
    assert_eq!(end, ExecEnd::Exited(137), "{out}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !watch.seen() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(watch.seen(), "the OOM kill was reported");
    // A command that fits is not flagged afterwards.
    assert_eq!(
        sh(&c, "true", ExecLimits::default()).await.0,
        ExecEnd::Exited(0)
    );
    c.remove().await.expect("remove");
}
