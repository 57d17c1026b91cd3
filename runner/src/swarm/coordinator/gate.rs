//! Which pull requests the webhook lets in, and how far their code is trusted.
//!
//! A `pull_request` event is queued when:
//! 1. its action is `opened`, `synchronize` or `reopened` and the author's
//!    `author_association` is one the project trusts (default OWNER, MEMBER,
//!    COLLABORATOR); or
//! 2. its action is `labeled`, the label added is the project's run label (default
//!    `ponyswarm:run`), the pull request is open, and the event's sender may triage the
//!    base repository: a maintainer lets its head commit in. Who the sender is comes
//!    from GitHub's API, not the payload ([`decide`] says [`Gate::CheckLabeler`]; the
//!    webhook asks `GET /repos/{owner}/{repo}/collaborators/{sender}/permission` and
//!    [`after_label`] decides on the answer): a role of triage, write, maintain or
//!    admin counts; read, an unknown custom role, or no answer at all (an API failure,
//!    no credentials) leaves the pull request waiting, saying who added the label and
//!    why it does not count. A later push by an untrusted author waits again, label or
//!    not: the maintainer saw the commit they let in, not the next one.
//!
//! Other `opened`/`synchronize`/`reopened` events wait, with a reason for the commit
//! status; every other action is ignored. Whatever let it in, a pull request whose head
//! repository is not the base repository (a fork, or a deleted fork) runs
//! [`Trust::Untrusted`]: its wheelhouses are its own, never reused by trusted runs.
//!
//! Pure: the payload's fields (and GitHub's answer about the sender) in, a [`Gate`] out.

use super::config::PullRequests;
use crate::run::prepare::Trust;

/// What the gate looks at in a `pull_request` payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// `opened`, `synchronize`, `labeled`, …
    pub action: String,
    /// The pull request's `state`: `open` or `closed`.
    pub state: String,
    /// The author's `author_association` (`NONE` when missing).
    pub author_association: String,
    /// The label this event added (`labeled` only).
    pub label_added: Option<String>,
    /// Every label the pull request has now.
    pub labels: Vec<String>,
    /// `owner/repo` of the head branch's repository; `None` when it is gone (a deleted
    /// fork).
    pub head_repository: Option<String>,
    /// `owner/repo` the pull request asks to merge into.
    pub base_repository: String,
    /// The login of who caused the event (`sender.login`; "" when missing): for
    /// `labeled`, who added the label.
    pub sender: String,
}

/// What to do with a pull request event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Queue its head commit, running with this trust.
    Run(Trust),
    /// The run label was added: ask GitHub what the sender may do on the base
    /// repository, then [`after_label`] says whether it runs (with this trust).
    CheckLabeler(Trust),
    /// Do not queue it; tell the commit why (a `pending` status).
    Wait(String),
    /// Not an event that asks for a run.
    Ignore(String),
}

impl PullRequest {
    /// Reads the gate's fields from a `pull_request` payload. Missing fields read as
    /// the least trusted value: no association is `NONE`, no head repository a fork.
    pub fn from_payload(payload: &serde_json::Value) -> PullRequest {
        let pr = &payload["pull_request"];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        PullRequest {
            action: text(&payload["action"]).unwrap_or_default(),
            state: text(&pr["state"]).unwrap_or_default(),
            author_association: text(&pr["author_association"]).unwrap_or_else(|| "NONE".into()),
            label_added: text(&payload["label"]["name"]),
            labels: pr["labels"]
                .as_array()
                .map(|ls| ls.iter().filter_map(|l| text(&l["name"])).collect())
                .unwrap_or_default(),
            head_repository: text(&pr["head"]["repo"]["full_name"]),
            base_repository: text(&pr["base"]["repo"]["full_name"])
                .or_else(|| text(&payload["repository"]["full_name"]))
                .unwrap_or_default(),
            sender: text(&payload["sender"]["login"]).unwrap_or_default(),
        }
    }

    /// Whether the head branch lives outside the base repository.
    pub fn from_fork(&self) -> bool {
        match &self.head_repository {
            Some(head) => !head.eq_ignore_ascii_case(&self.base_repository),
            None => true,
        }
    }
}

/// What `rules` say about `pr` (see the module doc).
pub fn decide(rules: &PullRequests, pr: &PullRequest) -> Gate {
    let trust = if pr.from_fork() {
        Trust::Untrusted
    } else {
        Trust::Trusted
    };
    let trusted_author = rules
        .trusted_associations
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&pr.author_association));
    match pr.action.as_str() {
        "opened" | "synchronize" | "reopened" if trusted_author => Gate::Run(trust),
        "opened" | "synchronize" | "reopened" => {
            let mut why = format!(
                "waiting for a maintainer: author is {}; add label {}",
                pr.author_association, rules.label
            );
            if pr.labels.contains(&rules.label) {
                why = format!(
                    "waiting for a maintainer: author is {}; label {} let in an earlier \
                     commit: remove and add it again",
                    pr.author_association, rules.label
                );
            }
            Gate::Wait(why)
        }
        "labeled" if pr.label_added.as_deref() != Some(rules.label.as_str()) => {
            Gate::Ignore("a label other than the run label".into())
        }
        "labeled" if pr.state != "open" => Gate::Ignore("a label on a closed pull request".into()),
        "labeled" if !crate::report::github::poster::is_name(&pr.sender) => Gate::Wait(format!(
            "waiting for a maintainer: label {} was added by {:?}, not a GitHub user whose \
             role can be checked",
            rules.label, pr.sender
        )),
        "labeled" => Gate::CheckLabeler(trust),
        other => Gate::Ignore(format!("pull_request action {other:?}")),
    }
}

/// What GitHub says of a user on a repository
/// (`GET /repos/{owner}/{repo}/collaborators/{username}/permission`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collaborator {
    /// `role_name`: `admin`, `maintain`, `write`, `triage`, `read`, or an
    /// organisation's custom role.
    pub role_name: String,
    /// `permission`, the older field: `admin`, `write`, `read` or `none` (a custom role
    /// reads as the base role it extends).
    pub permission: String,
}

impl Collaborator {
    /// Whether this user may let pull requests in: triage or better. A custom role
    /// counts only when its older `permission` says write or admin (a custom role based
    /// on triage reads as `read` there, so it does not count: it waits, never runs).
    pub fn may_triage(&self) -> bool {
        let role = self.role_name.to_ascii_lowercase();
        let permission = self.permission.to_ascii_lowercase();
        matches!(role.as_str(), "admin" | "maintain" | "write" | "triage")
            || matches!(permission.as_str(), "admin" | "write")
    }
}

/// Whether the run label added to `pr` lets it in, given what GitHub said of the
/// label's sender (`Err`: why GitHub could not be asked, or did not answer): runs with
/// `trust` when the sender may triage, else waits saying who added it and why it does
/// not count. Never runs without an answer.
pub fn after_label(
    rules: &PullRequests,
    pr: &PullRequest,
    trust: Trust,
    sender: Result<&Collaborator, &str>,
) -> Gate {
    let (label, who) = (&rules.label, &pr.sender);
    match sender {
        Ok(c) if c.may_triage() => Gate::Run(trust),
        Ok(c) => Gate::Wait(format!(
            "waiting for a maintainer: label {label} was added by {who} (role {}); only \
             triage or better counts",
            c.role_name
        )),
        Err(why) => Gate::Wait(format!(
            "waiting for a maintainer: label {label} was added by {who}, whose role could \
             not be checked: {why}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PullRequests {
        PullRequests::default()
    }

    /// A pull request into `o/r` by an author of `association`, from `head`.
    fn pr(action: &str, association: &str, label: Option<&str>, head: Option<&str>) -> PullRequest {
        PullRequest {
            action: action.into(),
            state: "open".into(),
            author_association: association.into(),
            label_added: label.map(str::to_string),
            labels: label.map(str::to_string).into_iter().collect(),
            head_repository: head.map(str::to_string),
            base_repository: "o/r".into(),
            sender: "someone".into(),
        }
    }

    const SAME: Option<&str> = Some("o/r");
    const FORK: Option<&str> = Some("stranger/r");
    const RUN: Option<&str> = Some("ponyswarm:run");

    #[test]
    fn association_label_and_fork_decide() {
        use Trust::{Trusted, Untrusted};
        let wait = |a: &str| {
            Gate::Wait(format!(
                "waiting for a maintainer: author is {a}; add label ponyswarm:run"
            ))
        };
        let cases = [
            // Trusted associations run; from a fork, untrusted.
            (pr("opened", "OWNER", None, SAME), Gate::Run(Trusted)),
            (pr("synchronize", "MEMBER", None, SAME), Gate::Run(Trusted)),
            (
                pr("reopened", "COLLABORATOR", None, SAME),
                Gate::Run(Trusted),
            ),
            (pr("opened", "collaborator", None, SAME), Gate::Run(Trusted)),
            (
                pr("opened", "COLLABORATOR", None, FORK),
                Gate::Run(Untrusted),
            ),
            (pr("opened", "MEMBER", None, None), Gate::Run(Untrusted)),
            (pr("opened", "OWNER", None, Some("O/R")), Gate::Run(Trusted)),
            // Others wait, fork or not.
            (
                pr("opened", "FIRST_TIME_CONTRIBUTOR", None, FORK),
                wait("FIRST_TIME_CONTRIBUTOR"),
            ),
            (
                pr("synchronize", "CONTRIBUTOR", None, SAME),
                wait("CONTRIBUTOR"),
            ),
            (pr("opened", "NONE", None, FORK), wait("NONE")),
            // The run label asks who added it (see `after_label`); from a fork, untrusted.
            (
                pr("labeled", "NONE", RUN, FORK),
                Gate::CheckLabeler(Untrusted),
            ),
            (
                pr("labeled", "FIRST_TIMER", RUN, SAME),
                Gate::CheckLabeler(Trusted),
            ),
            (
                pr("labeled", "OWNER", RUN, SAME),
                Gate::CheckLabeler(Trusted),
            ),
            (
                pr("labeled", "NONE", Some("bug"), FORK),
                Gate::Ignore("a label other than the run label".into()),
            ),
            (
                pr("closed", "OWNER", None, SAME),
                Gate::Ignore("pull_request action \"closed\"".into()),
            ),
            (
                pr("unlabeled", "NONE", RUN, FORK),
                Gate::Ignore("pull_request action \"unlabeled\"".into()),
            ),
        ];
        for (pr, want) in cases {
            assert_eq!(decide(&rules(), &pr), want, "{pr:?}");
        }
    }

    #[test]
    fn a_push_after_the_label_waits_again() {
        let mut pr = pr("synchronize", "NONE", None, FORK);
        pr.labels = vec!["ponyswarm:run".into()];
        let Gate::Wait(why) = decide(&rules(), &pr) else {
            panic!("a stranger's new commit must wait");
        };
        assert!(why.contains("remove and add it again"), "{why}");
    }

    #[test]
    fn a_label_on_a_closed_pull_request_runs_nothing() {
        let mut pr = pr("labeled", "NONE", RUN, FORK);
        pr.state = "closed".into();
        assert!(matches!(decide(&rules(), &pr), Gate::Ignore(_)));
    }

    #[test]
    fn the_rules_are_the_projects() {
        let rules = PullRequests {
            trusted_associations: vec!["OWNER".into(), "CONTRIBUTOR".into()],
            label: "safe to test".into(),
        };
        let cases = [
            (pr("opened", "CONTRIBUTOR", None, FORK), true),
            (pr("opened", "MEMBER", None, SAME), false),
            (pr("labeled", "NONE", Some("safe to test"), FORK), true),
            (pr("labeled", "NONE", RUN, FORK), false),
        ];
        for (pr, runs) in cases {
            let asks = matches!(decide(&rules, &pr), Gate::Run(_) | Gate::CheckLabeler(_));
            assert_eq!(asks, runs, "{pr:?}");
        }
    }

    #[test]
    fn payload_fields_missing_read_as_least_trusted() {
        let full = serde_json::json!({
            "action": "labeled",
            "label": {"name": "ponyswarm:run"},
            "repository": {"full_name": "o/r"},
            "sender": {"login": "maintainer"},
            "pull_request": {
                "state": "open",
                "author_association": "FIRST_TIMER",
                "labels": [{"name": "bug"}, {"name": "ponyswarm:run"}],
                "head": {"repo": {"full_name": "stranger/r"}, "sha": "a"},
                "base": {"repo": {"full_name": "o/r"}},
            },
        });
        let pr = PullRequest::from_payload(&full);
        assert_eq!(
            pr,
            PullRequest {
                action: "labeled".into(),
                state: "open".into(),
                author_association: "FIRST_TIMER".into(),
                label_added: Some("ponyswarm:run".into()),
                labels: vec!["bug".into(), "ponyswarm:run".into()],
                head_repository: Some("stranger/r".into()),
                base_repository: "o/r".into(),
                sender: "maintainer".into(),
            }
        );
        assert!(pr.from_fork());
        let bare = serde_json::json!({
            "action": "opened",
            "repository": {"full_name": "o/r"},
            "pull_request": {"head": {"repo": null}},
        });
        let pr = PullRequest::from_payload(&bare);
        assert_eq!(pr.author_association, "NONE");
        assert_eq!(pr.sender, "");
        assert_eq!(pr.base_repository, "o/r");
        assert!(pr.from_fork(), "a deleted head repository is a fork");
    }

    #[test]
    fn the_label_counts_only_from_triage_or_better() {
        use Trust::Untrusted;
        let labeled = pr("labeled", "NONE", RUN, FORK);
        let role = |role_name: &str, permission: &str| Collaborator {
            role_name: role_name.into(),
            permission: permission.into(),
        };
        let not_counted = |role: &str| {
            Gate::Wait(format!(
                "waiting for a maintainer: label ponyswarm:run was added by someone (role \
                 {role}); only triage or better counts"
            ))
        };
        let cases = [
            (role("admin", "admin"), Gate::Run(Untrusted)),
            (role("maintain", "write"), Gate::Run(Untrusted)),
            (role("write", "write"), Gate::Run(Untrusted)),
            (role("triage", "read"), Gate::Run(Untrusted)),
            (role("Triage", "read"), Gate::Run(Untrusted)),
            (role("read", "read"), not_counted("read")),
            (role("none", "none"), not_counted("none")),
            (role("", ""), not_counted("")),
            // A custom role: counted by the base role GitHub says it extends.
            (role("release-manager", "write"), Gate::Run(Untrusted)),
            (role("auditor", "read"), not_counted("auditor")),
        ];
        for (sender, want) in cases {
            let got = after_label(&rules(), &labeled, Untrusted, Ok(&sender));
            assert_eq!(got, want, "{sender:?}");
        }
    }

    #[test]
    fn without_an_answer_about_the_sender_the_label_waits() {
        let labeled = pr("labeled", "NONE", RUN, FORK);
        let got = after_label(
            &rules(),
            &labeled,
            Trust::Untrusted,
            Err("GitHub answered 502"),
        );
        assert_eq!(
            got,
            Gate::Wait(
                "waiting for a maintainer: label ponyswarm:run was added by someone, whose role \
                 could not be checked: GitHub answered 502"
                    .into()
            )
        );
    }

    #[test]
    fn a_label_by_no_checkable_user_waits_without_asking() {
        for sender in ["", "..", "a/b", "bot[bot]", "x y"] {
            let mut labeled = pr("labeled", "NONE", RUN, FORK);
            labeled.sender = sender.into();
            let Gate::Wait(why) = decide(&rules(), &labeled) else {
                panic!("{sender:?} must not be asked about, nor run");
            };
            assert!(why.contains("not a GitHub user"), "{why}");
        }
    }
}
