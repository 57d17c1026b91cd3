//! The coordinator end to end: the real `ponyswarm serve` binary on SQLite (and two of
//! them on one PostgreSQL), with the test playing the agents over HTTP.

mod swarm_coordinator_support;

use ponyswarm::outcome::Status;
use ponyswarm::swarm::sign::Keypair;
use std::path::Path;
use swarm_coordinator_support::{
    project, write_config, Agent, Coordinator, AGENT_TOKEN, OTHER_AGENT_TOKENS, SUBMIT_TOKEN,
};

const TRUSTED: &str = "[[project]]\nname = \"pony\"\n";
const QUORUM_2: &str = "[[project]]\nname = \"pony\"\nquorum = 2\n";

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}/coordinator.db", dir.display())
}

fn start(dir: &Path, lease_seconds: u64, extra: &str) -> Coordinator {
    let config = write_config(dir, lease_seconds, extra);
    Coordinator::start(&config, &sqlite(dir))
}

#[tokio::test]
async fn jobs_go_only_to_agents_whose_capabilities_fit() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, TRUSTED);
    let tree = project(dir.path(), "pony", &["3.11", "3.13"], Some("3.13"));
    let run = c.submit_ok(&tree, "pony").await;
    assert_eq!(run.jobs, 2);

    let old = Agent::register(&c.url, "old", &["3.9"], &["redis"]).await;
    assert!(old.claim(0).await.is_none(), "no job needs 3.9");
    let no_redis = Agent::register(&c.url, "no-redis", &["3.11", "3.13"], &[]).await;
    let got = no_redis.claim(0).await.expect("the 3.11 job fits");
    assert_eq!(got.spec.python, "3.11");
    assert!(got.spec.services.is_empty());
    assert!(
        no_redis.claim(0).await.is_none(),
        "the 3.13 job needs redis"
    );
    let full = Agent::register(&c.url, "full", &["3.13"], &["redis"]).await;
    let got = full.claim(0).await.expect("the 3.13 job fits");
    assert_eq!(
        (got.spec.python.as_str(), got.spec.services.clone()),
        ("3.13", vec!["redis".to_string()])
    );
    assert_eq!(got.spec.run_id, run.run_id);
}

#[tokio::test]
async fn an_expired_lease_returns_the_job_to_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 2, TRUSTED);
    let tree = project(dir.path(), "pony", &["3.11"], None);
    c.submit_ok(&tree, "pony").await;
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let b = Agent::register(&c.url, "b", &["3.11"], &[]).await;
    let first = a.claim(0).await.expect("a gets the job");
    assert_eq!(a.heartbeat(&first.claim.lease).await, 200);
    assert!(b.claim(0).await.is_none(), "the job is leased");
    // a goes silent; b's long-poll gets the job once the lease expires.
    let second = b.claim(20).await.expect("the job comes back");
    assert_eq!(second.spec.job_id, first.spec.job_id);
    assert_ne!(second.claim.lease, first.claim.lease);
    assert_eq!(
        a.heartbeat(&first.claim.lease).await,
        409,
        "a's lease is lost"
    );
    assert_eq!(b.heartbeat(&second.claim.lease).await, 200);
}

#[tokio::test]
async fn a_repeated_result_is_idempotent_and_the_run_finishes_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, TRUSTED);
    let tree = project(dir.path(), "pony", &["3.11"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let got = a.claim(0).await.expect("a job");
    let signed = a.result(&got, Status::Failed, &["tests/test_x.py::test_x"]);
    let (code, first) = a.post_result(&got.claim.lease, &signed).await;
    assert_eq!(code, 200, "{first}");
    let (code, again) = a.post_result(&got.claim.lease, &signed).await;
    assert_eq!(code, 200, "{again}");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        (first["accepted"].as_bool(), first["counted"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        (again["accepted"].as_bool(), again["counted"].as_bool()),
        (Some(true), Some(true))
    );
    // A different result under the same lease is not a repeat.
    let other = a.result(&got, Status::Passed, &[]);
    assert_eq!(a.post_result(&got.claim.lease, &other).await.0, 409);

    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.state, "finished");
    assert_eq!(state.jobs[0].status.as_deref(), Some("failed"));
    assert_eq!(state.jobs[0].agents, vec![a.id.clone()]);
    let client = c.client();
    let report = client
        .get(format!("{}/runs/{}/report/", c.url, run.run_id))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 200);
    let html = report.text().await.unwrap();
    assert!(html.contains("test_x"), "the report names the failing test");
    let page = client
        .get(format!("{}/runs/{}", c.url, run.run_id))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains(&a.id));
    let index = client
        .get(format!("{}/", c.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains(&run.run_id));
}

#[tokio::test]
async fn forged_results_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, TRUSTED);
    let tree = project(dir.path(), "pony", &["3.11"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let mallory = Agent::register(&c.url, "mallory", &["3.11"], &[]).await;
    let got = a.claim(0).await.expect("a job");

    // Signed with another key than the one a registered.
    let mut forged = mallory.result(&got, Status::Passed, &[]);
    forged.payload = forged.payload.replace(&mallory.id, &a.id);
    let resigned = mallory
        .key
        .sign(&serde_json::from_str::<serde_json::Value>(&forged.payload).unwrap());
    assert_eq!(a.post_result(&got.claim.lease, &resigned).await.0, 403);
    // a's own signature, payload altered afterwards.
    let mut altered = a.result(&got, Status::Failed, &["t"]);
    altered.payload = altered.payload.replace("\"failed\"", "\"passed\"");
    assert_eq!(a.post_result(&got.claim.lease, &altered).await.0, 403);
    // Someone else's lease, with mallory's own valid signature.
    let theirs = mallory.result(&got, Status::Passed, &[]);
    assert_eq!(mallory.post_result(&got.claim.lease, &theirs).await.0, 403);
    // Nothing counted.
    assert_eq!(c.run_state(&run.run_id).await.jobs[0].state, "leased");
    assert!(a.report(&got, Status::Passed, &[]).await.counted);
}

#[tokio::test]
async fn quorum_two_is_not_fooled_by_one_dishonest_agent() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, QUORUM_2);
    let tree = project(dir.path(), "pony", &["3.11"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let [t2, t3] = OTHER_AGENT_TOKENS;
    let honest = Agent::register(&c.url, "honest", &["3.11"], &[]).await;
    let liar = Agent::register_as(&c.url, "liar", t2, Keypair::generate(), &["3.11"]).await;
    let third = Agent::register_as(&c.url, "third", t3, Keypair::generate(), &["3.11"]).await;

    let got = honest.claim(0).await.expect("a job");
    let ack = honest.report(&got, Status::Passed, &[]).await;
    assert!(ack.accepted && !ack.counted, "one result of two: {ack:?}");
    assert!(
        honest.claim(0).await.is_none(),
        "never the same job twice to one agent"
    );
    let got = liar
        .claim(0)
        .await
        .expect("the job again, for a second agent");
    let ack = liar
        .report(&got, Status::Failed, &["tests/test_x.py::test_x"])
        .await;
    assert!(!ack.counted, "disagreement decides nothing: {ack:?}");
    assert_eq!(c.run_state(&run.run_id).await.jobs[0].state, "queued");
    let got = third.claim(0).await.expect("the job for a third agent");
    let ack = third.report(&got, Status::Passed, &[]).await;
    assert!(ack.counted, "two of three agree: {ack:?}");
    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.jobs[0].state, "done");
    assert_eq!(state.jobs[0].status.as_deref(), Some("passed"));
    assert_eq!(state.jobs[0].agents.len(), 3);
    let page = c
        .client()
        .get(format!("{}/runs/{}", c.url, run.run_id))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains("liar") || page.contains(&liar.id),
        "the page shows who disagreed"
    );
}

#[tokio::test]
async fn one_key_or_one_operator_cannot_meet_quorum_two_alone() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, QUORUM_2);
    let tree = project(dir.path(), "pony", &["3.11"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let [t2, t3] = OTHER_AGENT_TOKENS;

    // One key registering twice (a restart, or a second token) is the same agent.
    let key = Keypair::generate();
    let first = Agent::register_as(&c.url, "one", AGENT_TOKEN, key.clone(), &["3.11"]).await;
    let again = Agent::register_as(&c.url, "one-again", t2, key, &["3.11"]).await;
    assert_eq!(first.id, again.id, "one key, one agent id");
    let got = again.claim(0).await.expect("a job");
    assert!(!again.report(&got, Status::Passed, &[]).await.counted);
    assert!(
        again.claim(0).await.is_none(),
        "the re-registered agent does not get the job it answered"
    );

    // Another key under the same token as the last registration: the same operator.
    let sibling = Agent::register_as(&c.url, "sibling", t2, Keypair::generate(), &["3.11"]).await;
    assert_ne!(sibling.id, first.id);
    let got = sibling
        .claim(0)
        .await
        .expect("the job for another agent id");
    let ack = sibling.report(&got, Status::Passed, &[]).await;
    assert!(
        !ack.counted,
        "one operator's two agents are one party: {ack:?}"
    );
    assert_eq!(c.run_state(&run.run_id).await.jobs[0].state, "queued");

    // An independent agent (its own key and token) completes the quorum.
    let other = Agent::register_as(&c.url, "other", t3, Keypair::generate(), &["3.11"]).await;
    let got = other
        .claim(0)
        .await
        .expect("the job for an independent agent");
    let ack = other.report(&got, Status::Passed, &[]).await;
    assert!(ack.counted, "two independent parties agree: {ack:?}");
    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.jobs[0].state, "done");
    assert_eq!(state.jobs[0].status.as_deref(), Some("passed"));
}

#[tokio::test]
async fn a_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, TRUSTED);
    let tree = project(dir.path(), "pony", &["3.11", "3.13"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let a = Agent::register(&c.url, "a", &["3.11", "3.13"], &[]).await;
    let held = a.claim(0).await.expect("a job");
    let key = c.key().await;
    c.kill();

    let c = start(dir.path(), 60, TRUSTED);
    assert_eq!(c.key().await, key, "the same coordinator key");
    let a = Agent {
        url: c.url.clone(),
        ..a
    };
    // The agent's token, its lease and the queue all survived.
    assert_eq!(a.heartbeat(&held.claim.lease).await, 200);
    let next = a.claim(0).await.expect("the other job is still queued");
    assert_ne!(next.spec.job_id, held.spec.job_id);
    assert!(a.report(&held, Status::Passed, &[]).await.counted);
    assert!(a.report(&next, Status::Passed, &[]).await.counted);
    assert_eq!(c.run_state(&run.run_id).await.state, "finished");
}

#[tokio::test]
async fn submits_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, TRUSTED);
    // An empty coordinator shows a submit command that works as written.
    let home = c.page("/").await;
    assert!(
        home.contains("--project NAME --token TOKEN"),
        "the home page's submit command lacks --token: {home}"
    );
    assert_eq!(
        c.printed_key,
        c.key().await,
        "serve prints the key agents pin"
    );
    let tree = project(dir.path(), "pony", &["3.11"], None);
    assert_eq!(
        c.submit(&tree, "stranger").await.status(),
        403,
        "untrusted project"
    );
    let r = c
        .client()
        .post(format!("{}/api/v1/runs?project=pony", c.url))
        .bearer_auth("wrong")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "wrong token");
    std::fs::write(
        tree.join("ponyswarm.yaml"),
        "matrix:\n  python: [\"3.11\"]\n  bogus\n",
    )
    .unwrap();
    let r = c.submit(&tree, "pony").await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("ponyswarm.yaml:"),
        "names the file and line: {body}"
    );
    assert!(!body.contains("/tmp"), "not our scratch directory: {body}");
    let not_gz = c
        .client()
        .post(format!("{}/api/v1/runs?project=pony", c.url))
        .bearer_auth(swarm_coordinator_support::SUBMIT_TOKEN)
        .body("not a tarball")
        .send()
        .await
        .unwrap();
    assert_eq!(not_gz.status(), 400);
}

#[tokio::test]
async fn the_submit_command_sends_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, TRUSTED);
    let tree = project(dir.path(), "pony", &["3.11", "3.13"], None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .arg("submit")
        .arg(tree.join("ponyswarm.yaml"))
        .args(["--coordinator", &c.url, "--project", "pony"])
        .env(
            "PONYSWARM_SUBMIT_TOKEN",
            swarm_coordinator_support::SUBMIT_TOKEN,
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_id = stdout.split_whitespace().nth(1).expect("run <id>");
    assert_eq!(c.run_state(run_id).await.jobs.len(), 2);

    // --commit names the commit the tree is; a malformed one is refused as bad input.
    let submit_with_commit = |commit: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
            .arg("submit")
            .arg(tree.join("ponyswarm.yaml"))
            .args([
                "--coordinator",
                &c.url,
                "--project",
                "pony",
                "--commit",
                commit,
            ])
            .env(
                "PONYSWARM_SUBMIT_TOKEN",
                swarm_coordinator_support::SUBMIT_TOKEN,
            )
            .output()
            .unwrap()
    };
    let bad = submit_with_commit("not-a-sha");
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let good = submit_with_commit(sha);
    assert!(good.status.success(), "{good:?}");
    let stdout = String::from_utf8_lossy(&good.stdout);
    let with_commit = stdout.split_whitespace().nth(1).expect("run <id>");
    let page = c.page(&format!("/runs/{with_commit}")).await;
    assert!(page.contains(sha), "the run page names the commit: {page}");
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let got = a.claim(0).await.expect("a job");
    let source = c
        .client()
        .get(format!("{}{}", c.url, got.spec.source_path))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        ponyswarm::swarm::coordinator::sha256_hex(&source),
        got.spec.source_sha256
    );
}

#[tokio::test]
async fn agents_that_cannot_agree_are_shown_as_disagreed_or_flaky() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, QUORUM_2);
    let tree = project(dir.path(), "pony", &["3.11", "3.13"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let mut agents = Vec::new();
    let tokens = [AGENT_TOKEN, OTHER_AGENT_TOKENS[0], OTHER_AGENT_TOKENS[1]];
    for (name, token) in ["a", "b", "c"].into_iter().zip(tokens) {
        let key = Keypair::generate();
        agents.push(Agent::register_as(&c.url, name, token, key, &["3.11", "3.13"]).await);
    }
    // Job 0: the three answers differ in kind. Job 1: the failing tests move around.
    let answers: [[(Status, &[&str]); 3]; 2] = [
        [
            (Status::Passed, &[]),
            (Status::InstallFailed, &[]),
            // Not `error`: an error is retried elsewhere and never votes.
            (Status::Timeout, &[]),
        ],
        [
            (Status::Passed, &[]),
            (Status::Failed, &["t1"]),
            (Status::Failed, &["t2"]),
        ],
    ];
    for (agent, i) in agents.iter().zip(0..) {
        for _ in 0..2 {
            let got = agent
                .claim(0)
                .await
                .expect("each agent gets both jobs in turn");
            let (status, failing) = answers[got.spec.job_index][i];
            assert!(!agent.report(&got, status, failing).await.counted);
        }
    }
    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.jobs[0].state, "disagreed");
    assert_eq!(state.jobs[1].state, "flaky");
    assert_eq!(state.state, "finished");
    let page = c
        .client()
        .get(format!("{}/runs/{}", c.url, run.run_id))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains("agents disagree") && page.contains("flaky"),
        "{page}"
    );
}

const WEBHOOK_SECRET: &str = "s3cret";

/// A coordinator trusting `owner/pony`, cloned from a local repository; and its commit.
fn webhook_setup(dir: &Path) -> (Coordinator, String) {
    let tree = project(dir, "pony-repo", &["3.11"], None);
    let sha = swarm_coordinator_support::git_commit(&tree);
    let extra = format!(
        "[[project]]\nname = \"pony\"\nrepository = \"owner/pony\"\nclone_url = \"file://{}\"\n\
         webhook_secret = \"{WEBHOOK_SECRET}\"\n",
        tree.display()
    );
    (start(dir, 60, &extra), sha)
}

async fn deliver(
    c: &Coordinator,
    event: &str,
    delivery: &str,
    body: &[u8],
    secret: &str,
) -> (u16, String) {
    let r = c
        .client()
        .post(format!("{}/hooks/github", c.url))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header(
            "X-Hub-Signature-256",
            swarm_coordinator_support::hub_signature(secret, body),
        )
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn push(repository: &str, sha: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ref": "refs/heads/main",
        "after": sha,
        // Never used: the configured clone_url is.
        "repository": {"full_name": repository, "clone_url": "https://attacker.invalid/x.git"},
    }))
    .unwrap()
}

#[tokio::test]
async fn a_signed_push_enqueues_the_commit_once() {
    let dir = tempfile::tempdir().unwrap();
    let (c, sha) = webhook_setup(dir.path());
    let body = push("owner/pony", &sha);
    let (code, text) = deliver(&c, "push", "d-1", &body, WEBHOOK_SECRET).await;
    assert_eq!(code, 201, "{text}");
    let submitted: ponyswarm::swarm::api::Submitted = serde_json::from_str(&text).unwrap();
    assert_eq!(submitted.jobs, 1);
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let got = a.claim(0).await.expect("the commit's job is queued");
    assert_eq!(got.spec.run_id, submitted.run_id);
    let index = c
        .client()
        .get(format!("{}/", c.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains(&sha[..12]), "the page names the commit");

    // A replay is answered 202 (GitHub does not retry) and queues nothing.
    let (code, text) = deliver(&c, "push", "d-1", &body, WEBHOOK_SECRET).await;
    assert_eq!(code, 202, "a replayed delivery: {text}");
    assert!(text.contains("duplicate"), "{text}");
    assert!(a.claim(0).await.is_none(), "the replay queued nothing");
    let (code, _) = deliver(
        &c,
        "ping",
        "d-2",
        br#"{"zen": "hi", "repository": {"full_name": "owner/pony"}}"#,
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(code, 200, "ping");
}

#[tokio::test]
async fn bad_webhook_deliveries_get_clear_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let (c, sha) = webhook_setup(dir.path());
    let body = push("owner/pony", &sha);
    let (code, text) = deliver(&c, "push", "w-1", &body, "wrong secret").await;
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("X-Hub-Signature-256"), "{text}");
    let (code, text) = deliver(&c, "push", "w-2", b"ref=main&after=abc", WEBHOOK_SECRET).await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("not JSON"), "{text}");
    let (code, text) = deliver(
        &c,
        "push",
        "w-3",
        &push("stranger/repo", &sha),
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(code, 404, "{text}");
    assert!(text.contains("stranger/repo"), "{text}");
    // The wrongly signed delivery was not recorded: sent right, it is taken.
    let (code, text) = deliver(&c, "push", "w-1", &body, WEBHOOK_SECRET).await;
    assert_eq!(code, 201, "{text}");
    let unsigned = c
        .client()
        .post(format!("{}/hooks/github", c.url))
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", "w-4")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
}

#[tokio::test]
async fn two_coordinators_on_one_postgres_hand_each_job_out_once() {
    let Some(server) = swarm_coordinator_support::postgres::Server::any_or_skip() else {
        return;
    };
    let url = server
        .fresh_database(&format!("ponyswarm_coord_{}", std::process::id()))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 60, TRUSTED);
    let one = Coordinator::start(&config, &url);
    let two = Coordinator::start(&config, &url);
    let matrix = "name: pony\nmatrix:\n  python: [\"3.11\"]\n  n: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]\n\
                  test: python -m pytest\n";
    let tree = swarm_coordinator_support::project_with(dir.path(), "pony", matrix);
    let run = one.submit_ok(&tree, "pony").await;
    assert_eq!(run.jobs, 16);

    let mut tasks = Vec::new();
    for i in 0..8 {
        let url = if i % 2 == 0 {
            one.url.clone()
        } else {
            two.url.clone()
        };
        let agent = Agent::register(&url, &format!("agent-{i}"), &["3.11"], &[]).await;
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(claim) = agent.claim(0).await {
                got.push(claim.spec.job_id);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    claimed.sort();
    let all = claimed.len();
    claimed.dedup();
    assert_eq!(all, claimed.len(), "a job was handed out twice");
    assert_eq!(claimed.len(), 16, "every job was handed out");
}

#[tokio::test]
async fn a_cancelled_run_cancels_queued_jobs_at_once_and_running_ones_at_their_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, TRUSTED);
    let tree = project(dir.path(), "pony", &["3.11", "3.13"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let got = a.claim(0).await.expect("a holds the 3.11 job");

    assert_eq!(c.cancel(&run.run_id, "not-a-token").await.0, 401);
    assert_eq!(c.cancel("no-such-run", SUBMIT_TOKEN).await.0, 404);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ponyswarm"))
        .args(["cancel", &run.run_id, "--coordinator", &c.url])
        .env("PONYSWARM_SUBMIT_TOKEN", SUBMIT_TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 queued jobs, 1 running"), "{stdout}");

    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.state, "cancelled");
    let states: Vec<&str> = state.jobs.iter().map(|j| j.state.as_str()).collect();
    assert_eq!(states, ["cancelled", "cancelled"]);
    let (code, beat) = a.heartbeat_answer(&got.claim.lease).await;
    assert_eq!(
        (code, beat["cancel"].as_bool()),
        (200, Some(true)),
        "{beat}"
    );
    let ack = a.report(&got, Status::Passed, &[]).await;
    assert!(!ack.counted, "a result after the cancel does not count");
    assert_eq!(
        c.run_state(&run.run_id).await.jobs[0].status.as_deref(),
        Some("cancelled")
    );
    let b = Agent::register(&c.url, "b", &["3.11", "3.13"], &[]).await;
    assert!(
        b.claim(0).await.is_none(),
        "nothing of the run is handed out"
    );
    let (code, again) = c.cancel(&run.run_id, SUBMIT_TOKEN).await;
    assert_eq!(code, 200, "{again}");
    assert!(again.contains(r#""queued":0"#), "{again}");
    let report = c.page(&format!("/runs/{}/report/", run.run_id)).await;
    assert!(report.contains("cancelled"), "the run has its report");
}

#[tokio::test]
async fn an_error_result_is_retried_on_another_agent_until_the_retries_are_spent() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), 60, &format!("error_retries = 1\n{TRUSTED}"));
    let tree = project(dir.path(), "pony", &["3.11", "3.13"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let a = Agent::register(&c.url, "a", &["3.11", "3.13"], &[]).await;
    let b = Agent::register(&c.url, "b", &["3.11", "3.13"], &[]).await;

    let first = a.claim(0).await.expect("a gets the first job");
    let ack = a.report(&first, Status::Error, &[]).await;
    assert!(!ack.counted, "an error is retried: {ack:?}");
    assert_eq!(c.run_state(&run.run_id).await.jobs[0].state, "queued");
    let second = a.claim(0).await.expect("a gets the other job");
    assert_ne!(
        second.spec.job_id, first.spec.job_id,
        "not the one it erred on"
    );
    assert!(!a.report(&second, Status::Error, &[]).await.counted);

    let retry = b.claim(0).await.expect("b gets the first job again");
    assert_eq!(retry.spec.job_id, first.spec.job_id);
    assert!(b.report(&retry, Status::Passed, &[]).await.counted);
    let retry = b.claim(0).await.expect("b gets the second job again");
    assert_eq!(retry.spec.job_id, second.spec.job_id);
    let ack = b.report(&retry, Status::Error, &[]).await;
    assert!(
        ack.counted,
        "the second error spends the one retry: {ack:?}"
    );

    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.state, "finished");
    let statuses: Vec<Option<&str>> = state.jobs.iter().map(|j| j.status.as_deref()).collect();
    assert_eq!(statuses, [Some("passed"), Some("error")]);
}

#[tokio::test]
async fn a_job_no_live_agent_can_take_says_why_and_ends_unschedulable() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(
        dir.path(),
        60,
        &format!("unschedulable_after = \"3s\"\n{TRUSTED}"),
    );
    let tree = project(dir.path(), "pony", &["3.9", "3.11"], None);
    let run = c.submit_ok(&tree, "pony").await;
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let got = a.claim(0).await.expect("the 3.11 job fits");
    assert_eq!(got.spec.python, "3.11");

    let why = "no agent offers python 3.9; 1 agent online";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let page = c.page(&format!("/runs/{}", run.run_id)).await;
        if page.contains(why) || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(page.contains(why), "the run page says why: {page}");
    let state = c.run_state(&run.run_id).await;
    assert_eq!(state.jobs[0].waiting.as_deref(), Some(why), "and the API");
    assert_eq!(state.jobs[1].waiting, None, "the 3.11 job is held");

    assert!(a.report(&got, Status::Passed, &[]).await.counted);
    let state = loop {
        let state = c.run_state(&run.run_id).await;
        if state.state == "finished" || std::time::Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(state.state, "finished", "{state:?}");
    assert_eq!(state.jobs[0].state, "unschedulable");
    assert_eq!(state.jobs[0].waiting.as_deref(), Some(why));
    assert_eq!(state.jobs[1].status.as_deref(), Some("passed"));
}

#[tokio::test]
async fn shutting_down_answers_a_waiting_long_poll_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path(), 60, TRUSTED);
    let a = Agent::register(&c.url, "a", &["3.11"], &[]).await;
    let waiting = tokio::spawn(async move { a.claim(60).await.is_none() });
    // Long enough for the claim to be waiting in its long poll.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    c.terminate();
    let answered = tokio::time::timeout(std::time::Duration::from_secs(30), waiting)
        .await
        .expect("the claim is answered well before its 60 s long poll ends")
        .expect("the claim task");
    assert!(answered, "answered with no job");
    assert!(c.wait().success(), "the coordinator exits cleanly");
}
