//! The prepare phase against hostile build code and a poisoned wheelhouse.
//!
//! - The `prepare-probe` fixture's setup.py, run to read the project's metadata, looks
//!   for a default route, the host's bridge gateway, the metadata address and a
//!   non-index name through any proxy it was given; every probe must fail. It runs in
//!   a container with no network, so no attempt leaves it.
//! - The egress door itself, probed from a container on its internal network: the index
//!   gets through; another name, the gateway and the metadata address are refused by the
//!   proxy, and there is no direct way out. Only the refusals and one CONNECT to the
//!   index leave the test's own networks.
//! - A wheel replaced after its wheelhouse was completed is noticed: the wheelhouse is
//!   filled again and the job still passes.
//! - Dependencies larger than `limits.wheelhouse` (two big wheels from a local index)
//!   stop the prepare at the cap: the job ends `limit-exceeded` naming it, and the
//!   wheelhouse's volume holds nothing.

mod pypi_support;
mod run_support;

use ponyswarm::sandbox::container::{Container, Exec, ExecEnd, ExecLimits, Tracker};
use ponyswarm::sandbox::door::{Door, DoorSpec, DEFAULT_HOSTS};
use ponyswarm::sandbox::policy::{NetworkAccess, SandboxBuilder};
use pypi_support::index::{FixtureRelease, LocalIndex};
use run_support::{ensure_images, run_fixture, serial, status};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_code_in_prepare_finds_no_way_out() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11", "door"]).await;
    let (_, json) = run_fixture("prepare-probe", |_| true, |_| {}).await;
    let j = &json["jobs"][0];
    assert_eq!(status(j), "install-failed", "{j:#}");
    let log = j["log"].as_str().unwrap_or_default();
    let probes: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("PROBE ").map(|(_, p)| p))
        .filter(|p| !p.starts_with("done"))
        .collect();
    // The build ran (its record is there) and every attempt failed.
    assert!(probes.len() >= 5, "{log}");
    for probe in &probes {
        assert!(
            probe.ends_with(": none") || probe.contains(": blocked"),
            "a probe got out: {probe}\n{log}"
        );
    }
    assert!(log.contains("PROBE route: none"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_door_lets_only_the_index_through() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11", "door"]).await;
    let opts = run_support::image_options();
    let door_image = ponyswarm::sandbox::images::ensure(&docker, "door", &opts)
        .await
        .expect("door image");
    let python = ponyswarm::sandbox::images::ensure(&docker, "3.11", &opts)
        .await
        .expect("python image");
    let tracker = Tracker::new(&docker);
    let name = format!("ponyswarm-test-door-{}", std::process::id());
    let labels = HashMap::from([("io.ponyswarm.test".to_string(), name.clone())]);
    let spec = DoorSpec {
        image: door_image.reference,
        name: name.clone(),
        labels: labels.clone(),
        allow: DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect(),
        upstream: ponyswarm::sandbox::door::upstream(&run_support::egress()),
    };
    let door = Door::open(&docker, &tracker, &spec)
        .await
        .expect("door opens");
    let config = SandboxBuilder::new(&python.reference)
        .command(vec!["sleep".into(), "infinity".into()])
        .network(NetworkAccess::Internal {
            network: door.network().to_string(),
            aliases: Vec::new(),
        })
        .env(door.env())
        .labels(labels)
        .build()
        .expect("policy");
    let client = Container::create(&docker, &tracker, &format!("{name}-client"), config)
        .await
        .expect("client");
    client.start().await.expect("client starts");
    // A service of the host's on every address, and the address the host would have
    // on the door's network: the client must not reach it there.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("listener");
    let host_port = listener.local_addr().expect("port").port();
    let gateway = docker
        .inspect_network(door.network(), None)
        .await
        .expect("network")
        .ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().find_map(|c| c.gateway))
        .expect("the network has a gateway address");
    let script = format!(
        r#"
import socket
proxy = "{proxy}".split("://")[1]
host, port = proxy.rsplit(":", 1)
def connect(target):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    line = s.recv(200).split(b"\r\n")[0].decode()
    s.close()
    return line.split(" ")[1] if " " in line else line
def direct(h, p):
    try:
        socket.create_connection((h, p), timeout=3).close()
        return "reached"
    except OSError:
        return "blocked"
print("index", connect("pypi.org:443"))
print("name", connect("example.invalid:443"))
print("gateway", connect("172.17.0.1:443"))
print("metadata", connect("169.254.169.254:443"))
print("metadata80", connect("169.254.169.254:80"))
print("direct-gateway", direct("172.17.0.1", 80))
print("direct-metadata", direct("169.254.169.254", 80))
print("direct-host", direct("{gateway}", {host_port}))
"#,
        proxy = door.proxy_url()
    );
    let exec = Exec {
        cmd: vec!["python3".into(), "-c".into(), script],
        env: Vec::new(),
        working_dir: None,
    };
    let mut out = Vec::new();
    let limits = ExecLimits {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(60)),
        no_output: None,
    };
    let end = client
        .exec(&exec, limits, &mut |b: &[u8]| out.extend_from_slice(b))
        .await
        .expect("exec");
    let out = String::from_utf8_lossy(&out).into_owned();
    let door_log = door.log_tail(30).await;
    let _ = client.remove().await;
    door.close().await.expect("door closes");
    assert!(matches!(end, ExecEnd::Exited(0)), "{out}");
    let got: HashMap<&str, &str> = out.lines().filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(got.get("index"), Some(&"200"), "{out}\n{door_log}");
    for refused in ["name", "gateway", "metadata", "metadata80"] {
        assert_eq!(
            got.get(refused),
            Some(&"403"),
            "{refused}: {out}\n{door_log}"
        );
    }
    drop(listener);
    for blocked in ["direct-gateway", "direct-metadata", "direct-host"] {
        assert_eq!(got.get(blocked), Some(&"blocked"), "{blocked}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wheel_replaced_after_completion_is_not_used() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11", "door"]).await;
    let good = |p: &ponyswarm::plan::JobPlan| {
        p.job
            .matrix
            .get("flavor")
            .is_some_and(|v| v.to_string() == "good")
            && p.job
                .matrix
                .get("size")
                .is_some_and(|v| v.to_string() == "1")
    };
    let (_, first) = run_fixture("planted", good, |_| {}).await;
    assert_eq!(status(&first["jobs"][0]), "passed", "{first:#}");
    // The wheelhouse of that job, by the same key the run used.
    let (spec, plans) = run_support::plans("planted");
    let plan = plans.into_iter().find(|p| good(p)).expect("a good job");
    let image = ponyswarm::sandbox::images::ensure(&docker, "3.11", &run_support::image_options())
        .await
        .expect("python image");
    let key = ponyswarm::run::prepare::WheelhouseScope::default().key(
        &image.id,
        &plan.install,
        &spec.source,
        &[],
    );
    let volume = ponyswarm::run::prepare::volume_name(&key);
    // Poison it: every wheel gets a byte more, as a planted wheel would differ.
    let poison = std::process::Command::new("docker")
        .args(["run", "--rm", "--network", "none", "-v"])
        .arg(format!("{volume}:/w"))
        .arg(&image.reference)
        .args([
            "sh",
            "-c",
            "for f in /w/*.whl; do printf x >> \"$f\"; done; ls /w | wc -l",
        ])
        .output()
        .expect("docker runs");
    assert!(poison.status.success(), "{poison:?}");
    // A warm job whose environment image exists reads nothing from the wheelhouse
    // (the image was built from it when it was verified); without that image the
    // job must install from the wheelhouse, which is where a planted wheel would do
    // harm. Only this job's image goes: other tests' (and other runs') stay warm.
    let log = first["jobs"][0]["log"].as_str().unwrap_or_default();
    let env_image = log
        .lines()
        .find_map(|l| l.strip_prefix("ponyswarm: environment "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no environment line: {log}"))
        .to_string();
    assert_eq!(
        ponyswarm::run::env_images::remove(&docker, std::slice::from_ref(&env_image)).await,
        vec![env_image.clone()],
        "the job's environment image is removed"
    );
    let (_, second) = run_fixture("planted", good, |_| {}).await;
    let j = &second["jobs"][0];
    assert_eq!(status(j), "passed", "{j:#}");
    // Filled again, not taken as it was.
    assert!(j["phases"]["prepare"].is_number(), "{j:#}");
    assert!(j["phases"].get("prepare-cached").is_none(), "{j:#}");
}

/// A wheel of project `name` 1.0 holding `bytes` of incompressible data.
fn big_wheel(dir: &Path, name: &str, bytes: usize) -> PathBuf {
    let module = name.replace('-', "_");
    let path = dir.join(format!("{module}-1.0-py3-none-any.whl"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("a wheel file"));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let dist_info = format!("{module}-1.0.dist-info");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let files: [(String, Vec<u8>); 4] = [
        (format!("{module}/__init__.py"), b"".to_vec()),
        (format!("{module}/blob.bin"), noise),
        (
            format!("{dist_info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n").into_bytes(),
        ),
        (
            format!("{dist_info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: ponyswarm-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    for (name, data) in &files {
        zip.start_file(name, stored).expect("a wheel entry");
        zip.write_all(data).expect("written");
    }
    zip.start_file(format!("{dist_info}/RECORD"), stored)
        .expect("a wheel entry");
    zip.finish().expect("a wheel");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_past_the_wheelhouse_cap_stop_there_naming_it() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    ensure_images(&docker, &["3.11", "door"]).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let releases = ["ponyswarm-bigdep-a", "ponyswarm-bigdep-b"].map(|name| FixtureRelease {
        name: name.to_string(),
        version: "1.0".to_string(),
        files: vec![big_wheel(dir.path(), name, 20 << 20)],
        metadata: serde_json::json!({}),
    });
    let index = LocalIndex::start(releases.to_vec());
    let url = ponyswarm::pypi::trial::container_index_url(&docker, &index.url()).await;
    let (_, json) = run_fixture(
        "wheelhouse-cap",
        |_| true,
        |opts| opts.egress = ponyswarm::pypi::trial::egress_with_index(&opts.egress, Some(&url)),
    )
    .await;
    let j = &json["jobs"][0];
    assert_eq!(status(j), "limit-exceeded", "{j:#}");
    assert_eq!(
        j["detail"], "ran out of disk: the wheelhouse (32 MiB, limits.wheelhouse) is full",
        "{j:#}"
    );
    let log = j["log"].as_str().unwrap_or_default();
    assert!(
        log.contains("ponyswarm: the wheelhouse reached its cap of 32 MiB (limits.wheelhouse)"),
        "{log}"
    );
    // The kernel refused the write past the scratch's size (the keeper's own check
    // of the fill's size, before it copies, is a second line that never ran here).
    assert!(log.contains("No space left on device"), "{log}");
    // The fetch got as far as the first big wheel: the cap, not the index, stopped it.
    let fetched = index
        .log()
        .iter()
        .filter(|l| l.path.ends_with(".whl"))
        .count();
    assert!(fetched >= 1, "{:?}", index.log());
    // Nothing was published: the wheelhouse's volume holds no wheel and no marker.
    let (spec, plans) = run_support::plans("wheelhouse-cap");
    let image = ponyswarm::sandbox::images::ensure(&docker, "3.11", &run_support::image_options())
        .await
        .expect("python image");
    let key = ponyswarm::run::prepare::WheelhouseScope::default().key(
        &image.id,
        &plans[0].install,
        &spec.source,
        &[],
    );
    let volume = ponyswarm::run::prepare::volume_name(&key);
    docker
        .inspect_volume(&volume)
        .await
        .expect("the job's wheelhouse volume exists");
    let held = std::process::Command::new("docker")
        .args(["run", "--rm", "--network", "none", "-v"])
        .arg(format!("{volume}:/w:ro"))
        .arg(&image.reference)
        .args(["sh", "-c", "du -sb /w | cut -f1; find /w -type f | wc -l"])
        .output()
        .expect("docker runs");
    assert!(held.status.success(), "{held:?}");
    let held = String::from_utf8_lossy(&held.stdout).into_owned();
    let mut lines = held
        .lines()
        .map(|l| l.trim().parse::<u64>().unwrap_or(u64::MAX));
    let (bytes, files) = (lines.next(), lines.next());
    assert_eq!(files, Some(0), "files in the wheelhouse: {held}");
    assert!(bytes.is_some_and(|b| b < 32 << 20), "{held}");
    let _ = docker
        .remove_volume(
            &volume,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        )
        .await;
}
