//! Which pull requests the webhook lets in, and how far their code is trusted.
//!
//! A `pull_request` event is queued when:
//! 1. its action is `opened`, `synchronize` or `reopened` and the author's
//!    `author_association` is one the project trusts (default OWNER, MEMBER,
//!    COLLABORATOR); or
//! 2. its action is `labeled`, the label added is the project's run label (default
//!    `ponyswarm:run`) and the pull request is open: a maintainer (only people with
//!    triage access can label) lets its head commit in. A later push by an untrusted
//!    author waits again, label or not: the maintainer saw the commit they let in, not
//!    the next one.
//!
//! Other `opened`/`synchronize`/`reopened` events wait, with a reason for the commit
//! status; every other action is ignored. Whatever let it in, a pull request whose head
//! repository is not the base repository (a fork, or a deleted fork) runs
//! [`Trust::Untrusted`]: its wheelhouses are its own, never reused by trusted runs.
//!
//! Pure: the payload's fields in, a [`Gate`] out.

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
}

/// What to do with a pull request event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Queue its head commit, running with this trust.
    Run(Trust),
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
        "labeled" => Gate::Run(trust),
        other => Gate::Ignore(format!("pull_request action {other:?}")),
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
            // The run label lets anyone's pull request in; from a fork, untrusted.
            (pr("labeled", "NONE", RUN, FORK), Gate::Run(Untrusted)),
            (pr("labeled", "FIRST_TIMER", RUN, SAME), Gate::Run(Trusted)),
            (pr("labeled", "OWNER", RUN, SAME), Gate::Run(Trusted)),
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
            assert_eq!(matches!(decide(&rules, &pr), Gate::Run(_)), runs, "{pr:?}");
        }
    }

    #[test]
    fn payload_fields_missing_read_as_least_trusted() {
        let full = serde_json::json!({
            "action": "labeled",
            "label": {"name": "ponyswarm:run"},
            "repository": {"full_name": "o/r"},
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
        assert_eq!(pr.base_repository, "o/r");
        assert!(pr.from_fork(), "a deleted head repository is a fork");
    }
}
