//! The coordinator's commit statuses without Docker: the real `ponyswarm serve` binary,
//! the test playing the agents over HTTP, and a fake GitHub API on loopback.
//!
//! - two coordinators on one PostgreSQL post every status once between them;
//! - a status GitHub refuses is shown on the run page, and the run finishes all the same;
//! - a submit names its commit with `?commit=`, checked.

mod fake_github;
mod swarm_coordinator_support;

use fake_github::{FakeGithub, Mode};
use ponyswarm::outcome::Status;
use ponyswarm::swarm::api::Submitted;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};
use swarm_coordinator_support::{project_with, write_config, Agent, Coordinator, SUBMIT_TOKEN};

const TOKEN_ENV: &str = "PONYSWARM_TEST_GITHUB_TOKEN";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// A project `pony` of `octo-org/pony` posting to `api`, its matrix with `jobs` jobs.
fn setup(dir: &Path, api: &str, jobs: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    // Read by the coordinators, which inherit it; every test sets the same value.
    std::env::set_var(TOKEN_ENV, "ghp_test");
    let extra = format!(
        "github_api = \"{api}\"\n[[project]]\nname = \"pony\"\nrepository = \"octo-org/pony\"\n\
         [project.github]\ntoken_env = \"{TOKEN_ENV}\"\n"
    );
    let config = write_config(dir, 60, &extra);
    let n: Vec<String> = (1..=jobs).map(|n| n.to_string()).collect();
    let matrix = format!(
        "name: pony\nmatrix:\n  python: [\"3.11\"]\n  n: [{}]\ntest: python -m pytest\n",
        n.join(", ")
    );
    (config, project_with(dir, "pony", &matrix))
}

/// Submits `tree` as a run of `pony` at `commit`: the status and the body.
async fn submit_at(c: &Coordinator, tree: &Path, commit: &str) -> (u16, String) {
    let r = c
        .client()
        .post(format!(
            "{}/api/v1/runs?project=pony&matrix=ponyswarm.yaml&commit={commit}",
            c.url
        ))
        .bearer_auth(SUBMIT_TOKEN)
        .body(ponyswarm::swarm::coordinator::tarball::pack(tree).expect("packs"))
        .send()
        .await
        .expect("submits");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Waits up to a minute for `finals` statuses other than `pending`.
async fn wait_finals(fake: &FakeGithub, finals: usize, log: &Path) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let accepted = fake.accepted();
        if accepted
            .iter()
            .filter(|p| p.field("state") != "pending")
            .count()
            >= finals
        {
            return;
        }
        assert!(
            Instant::now() < end,
            "fewer than {finals} final statuses: {accepted:#?}\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinators_on_one_postgres_post_each_status_once() {
    let Some(server) = swarm_coordinator_support::postgres::Server::any_or_skip() else {
        return;
    };
    let url = server
        .fresh_database(&format!("ponyswarm_outbox_{}", std::process::id()))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::Accept);
    let (config, tree) = setup(dir.path(), &fake.url, 8);
    let one = Coordinator::start(&config, &url);
    let two = Coordinator::start(&config, &url);
    let (code, body) = submit_at(&one, &tree, SHA).await;
    assert_eq!(code, 201, "{body}");
    let run: Submitted = serde_json::from_str(&body).unwrap();

    // Results arrive at both coordinators, so both have statuses to post.
    let mut tasks = Vec::new();
    for i in 0..4 {
        let url = [&one.url, &two.url][i % 2].clone();
        let agent = Agent::register(&url, &format!("agent-{i}"), &["3.11"], &[]).await;
        tasks.push(tokio::spawn(async move {
            while let Some(got) = agent.claim(0).await {
                agent.report(&got, Status::Passed, &[]).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(one.run_state(&run.run_id).await.state, "finished");
    wait_finals(&fake, 9, &one.log).await;
    // Long enough for both posters to look again (they poll every 5 s).
    tokio::time::sleep(Duration::from_secs(12)).await;

    let accepted = fake.accepted();
    let mut seen = HashSet::new();
    for p in &accepted {
        let key = (p.field("context").to_string(), p.field("state").to_string());
        assert!(seen.insert(key), "posted twice: {p:#?}\n{accepted:#?}");
        assert_eq!(p.path, format!("/repos/octo-org/pony/statuses/{SHA}"));
    }
    assert_eq!(accepted.len(), 2 * 8 + 2, "{accepted:#?}");
    let summary = accepted
        .last()
        .filter(|p| p.field("context") == "ponyswarm/pony");
    assert!(
        summary.is_some_and(|p| p.field("description") == "8 jobs: 8 passed"),
        "{accepted:#?}"
    );
    one.kill();
    two.kill();
}

#[tokio::test]
async fn a_refused_status_is_shown_on_the_run_page_and_the_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::RefuseFinals);
    let (config, tree) = setup(dir.path(), &fake.url, 1);
    let c = Coordinator::start(&config, &format!("sqlite://{}/c.db", dir.path().display()));

    let (code, body) = submit_at(&c, &tree, "main").await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not a full commit SHA"), "{body}");

    let (code, body) = submit_at(&c, &tree, SHA).await;
    assert_eq!(code, 201, "{body}");
    let run: Submitted = serde_json::from_str(&body).unwrap();
    let agent = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let got = agent.claim(0).await.expect("the job");
    agent.report(&got, Status::Passed, &[]).await;

    let page_url = format!("{}/runs/{}", c.url, run.run_id);
    let end = Instant::now() + Duration::from_secs(60);
    let page = loop {
        let page = c
            .client()
            .get(&page_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.matches("<div class=\"delivery-failed\">").count() == 2 {
            break page;
        }
        assert!(Instant::now() < end, "no failed statuses shown: {page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(page.contains("HTTP 422: Validation Failed"), "{page}");
    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.state, "finished");
    assert_eq!(state.jobs[0].status.as_deref(), Some("passed"));
    // The pendings landed; the job's state and the summary were refused once each, not
    // retried (a 422 will not change).
    assert_eq!(fake.accepted().len(), 2, "{:#?}", fake.accepted());
    assert_eq!(fake.refused().len(), 2, "{:#?}", fake.refused());
}
