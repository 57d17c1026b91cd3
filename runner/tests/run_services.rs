//! Jobs with services, for real: the job reaches its Redis by name on its internal
//! network and nothing beyond it; a project written for a GitHub runner reaches its
//! services on localhost with their default users; a service that never becomes
//! healthy (or exits) fails its job with `error`, naming the service, with its log.

mod run_support;

use run_support::{ensure_images, image_options, job, run_fixture, serial, status};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_reach_redis_and_only_redis() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11", "redis"]).await;
    let (result, json) = run_fixture("redis-ping", |_| true, |_| {}).await;
    let j = &json["jobs"][0];
    assert_eq!(status(j), "passed", "{j:#}");
    assert_eq!(j["tests"]["passed"], 4, "{j:#}");
    assert_eq!(j["tests"]["failed"], 0, "{j:#}");
    assert!(j["phases"]["services"].is_number(), "{j:#}");
    assert!(
        j["images"]["redis"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{j:#}"
    );
    assert_eq!(result.run.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_answer_on_localhost_with_their_default_users() {
    let _serial = serial().await;
    ensure_images(&run_support::docker().await, &["3.11", "postgres", "redis"]).await;
    let (result, json) = run_fixture("localhost-services", |_| true, |_| {}).await;
    let j = &json["jobs"][0];
    assert_eq!(status(j), "passed", "{j:#}");
    assert_eq!(j["tests"]["passed"], 5, "{j:#}");
    assert_eq!(result.run.exit_code, 0);
}

/// Builds `tag` from the Python image with a Dockerfile tail.
fn build_test_image(base: &str, tag: &str, tail: &str) {
    let dockerfile = format!("FROM {base}\n{tail}\n");
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("docker build runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dockerfile.as_bytes())
        .expect("write the Dockerfile");
    assert!(
        child.wait().expect("docker build").success(),
        "building {tag}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_serves_is_an_error_naming_it() {
    let _serial = serial().await;
    let docker = run_support::docker().await;
    let python = ponyswarm::sandbox::images::ensure(&docker, "3.11", &image_options())
        .await
        .expect("python image");
    build_test_image(
        &python.reference,
        "ponyswarm-test/never-healthy:1",
        "HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD false\n\
         CMD [\"sh\", \"-c\", \"echo sick: cannot read my settings; exec sleep infinity\"]",
    );
    build_test_image(
        &python.reference,
        "ponyswarm-test/exits:1",
        "CMD [\"false\"]",
    );
    let started = std::time::Instant::now();
    let (result, json) = run_fixture("bad-service", |_| true, |_| {}).await;
    let never = job(&json, &[("svc", "sick")]);
    assert_eq!(status(never), "error", "{never:#}");
    let detail = never["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("service sick") && detail.contains("healthy"),
        "{never:#}"
    );
    // Why it never got healthy is in its own output, which the job's log keeps.
    let log = never["log"].as_str().unwrap_or_default();
    assert!(log.contains("sick: cannot read my settings"), "{never:#}");
    let exits = job(&json, &[("svc", "quitter")]);
    assert_eq!(status(exits), "error", "{exits:#}");
    let detail = exits["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("service quitter exited"), "{exits:#}");
    // Neither job ran its tests.
    for j in [never, exits] {
        assert!(
            !j["log"]
                .as_str()
                .unwrap_or_default()
                .contains("never reached"),
            "{j:#}"
        );
    }
    assert_eq!(result.run.exit_code, 3);
    // Given up on well before the 180 s health deadline.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}
