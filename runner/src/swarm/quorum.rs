//! When a job's results count: a project may ask for N agreeing results from distinct
//! agents, so that one broken or dishonest machine cannot decide a job alone.
//!
//! Two results agree when they have the same status and name the same failing tests;
//! durations, logs and image ids differ between machines and are not compared. While no
//! verdict has N agents behind it, the job is pending and goes back to the queue for
//! another agent; once 2N−1 distinct agents have answered without N agreeing (so at least
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
    /// What it says.
    pub verdict: Verdict,
}

/// What the results received so far decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Enough distinct agents agree: `results` are the indexes of the agreeing results
    /// (the first one is the one recorded).
    Agreed {
        /// Indexes into the results given, in order.
        results: Vec<usize>,
    },
    /// Not yet: the best verdict has `have` agents of the `need`ed.
    Pending {
        /// Distinct agents behind the most-supported verdict.
        have: usize,
        /// The quorum.
        need: usize,
    },
    /// Enough agents answered, no quorum, and the answers differ in whether the tests
    /// even ran.
    Disagreed,
    /// Enough agents answered, no quorum, and all ran the tests: the failing tests vary.
    Flaky,
}

/// Decides from `results` (in arrival order) with a quorum of `quorum` distinct agents
/// (0 is taken as 1).
pub fn decide(quorum: u32, results: &[Received]) -> Decision {
    let need = quorum.max(1) as usize;
    // Distinct verdicts in arrival order, with the results (one per agent) behind each.
    let mut groups: Vec<(&Verdict, Vec<usize>)> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match groups.iter_mut().find(|(v, _)| **v == r.verdict) {
            Some((_, members)) => {
                if !members.iter().any(|&m| results[m].agent == r.agent) {
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
    let mut agents: Vec<&str> = results.iter().map(|r| r.agent.as_str()).collect();
    agents.sort_unstable();
    agents.dedup();
    if agents.len() < 2 * need - 1 {
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

    fn r(agent: &str, status: Status, failing: &[&str]) -> Received {
        Received {
            agent: agent.into(),
            verdict: Verdict {
                status,
                failing: failing.iter().map(|s| s.to_string()).collect(),
            },
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
