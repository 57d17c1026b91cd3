//! When a job's results count: a project may ask for N agreeing results from distinct
//! parties, so that one broken or dishonest machine cannot decide a job alone.
//!
//! A party is who stands behind a result, not an agent id: two results belong to one
//! party when they come from the same agent key or from the same operator (the
//! registration token the agent registered with), so restarting an agent, or running
//! several agents under one token, does not add votes. Parties are closed under both
//! relations (key A shares a token with key B, which shares a key with C: one party).
//!
//! Compared with BOINC: BOINC validates a workunit when a quorum of replicas, sent to
//! distinct hosts, agree; hosts belong to accounts, and a project can ask that replicas
//! go to different users ("one result per user") so that one participant with many hosts
//! cannot validate alone. Our agent key plays the host and the registration token plays
//! the account; unlike BOINC's option, the operator rule here is always on. Like BOINC,
//! it is no stronger than the issuing of tokens: one person holding two tokens is two
//! parties.
//!
//! Two results agree when they have the same status and name the same failing tests;
//! durations, logs and image ids differ between machines and are not compared. While no
//! verdict has N parties behind it, the job is pending and goes back to the queue for
//! another agent; once 2N−1 distinct parties have answered without N agreeing (so at least
//! three different answers for N = 2), the job is decided as **flaky** when every answer
//! ran the tests (passed or failed, only the failing tests differ: the tests vary from
//! run to run) and as **disagreed** otherwise (the machines do not even agree whether it
//! installs: a broken or dishonest agent).
//!
//! Pure: no I/O.

use crate::outcome::{JobOutcome, Status};

/// What a result says, for comparing: its status and its failing tests (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The status reported.
    pub status: Status,
    /// The names of the failed or errored tests, sorted, without repeats.
    pub failing: Vec<String>,
}

impl Verdict {
    /// The verdict of `outcome`.
    pub fn of(outcome: &JobOutcome) -> Verdict {
        let mut failing: Vec<String> = outcome.failures.iter().map(|f| f.test.clone()).collect();
        failing.sort();
        failing.dedup();
        Verdict {
            status: outcome.status,
            failing,
        }
    }

    /// `passed`, or `failed (test_a, test_b)`.
    pub fn describe(&self) -> String {
        if self.failing.is_empty() {
            self.status.to_string()
        } else {
            format!("{} ({})", self.status, self.failing.join(", "))
        }
    }
}

/// One result received for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The agent that sent it.
    pub agent: String,
    /// The agent's public key: one key is one party whatever its ids.
    pub key: String,
    /// Who runs the agent (a hash of its registration token); `None` when unknown (an
    /// agent registered before operators were kept), then only its key and id count.
    pub operator: Option<String>,
    /// What it says.
    pub verdict: Verdict,
}

/// What the results received so far decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Enough distinct parties agree: `results` are the indexes of the agreeing results,
    /// one per party (the first one is the one recorded).
    Agreed {
        /// Indexes into the results given, in order.
        results: Vec<usize>,
    },
    /// Not yet: the best verdict has `have` parties of the `need`ed.
    Pending {
        /// Distinct parties behind the most-supported verdict.
        have: usize,
        /// The quorum.
        need: usize,
    },
    /// Enough parties answered, no quorum, and the answers differ in whether the tests
    /// even ran.
    Disagreed,
    /// Enough parties answered, no quorum, and all ran the tests: the failing tests vary.
    Flaky,
}

/// Decides from `results` (in arrival order) with a quorum of `quorum` distinct parties
/// (0 is taken as 1).
pub fn decide(quorum: u32, results: &[Received]) -> Decision {
    let need = quorum.max(1) as usize;
    let party = parties(results);
    // Distinct verdicts in arrival order, with the results (one per party) behind each.
    let mut groups: Vec<(&Verdict, Vec<usize>)> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match groups.iter_mut().find(|(v, _)| **v == r.verdict) {
            Some((_, members)) => {
                if !members.iter().any(|&m| party[m] == party[i]) {
                    members.push(i);
                }
            }
            None => groups.push((&r.verdict, vec![i])),
        }
    }
    if let Some((_, members)) = groups.iter().find(|(_, m)| m.len() >= need) {
        return Decision::Agreed {
            results: members[..need].to_vec(),
        };
    }
    let mut answered = party.clone();
    answered.sort_unstable();
    answered.dedup();
    if answered.len() < 2 * need - 1 {
        let have = groups.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
        return Decision::Pending { have, need };
    }
    let ran_tests = groups
        .iter()
        .all(|(v, _)| matches!(v.status, Status::Passed | Status::Failed));
    if ran_tests {
        Decision::Flaky
    } else {
        Decision::Disagreed
    }
}

/// The party of each result: the index of the first result of its party. Two results
/// are one party when they share an agent id, a key or a known operator, and the relation
/// is closed transitively (a few results per job, so quadratic is fine).
fn parties(results: &[Received]) -> Vec<usize> {
    let same = |a: &Received, b: &Received| {
        a.agent == b.agent || a.key == b.key || (a.operator.is_some() && a.operator == b.operator)
    };
    let mut party: Vec<usize> = (0..results.len()).collect();
    // Merge until nothing changes: each pass relabels a linked pair to the smaller label.
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..results.len() {
            for j in 0..i {
                if party[i] != party[j] && same(&results[i], &results[j]) {
                    let (keep, drop) = (party[i].min(party[j]), party[i].max(party[j]));
                    party
                        .iter_mut()
                        .filter(|p| **p == drop)
                        .for_each(|p| *p = keep);
                    changed = true;
                }
            }
        }
    }
    party
}

/// One line per distinct answer: `passed: agent-a, agent-c; failed (t): agent-b`.
pub fn describe(results: &[Received]) -> String {
    let mut groups: Vec<(&Verdict, Vec<&str>)> = Vec::new();
    for r in results {
        match groups.iter_mut().find(|(v, _)| **v == r.verdict) {
            Some((_, agents)) => agents.push(&r.agent),
            None => groups.push((&r.verdict, vec![&r.agent])),
        }
    }
    groups
        .iter()
        .map(|(v, agents)| format!("{}: {}", v.describe(), agents.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result from agent `agent` with key `key-<agent>` and operator `op-<agent>`.
    fn r(agent: &str, status: Status, failing: &[&str]) -> Received {
        Received {
            agent: agent.into(),
            key: format!("key-{agent}"),
            operator: Some(format!("op-{agent}")),
            verdict: Verdict {
                status,
                failing: failing.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

    /// `r` with the key and operator given.
    fn by(agent: &str, key: &str, operator: Option<&str>, status: Status) -> Received {
        Received {
            key: key.into(),
            operator: operator.map(str::to_string),
            ..r(agent, status, &[])
        }
    }

    use Status::{Error, Failed, InstallFailed, Passed};

    #[test]
    fn decisions() {
        let agreed = |v: &[usize]| Decision::Agreed {
            results: v.to_vec(),
        };
        let pending = |have, need| Decision::Pending { have, need };
        let cases: Vec<(&str, u32, Vec<Received>, Decision)> = vec![
            ("nothing yet", 1, vec![], pending(0, 1)),
            (
                "quorum 1: the first result counts",
                1,
                vec![r("a", Failed, &["t"])],
                agreed(&[0]),
            ),
            ("quorum 0 is 1", 0, vec![r("a", Passed, &[])], agreed(&[0])),
            (
                "quorum 2: one result waits",
                2,
                vec![r("a", Passed, &[])],
                pending(1, 2),
            ),
            (
                "quorum 2: two agreeing agents",
                2,
                vec![r("a", Passed, &[]), r("b", Passed, &[])],
                agreed(&[0, 1]),
            ),
            (
                "the same agent twice is one agent",
                2,
                vec![r("a", Passed, &[]), r("a", Passed, &[])],
                pending(1, 2),
            ),
            (
                "one key under two agent ids is one party",
                2,
                vec![
                    by("a", "k", Some("op1"), Passed),
                    by("a2", "k", Some("op2"), Passed),
                ],
                pending(1, 2),
            ),
            (
                "two keys under one token are one party",
                2,
                vec![
                    by("a", "k1", Some("op"), Passed),
                    by("b", "k2", Some("op"), Passed),
                ],
                pending(1, 2),
            ),
            (
                "two independent agents agree",
                2,
                vec![
                    by("a", "k1", Some("op1"), Passed),
                    by("b", "k2", Some("op2"), Passed),
                ],
                agreed(&[0, 1]),
            ),
            (
                "unknown operators count by key",
                2,
                vec![by("a", "k1", None, Passed), by("b", "k2", None, Passed)],
                agreed(&[0, 1]),
            ),
            (
                "parties are transitive: a shares a token with b, b a key with c",
                2,
                vec![
                    by("a", "k1", Some("op1"), Passed),
                    by("b", "k2", Some("op1"), Passed),
                    by("c", "k2", Some("op3"), Passed),
                ],
                pending(1, 2),
            ),
            (
                "one party answering three ways is not 2N-1 parties",
                2,
                vec![
                    by("a", "k1", Some("op"), Passed),
                    by("b", "k2", Some("op"), InstallFailed),
                    by("c", "k3", Some("op"), Error),
                ],
                pending(1, 2),
            ),
            (
                "a dishonest agent is outvoted by a third",
                2,
                vec![
                    r("a", Passed, &[]),
                    r("b", Failed, &["t"]),
                    r("c", Passed, &[]),
                ],
                agreed(&[0, 2]),
            ),
            (
                "one disagreement waits for a third agent",
                2,
                vec![r("a", Passed, &[]), r("b", InstallFailed, &[])],
                pending(1, 2),
            ),
            (
                "different failing tests do not agree",
                2,
                vec![r("a", Failed, &["t1"]), r("b", Failed, &["t2"])],
                pending(1, 2),
            ),
            (
                "tests that fail here and there are flaky",
                2,
                vec![
                    r("a", Passed, &[]),
                    r("b", Failed, &["t1"]),
                    r("c", Failed, &["t2"]),
                ],
                Decision::Flaky,
            ),
            (
                "answers that differ in kind are a disagreement",
                2,
                vec![
                    r("a", Passed, &[]),
                    r("b", InstallFailed, &[]),
                    r("c", Error, &[]),
                ],
                Decision::Disagreed,
            ),
            (
                "quorum 3 waits for five agents",
                3,
                vec![
                    r("a", Passed, &[]),
                    r("b", Failed, &["t"]),
                    r("c", Passed, &[]),
                    r("d", Failed, &["t"]),
                ],
                pending(2, 3),
            ),
            (
                "quorum 3 reached on the fifth",
                3,
                vec![
                    r("a", Passed, &[]),
                    r("b", Failed, &["t"]),
                    r("c", Passed, &[]),
                    r("d", Failed, &["t"]),
                    r("e", Failed, &["t"]),
                ],
                agreed(&[1, 3, 4]),
            ),
        ];
        for (name, quorum, results, want) in cases {
            assert_eq!(decide(quorum, &results), want, "{name}");
        }
    }

    #[test]
    fn verdicts_ignore_order_and_repeats_of_failing_tests() {
        let mut a = JobOutcome::new("j", Default::default(), Failed);
        let mut b = a.clone();
        let fail = |t: &str| crate::testresults::Failure {
            test: t.into(),
            message: "m".into(),
        };
        a.failures = vec![fail("x"), fail("y")];
        b.failures = vec![fail("y"), fail("x"), fail("x")];
        b.phases.insert("test".into(), 9.0);
        assert_eq!(Verdict::of(&a), Verdict::of(&b));
        assert_eq!(Verdict::of(&a).describe(), "failed (x, y)");
    }

    #[test]
    fn description_groups_agents_by_answer() {
        let results = [
            r("a", Passed, &[]),
            r("b", Failed, &["t"]),
            r("c", Passed, &[]),
        ];
        assert_eq!(describe(&results), "passed: a, c; failed (t): b");
    }
}
