//! The loop closed: a signed `push` webhook queues a run on the real coordinator
//! (`ponyswarm serve`), a real agent runs its jobs in Docker, and the coordinator posts
//! the commit statuses to a fake GitHub API on loopback, which records what it took.
//!
//! - per job, `pending` then its final state linking to the job's page, then the run's
//!   summary linking to its report;
//! - the coordinator SIGKILLed while a job's final status is on its way (the fake API
//!   holds it, and refuses it once the coordinator is dead): after a restart on the same
//!   database the status arrives, once.

mod fake_github;
mod swarm_support;

use fake_github::{FakeGithub, Mode, Posted};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use swarm_support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(240);
const TOKEN_ENV: &str = "PONYSWARM_TEST_GITHUB_TOKEN";
const TOKEN: &str = "ghp_swarm_test_token";
const SECRET: &str = "webhook-s3cret";
const REPOSITORY: &str = "octo-org/hello";

/// A git repository in `dir` holding fixture `one` with `jobs` jobs; its commit.
fn repository(dir: &Path, jobs: usize) -> (PathBuf, String) {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("tests")).expect("mkdir");
    let n: Vec<String> = (1..=jobs).map(|n| n.to_string()).collect();
    let yaml = std::fs::read_to_string(fixture("one").join("ponyswarm.yaml")).expect("fixture");
    let yaml = yaml.replace("n: [1]", &format!("n: [{}]", n.join(", ")));
    std::fs::write(repo.join("ponyswarm.yaml"), yaml).expect("write");
    std::fs::copy(
        fixture("one").join("tests/test_slow.py"),
        repo.join("tests/test_slow.py"),
    )
    .expect("copy");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(args)
            .output()
            .expect("runs git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the project"]);
    let sha = git(&["rev-parse", "HEAD"]);
    (repo, sha)
}

/// A coordinator trusting `REPOSITORY` (cloned from `repo`), posting to `api` with the
/// token in `TOKEN_ENV`, with 3 s leases (and so 3 s claims on statuses).
fn config(dir: &Path, repo: &Path, api: &str) -> PathBuf {
    let path = dir.join("coordinator.toml");
    let text = format!(
        "data_dir = \"{data}\"\nlease_seconds = 3\nagent_tokens = [\"{AGENT_TOKEN}\"]\n\
         github_api = \"{api}\"\n\n[[project]]\nname = \"hello\"\nrepository = \"{REPOSITORY}\"\n\
         clone_url = \"file://{repo}\"\nwebhook_secret = \"{SECRET}\"\n\n[project.github]\n\
         token_env = \"{TOKEN_ENV}\"\n",
        data = dir.join("data").display(),
        repo = repo.display(),
    );
    std::fs::write(&path, text).expect("write coordinator.toml");
    // Read by the coordinator, which inherits it; every test sets the same value.
    std::env::set_var(TOKEN_ENV, TOKEN);
    path
}

/// Delivers a signed `push` of `sha`; returns the run id.
fn push(c: &Coordinator, sha: &str, delivery: &str) -> String {
    use hmac::{Hmac, Mac};
    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "after": sha,
        "repository": {"full_name": REPOSITORY},
    }))
    .expect("json");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let (url, delivery) = (format!("{}/hooks/github", c.url), delivery.to_string());
    let (status, text) = block_on(async move {
        let r = client()
            .post(&url)
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", signature)
            .header("content-type", "application/json")
            .body(body)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .expect("POST /hooks/github");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    });
    assert_eq!(status, 201, "{text}\n{}", c.proc.transcript());
    let answer: Value = serde_json::from_str(&text).expect("json answer");
    answer["run_id"].as_str().expect("a run id").to_string()
}

fn client() -> reqwest::Client {
    ponyswarm::http::client(&Default::default()).expect("a client")
}

/// GETs `url` (following redirects): the final URL and the body.
fn get_page(url: &str) -> (u16, String, String) {
    let url = url.to_string();
    block_on(async move {
        let r = client().get(&url).send().await.expect("GET");
        let (status, at) = (r.status().as_u16(), r.url().to_string());
        (status, at, r.text().await.unwrap_or_default())
    })
}

/// Waits up to a minute for `finals` statuses other than `pending`.
fn wait_finals(fake: &FakeGithub, finals: usize, c: &Coordinator) {
    assert!(
        fake.wait_finals(finals, Duration::from_secs(60)),
        "fewer than {finals} final statuses: {:#?}\n{}",
        fake.accepted(),
        c.proc.transcript()
    );
}

/// The states posted to `context`, in order.
fn states(posted: &[Posted], context: &str) -> Vec<String> {
    posted
        .iter()
        .filter(|p| p.field("context") == context)
        .map(|p| p.field("state").to_string())
        .collect()
}

/// The last status posted to `context`.
fn last<'a>(posted: &'a [Posted], context: &str) -> &'a Posted {
    posted
        .iter()
        .rev()
        .find(|p| p.field("context") == context)
        .unwrap_or_else(|| panic!("nothing posted to {context:?}: {posted:#?}"))
}

/// Every job: `pending`, then `success` linking to its job page (which leads to its
/// report page); the run: `pending`, then its summary linking to its report.
fn assert_statuses(c: &Coordinator, fake: &FakeGithub, run: &str, sha: &str, jobs: usize) {
    let state = c.run_state(run).expect("run state");
    assert_eq!(state.jobs.len(), jobs, "{state:#?}");
    let posted = fake.accepted();
    for p in &posted {
        assert_eq!(p.path, format!("/repos/{REPOSITORY}/statuses/{sha}"));
        assert!(p.authorization.contains(TOKEN), "{p:?}");
    }
    for job in &state.jobs {
        assert_eq!(job.status.as_deref(), Some("passed"), "{job:#?}");
        let context = format!("ponyswarm/{}", job.name);
        assert_eq!(
            states(&posted, &context),
            ["pending", "success"],
            "{posted:#?}"
        );
        let position = job.job_id.rsplit('-').next().expect("a position");
        let page = format!("{}/runs/{run}/jobs/{position}", c.url);
        let final_status = last(&posted, &context);
        assert_eq!(final_status.field("target_url"), page);
        assert_eq!(final_status.field("description"), "1 passed");
        let (code, at, body) = get_page(&page);
        assert_eq!(code, 200, "{at}: {body}");
        assert!(at.contains(&format!("/runs/{run}/report/jobs/")), "{at}");
        assert!(body.contains(&job.name), "{body}");
    }
    let summary = "ponyswarm/one";
    assert_eq!(
        states(&posted, summary),
        ["pending", "success"],
        "{posted:#?}"
    );
    let summary = last(&posted, summary);
    assert_eq!(
        summary.field("description"),
        format!(
            "{jobs} job{}: {jobs} passed",
            if jobs == 1 { "" } else { "s" }
        )
    );
    assert_eq!(
        summary.field("target_url"),
        format!("{}/runs/{run}/report/", c.url)
    );
    assert_eq!(posted.len(), 2 * jobs + 2, "{posted:#?}");
    let (code, _, page) = get_page(&format!("{}/runs/{run}", c.url));
    assert_eq!(code, 200);
    assert!(
        page.contains("commit statuses") && page.contains("posted"),
        "{page}"
    );
    assert!(!page.contains("class=\"delivery-failed\""), "{page}");
}

#[test]
fn a_pushed_commit_gets_pending_then_each_jobs_state_then_the_summary() {
    let _one = serial();
    images(&["3.11"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, sha) = repository(dir.path(), 2);
    let fake = FakeGithub::start(Mode::Accept);
    let coordinator = Coordinator::start(dir.path(), &config(dir.path(), &repo, &fake.url));
    let mut agent = coordinator.agent("worker", &agent_ini(dir.path(), "worker", "3.11", "", ""));
    agent.id();

    let run = push(&coordinator, &sha, "delivery-1");
    coordinator.wait_finished(&run, RUN_TIMEOUT, &[&agent]);
    wait_finals(&fake, 3, &coordinator);

    assert_statuses(&coordinator, &fake, &run, &sha, 2);
    assert!(fake.refused().is_empty());
}

#[test]
fn a_coordinator_killed_before_a_status_lands_posts_it_once_after_restart() {
    let _one = serial();
    images(&["3.11"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, sha) = repository(dir.path(), 1);
    let fake = FakeGithub::start(Mode::HoldFinals);
    let mut coordinator = Coordinator::start(dir.path(), &config(dir.path(), &repo, &fake.url));
    let mut agent = coordinator.agent("worker", &agent_ini(dir.path(), "worker", "3.11", "", ""));
    agent.id();

    let run = push(&coordinator, &sha, "delivery-1");
    // The job's result is in: its final status is on its way, and held.
    fake.wait_held(RUN_TIMEOUT);
    coordinator.proc.kill();
    fake.release();
    let refused = fake.refused();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0].field("state"), "success");
    assert!(
        fake.accepted()
            .iter()
            .all(|p| p.field("state") == "pending"),
        "{:#?}",
        fake.accepted()
    );

    coordinator.restart();
    coordinator.wait_finished(&run, RUN_TIMEOUT, &[&agent]);
    wait_finals(&fake, 2, &coordinator);
    // Time for a second copy to arrive, if one were coming.
    std::thread::sleep(Duration::from_secs(8));

    assert_statuses(&coordinator, &fake, &run, &sha, 1);
    assert_eq!(fake.refused().len(), 1);
}
