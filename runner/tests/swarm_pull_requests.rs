//! The webhook's gate and edges without Docker: the real `ponyswarm serve` binary on
//! SQLite, signed deliveries from the test, the test playing an agent over HTTP, and a
//! fake GitHub API on loopback recording the statuses it is sent.
//!
//! - a stranger's pull request is not queued; its commit gets a `pending` status saying
//!   why it waits;
//! - a collaborator's is queued at once, trusted;
//! - a stranger's pull request from a fork, let in by the run label a triager added, is
//!   queued with specs that say `untrusted` (so the agent gives it wheelhouses of its
//!   own), and the gate's status turns green;
//! - the run label added by someone who may not triage (the author, a reader, a user
//!   GitHub does not know) or whose role GitHub does not say (an outage) queues
//!   nothing: the commit gets a `pending` status saying who added it and why it does
//!   not count; the role was asked of the fake API with the project's token;
//! - a body replayed under a fresh delivery id queues nothing;
//! - an empty webhook secret or token stops the coordinator at start, naming the file
//!   and the key.

mod fake_github;
mod swarm_coordinator_support;

use fake_github::{FakeGithub, Mode, Posted};
use ponyswarm::run::prepare::Trust;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use swarm_coordinator_support::{hub_signature, write_config, Agent, Coordinator};

const SECRET: &str = "pr-s3cret";
const REPOSITORY: &str = "octo-org/pony";
const TOKEN_ENV: &str = "PONYSWARM_TEST_GITHUB_TOKEN";
const GATE: &str = "ponyswarm:gate";

/// A coordinator trusting `REPOSITORY` (cloned from a local repository), posting
/// statuses to `api`; and the repository's commit.
fn start(dir: &Path, api: &str) -> (Coordinator, String) {
    // Read by the coordinator, which inherits it; every test sets the same value.
    std::env::set_var(TOKEN_ENV, "ghp_test");
    let tree = swarm_coordinator_support::project(dir, "pony-repo", &["3.11"], None);
    let sha = swarm_coordinator_support::git_commit(&tree);
    let extra = format!(
        "github_api = \"{api}\"\n[[project]]\nname = \"pony\"\nrepository = \"{REPOSITORY}\"\n\
         clone_url = \"file://{}\"\nwebhook_secret = \"{SECRET}\"\n\
         [project.github]\ntoken_env = \"{TOKEN_ENV}\"\n",
        tree.display()
    );
    let config = write_config(dir, 60, &extra);
    let db = format!("sqlite://{}/coordinator.db", dir.display());
    (Coordinator::start(&config, &db), sha)
}

/// Delivers `body` as `event` under `delivery`, signed with the project's secret.
async fn deliver(c: &Coordinator, event: &str, delivery: &str, body: &[u8]) -> (u16, String) {
    let r = c
        .client()
        .post(format!("{}/hooks/github", c.url))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header("X-Hub-Signature-256", hub_signature(SECRET, body))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("POST /hooks/github");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// A `pull_request` payload: `action` on a pull request at `sha` by an author of
/// `association`, from `head` (`owner/repo`), with `label` added (for `labeled`); its
/// sender is `stranger` (see [`sent_by`]).
fn pull_request(
    action: &str,
    sha: &str,
    association: &str,
    head: &str,
    label: Option<&str>,
) -> Vec<u8> {
    let mut payload = json!({
        "action": action,
        "number": 7,
        "repository": {"full_name": REPOSITORY},
        "sender": {"login": "stranger"},
        "pull_request": {
            "number": 7,
            "state": "open",
            "author_association": association,
            "labels": label.map(|l| vec![json!({"name": l})]).unwrap_or_default(),
            "head": {"sha": sha, "repo": {"full_name": head}},
            "base": {"repo": {"full_name": REPOSITORY}},
        },
    });
    if let Some(label) = label {
        payload["label"] = json!({ "name": label });
    }
    serde_json::to_vec(&payload).expect("json")
}

/// `payload` with its sender `login`.
fn sent_by(payload: &[u8], login: &str) -> Vec<u8> {
    let mut payload: serde_json::Value = serde_json::from_slice(payload).expect("json");
    payload["sender"] = json!({ "login": login });
    serde_json::to_vec(&payload).expect("json")
}

/// Waits up to 30 s for `n` statuses in `context`; all that were posted there.
fn wait_posted(fake: &FakeGithub, context: &str, n: usize, c: &Coordinator) -> Vec<Posted> {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let got: Vec<Posted> = fake
            .accepted()
            .into_iter()
            .filter(|p| p.field("context") == context)
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < end,
            "fewer than {n} statuses in {context}: {:#?}\n{}",
            fake.accepted(),
            std::fs::read_to_string(&c.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test]
async fn a_strangers_pull_request_waits_with_a_pending_status_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::Accept);
    let (c, sha) = start(dir.path(), &fake.url);
    let body = pull_request(
        "opened",
        &sha,
        "FIRST_TIME_CONTRIBUTOR",
        "stranger/pony",
        None,
    );
    let (code, text) = deliver(&c, "pull_request", "pr-1", &body).await;
    assert_eq!(code, 202, "{text}");
    let why = "waiting for a maintainer: author is FIRST_TIME_CONTRIBUTOR; add label ponyswarm:run";
    assert!(text.contains(why), "{text}");

    let agent = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    assert!(agent.claim(0).await.is_none(), "nothing was queued");
    let posted = wait_posted(&fake, GATE, 1, &c);
    assert_eq!(posted.len(), 1, "{posted:#?}");
    let status = &posted[0];
    assert_eq!(status.path, format!("/repos/{REPOSITORY}/statuses/{sha}"));
    assert_eq!(
        (status.field("state"), status.field("description")),
        ("pending", why)
    );
    // Nothing else was posted: there is no run.
    assert_eq!(fake.accepted().len(), 1, "{:#?}", fake.accepted());
}

#[tokio::test]
async fn a_collaborators_pull_request_is_queued_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::Accept);
    let (c, sha) = start(dir.path(), &fake.url);
    let body = pull_request("opened", &sha, "COLLABORATOR", REPOSITORY, None);
    let (code, text) = deliver(&c, "pull_request", "pr-1", &body).await;
    assert_eq!(code, 201, "{text}");
    let agent = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let got = agent
        .claim(0)
        .await
        .expect("the pull request's job is queued");
    assert_eq!(got.spec.trust, Trust::Trusted);
    assert!(
        got.claim.spec.payload.contains(r#""trust":"trusted""#),
        "{}",
        got.claim.spec.payload
    );
    // Its run's statuses come; the gate says nothing to a trusted author.
    wait_posted(&fake, "ponyswarm/pony-repo", 1, &c);
    assert!(
        fake.accepted().iter().all(|p| p.field("context") != GATE),
        "{:#?}",
        fake.accepted()
    );
}

#[tokio::test]
async fn a_strangers_fork_let_in_by_the_label_runs_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::Accept);
    let (c, sha) = start(dir.path(), &fake.url);
    let agent = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let opened = pull_request("opened", &sha, "NONE", "stranger/pony", None);
    assert_eq!(deliver(&c, "pull_request", "pr-1", &opened).await.0, 202);
    // Another label lets nothing in.
    let other = pull_request("labeled", &sha, "NONE", "stranger/pony", Some("bug"));
    let (code, text) = deliver(&c, "pull_request", "pr-2", &other).await;
    assert_eq!((code, text.contains("ignored")), (202, true), "{text}");
    assert!(agent.claim(0).await.is_none(), "nothing was queued yet");

    fake.set_role("maintainer", "triage");
    let labeled = sent_by(
        &pull_request(
            "labeled",
            &sha,
            "NONE",
            "stranger/pony",
            Some("ponyswarm:run"),
        ),
        "maintainer",
    );
    let (code, text) = deliver(&c, "pull_request", "pr-3", &labeled).await;
    assert_eq!(code, 201, "{text}");
    let asked: Vec<String> = fake.asked().into_iter().map(|a| a.path).collect();
    assert_eq!(
        asked,
        [format!(
            "/repos/{REPOSITORY}/collaborators/maintainer/permission"
        )]
    );
    let got = agent.claim(0).await.expect("the label queued the job");
    // Signed as untrusted: the agent runs it with `RunOptions::trust` untrusted, whose
    // wheelhouse keys differ from every trusted run's.
    assert_eq!(got.spec.trust, Trust::Untrusted);
    assert!(
        got.claim.spec.payload.contains(r#""trust":"untrusted""#),
        "{}",
        got.claim.spec.payload
    );
    let gate = wait_posted(&fake, GATE, 2, &c);
    let states: Vec<&str> = gate.iter().map(|p| p.field("state")).collect();
    assert_eq!(states, ["pending", "success"], "{gate:#?}");
    assert_eq!(
        gate[1].field("description"),
        "let in by a maintainer: label ponyswarm:run"
    );
    assert!(gate[1].field("target_url").contains("/runs/"), "{gate:#?}");

    // The stranger pushes again: the new commit waits, label or not.
    let mut pushed: serde_json::Value = serde_json::from_slice(&labeled).unwrap();
    pushed["action"] = json!("synchronize");
    pushed.as_object_mut().unwrap().remove("label");
    let (code, text) = deliver(
        &c,
        "pull_request",
        "pr-4",
        &serde_json::to_vec(&pushed).unwrap(),
    )
    .await;
    assert_eq!(code, 202, "{text}");
    assert!(text.contains("remove and add it again"), "{text}");
}

#[tokio::test]
async fn a_run_label_added_by_someone_who_may_not_triage_leaves_it_waiting_saying_who() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::Accept);
    let (c, sha) = start(dir.path(), &fake.url);
    fake.set_role("stranger", "read");
    let labeled = pull_request(
        "labeled",
        &sha,
        "NONE",
        "stranger/pony",
        Some("ponyswarm:run"),
    );
    let why_role = |who: &str, role: &str| {
        format!(
            "waiting for a maintainer: label ponyswarm:run was added by {who} (role {role}); \
             only triage or better counts"
        )
    };
    let unknown = "waiting for a maintainer: label ponyswarm:run was added by ghost, whose role \
                   could not be checked: GitHub answered 404: Not Found";
    let cases = [
        ("stranger", why_role("stranger", "read")),
        ("ghost", unknown.to_string()),
    ];
    for (n, (sender, why)) in cases.iter().enumerate() {
        let body = sent_by(&labeled, sender);
        let (code, text) = deliver(&c, "pull_request", &format!("pr-{n}"), &body).await;
        assert_eq!(code, 202, "{text}");
        assert!(text.contains(why.as_str()), "{text}");
    }
    let agent = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    assert!(agent.claim(0).await.is_none(), "nothing was queued");
    let posted = wait_posted(&fake, GATE, 2, &c);
    let said: Vec<(&str, &str)> = posted
        .iter()
        .map(|p| (p.field("state"), p.field("description")))
        .collect();
    let want: Vec<(&str, &str)> = cases.iter().map(|(_, w)| ("pending", w.as_str())).collect();
    assert_eq!(said, want);
    // Asked of GitHub, with the project's token.
    let asked = fake.asked();
    assert_eq!(asked.len(), 2, "{asked:#?}");
    for (a, (sender, _)) in asked.iter().zip(&cases) {
        assert_eq!(
            a.path,
            format!("/repos/{REPOSITORY}/collaborators/{sender}/permission")
        );
        assert!(a.authorization.contains("ghp_test"), "{a:?}");
    }
}

#[tokio::test]
async fn a_run_label_whose_sender_github_cannot_vouch_for_leaves_it_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::Accept);
    let (c, sha) = start(dir.path(), &fake.url);
    fake.set_role("maintainer", "admin");
    fake.fail_roles(502);
    let labeled = sent_by(
        &pull_request(
            "labeled",
            &sha,
            "NONE",
            "stranger/pony",
            Some("ponyswarm:run"),
        ),
        "maintainer",
    );
    let (code, text) = deliver(&c, "pull_request", "pr-1", &labeled).await;
    assert_eq!(code, 202, "{text}");
    let why = "waiting for a maintainer: label ponyswarm:run was added by maintainer, whose role \
               could not be checked: GitHub answered 502: Server Error";
    assert!(text.contains(why), "{text}");
    let agent = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    assert!(agent.claim(0).await.is_none(), "nothing was queued");
    let posted = wait_posted(&fake, GATE, 1, &c);
    // The status says as much as fits in GitHub's 140 characters.
    let said = posted[0].field("description");
    assert_eq!(posted[0].field("state"), "pending");
    assert!(
        said.chars().count() <= 140 && why.starts_with(said.trim_end_matches('…')),
        "{said}"
    );
    assert!(
        said.contains("could not be checked: GitHub answered 502"),
        "{said}"
    );
}

#[tokio::test]
async fn a_body_replayed_under_a_fresh_delivery_id_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGithub::start(Mode::Accept);
    let (c, sha) = start(dir.path(), &fake.url);
    let body = pull_request("opened", &sha, "MEMBER", REPOSITORY, None);
    assert_eq!(deliver(&c, "pull_request", "d-1", &body).await.0, 201);
    for delivery in ["d-2", "d-1"] {
        let (code, text) = deliver(&c, "pull_request", delivery, &body).await;
        assert_eq!(code, 202, "{delivery}: {text}");
        assert!(text.contains("duplicate"), "{delivery}: {text}");
    }
    let agent = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    assert!(agent.claim(0).await.is_some(), "the first delivery's job");
    assert!(agent.claim(0).await.is_none(), "the replays queued nothing");
    // Any change to the body is another delivery.
    let mut again: serde_json::Value = serde_json::from_slice(&body).unwrap();
    again["action"] = json!("reopened");
    let (code, text) = deliver(
        &c,
        "pull_request",
        "d-3",
        &serde_json::to_vec(&again).unwrap(),
    )
    .await;
    assert_eq!(code, 201, "{text}");
}

/// `ponyswarm serve --config CONFIG`: whether it started, and its stderr.
fn serve(config: &Path) -> (bool, String) {
    let db = config.with_file_name("c.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("sqlite://{}", db.display()))
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs ponyswarm serve");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn an_empty_secret_or_token_stops_the_coordinator_naming_file_and_key() {
    let cases = [
        (
            "[[project]]\nname = \"pony\"\nrepository = \"o/p\"\nwebhook_secret = \"\"\n",
            "project \"pony\": webhook_secret is empty",
        ),
        (
            "[[project]]\nname = \"pony\"\nwebhook_secret_env = \"\"\n",
            "project \"pony\": webhook_secret_env is empty",
        ),
        (
            "agent_tokens = [\"a\", \" \"]\n",
            "agent_tokens: token #2 is empty",
        ),
        (
            "submit_tokens = [\"\"]\n",
            "submit_tokens: token #1 is empty",
        ),
    ];
    for (text, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("coordinator.toml");
        std::fs::write(
            &config,
            format!("data_dir = {:?}\n{text}", dir.path().join("data")),
        )
        .unwrap();
        let (started, stderr) = serve(&config);
        assert!(!started, "{text}: started");
        assert!(
            stderr.contains(&format!("{}: {want}", config.display())),
            "{text}: {stderr}"
        );
    }
}
