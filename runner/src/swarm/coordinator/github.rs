//! Which commit statuses a coordinator run owes GitHub now, given what it already put in
//! the outbox: `pending` for the run and per job, the job's state once its result
//! counts, and the run's summary once every job has its own. What `run --github` posts,
//! with links to the coordinator's pages instead of a published report.
//!
//! Pure: the run as the store has it in, [`Owed`] statuses with their fixed outbox ids
//! out. Posting them is [`super::outbox`]'s job.

use crate::outcome::RunResult;
use crate::report::github::{statuses, CommitStatus};
use std::collections::HashSet;

/// A job of the run, as the statuses see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobNow {
    /// Its position in the run (the coordinator's job pages are numbered by it).
    pub position: usize,
    /// Its name in the expanded matrix.
    pub name: String,
    /// Whether its result counted (or the agents' disagreement was settled).
    pub decided: bool,
}

/// A status the run owes, with its outbox id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    /// `<run id>/run/pending`, `<run id>/job/<position>/final`, …: the same status always
    /// gets the same id, so owing it twice adds it once.
    pub id: String,
    /// What to post.
    pub status: CommitStatus,
}

/// What is owed now, and whether that is the last of it (the summary is among it or
/// already added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// New statuses, in posting order.
    pub owed: Vec<Owed>,
    /// Nothing more will be owed.
    pub complete: bool,
}

/// The context of the pull request gate's status: outside the `ponyswarm/` names of
/// runs and jobs, so no matrix name can collide with it.
pub const GATE_CONTEXT: &str = "ponyswarm:gate";

/// The status of a pull request the gate holds back ([`super::gate`]): `pending`,
/// saying why it waits.
pub fn gate_waiting(why: &str) -> CommitStatus {
    CommitStatus {
        state: crate::report::github::State::Pending,
        context: GATE_CONTEXT.into(),
        description: crate::shorten::shorten(why, crate::report::github::statuses::MAX_DESCRIPTION),
        target_url: None,
    }
}

/// The status of a pull request a maintainer let in with `label`, whose run is at
/// `run_page`.
pub fn gate_admitted(label: &str, run_page: String) -> CommitStatus {
    CommitStatus {
        state: crate::report::github::State::Success,
        context: GATE_CONTEXT.into(),
        description: crate::shorten::shorten(
            &format!("let in by a maintainer: label {label}"),
            crate::report::github::statuses::MAX_DESCRIPTION,
        ),
        target_url: Some(run_page),
    }
}

/// The coordinator's page of run `run_id`, under `public_url`.
pub fn run_page(public_url: &str, run_id: &str) -> String {
    format!("{}/runs/{run_id}", public_url.trim_end_matches('/'))
}

/// The coordinator's page of the job at `position` of run `run_id`.
pub fn job_page(public_url: &str, run_id: &str, position: usize) -> String {
    format!("{}/jobs/{position}", run_page(public_url, run_id))
}

/// What run `result` (as recorded so far; finished once `result.run.finished` is set)
/// with `jobs` owes, given the ids in `have`, linking under `public_url`.
///
/// A decided job whose outcome is not recorded yet owes nothing until it is; the summary
/// waits for every job's final status, so it always comes last.
pub fn due(public_url: &str, result: &RunResult, jobs: &[JobNow], have: &HashSet<String>) -> Due {
    let run_id = &result.run.id;
    let finished = result.run.finished.is_some();
    let mut owed = Vec::new();
    let mut add = |id: String, status: CommitStatus| {
        if !have.contains(&id) {
            owed.push(Owed { id, status });
        }
    };
    let page = run_page(public_url, run_id);
    add(
        format!("{run_id}/run/pending"),
        CommitStatus {
            target_url: Some(page.clone()),
            ..statuses::run_started(&result.run.name, jobs.len())
        },
    );
    let mut all_final = true;
    for job in jobs {
        // Even for a job decided before its run was first looked at: every context
        // gets `pending` then its final state, as with `run --github`.
        add(
            format!("{run_id}/job/{}/pending", job.position),
            CommitStatus {
                description: "queued".into(),
                target_url: Some(page.clone()),
                ..statuses::job_started(&job.name)
            },
        );
        let outcome = result.jobs.iter().find(|o| o.name == job.name);
        match outcome.filter(|_| job.decided) {
            Some(outcome) => add(
                format!("{run_id}/job/{}/final", job.position),
                statuses::job_finished(outcome, Some(job_page(public_url, run_id, job.position))),
            ),
            None => all_final = false,
        }
    }
    let complete = finished && all_final;
    if complete {
        add(
            format!("{run_id}/run/final"),
            statuses::run_finished(result, Some(format!("{page}/report/"))),
        );
    }
    Due { owed, complete }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{JobOutcome, Status};
    use crate::report::github::State;
    use std::time::UNIX_EPOCH;

    const URL: &str = "http://ci.example.org/";

    fn job(position: usize, decided: bool) -> JobNow {
        JobNow {
            position,
            name: format!("demo ({position})"),
            decided,
        }
    }

    /// Run `r1` with the outcomes of jobs `recorded` (positions), finished or not.
    fn run(recorded: &[(usize, Status)], finished: bool) -> RunResult {
        let mut r = RunResult::new("r1".into(), "demo".into(), "m.yaml".into(), UNIX_EPOCH);
        r.jobs = recorded
            .iter()
            .map(|&(p, s)| JobOutcome::new(format!("demo ({p})"), Default::default(), s))
            .collect();
        if finished {
            r.finish(UNIX_EPOCH);
        }
        r
    }

    fn ids(due: &Due) -> Vec<&str> {
        due.owed.iter().map(|o| o.id.as_str()).collect()
    }

    /// What, the run, its jobs, the ids already added, the ids owed, complete.
    type Case<'a> = (
        &'a str,
        RunResult,
        Vec<JobNow>,
        &'a [&'a str],
        &'a [&'a str],
        bool,
    );

    #[test]
    fn what_is_owed_as_a_run_goes() {
        let pending_all = ["r1/run/pending", "r1/job/0/pending", "r1/job/1/pending"];
        let cases: [Case; 6] = [
            (
                "queued: pending for the run and each job",
                run(&[], false),
                vec![job(0, false), job(1, false)],
                &[],
                &pending_all,
                false,
            ),
            (
                "asked again: nothing new",
                run(&[], false),
                vec![job(0, false), job(1, false)],
                &pending_all,
                &[],
                false,
            ),
            (
                "one job decided: its final status",
                run(&[(0, Status::Passed)], false),
                vec![job(0, true), job(1, false)],
                &pending_all,
                &["r1/job/0/final"],
                false,
            ),
            (
                "decided but not recorded yet: wait",
                run(&[(0, Status::Passed)], false),
                vec![job(0, true), job(1, true)],
                &[
                    "r1/run/pending",
                    "r1/job/0/pending",
                    "r1/job/0/final",
                    "r1/job/1/pending",
                ],
                &[],
                false,
            ),
            (
                "finished: the last final status, then the summary",
                run(&[(0, Status::Passed), (1, Status::Failed)], true),
                vec![job(0, true), job(1, true)],
                &[
                    "r1/run/pending",
                    "r1/job/0/pending",
                    "r1/job/0/final",
                    "r1/job/1/pending",
                ],
                &["r1/job/1/final", "r1/run/final"],
                true,
            ),
            (
                "decided before anyone looked: each context still starts pending",
                run(&[(0, Status::Passed), (1, Status::Passed)], true),
                vec![job(0, true), job(1, true)],
                &[],
                &[
                    "r1/run/pending",
                    "r1/job/0/pending",
                    "r1/job/0/final",
                    "r1/job/1/pending",
                    "r1/job/1/final",
                    "r1/run/final",
                ],
                true,
            ),
        ];
        for (what, result, jobs, have, want, complete) in cases {
            let have: HashSet<String> = have.iter().map(|s| s.to_string()).collect();
            let due = due(URL, &result, &jobs, &have);
            assert_eq!(ids(&due), want, "{what}");
            assert_eq!(due.complete, complete, "{what}");
        }
    }

    #[test]
    fn statuses_link_to_the_coordinators_pages() {
        let result = run(&[(0, Status::Passed), (1, Status::Failed)], true);
        let due = due(URL, &result, &[job(0, true), job(1, true)], &HashSet::new());
        let got: Vec<_> = due
            .owed
            .iter()
            .filter(|o| o.status.state != State::Pending)
            .map(|o| {
                let s = &o.status;
                (s.context.as_str(), s.state, s.target_url.as_deref())
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "ponyswarm/demo (0)",
                    State::Success,
                    Some("http://ci.example.org/runs/r1/jobs/0")
                ),
                (
                    "ponyswarm/demo (1)",
                    State::Failure,
                    Some("http://ci.example.org/runs/r1/jobs/1")
                ),
                (
                    "ponyswarm/demo",
                    State::Failure,
                    Some("http://ci.example.org/runs/r1/report/")
                ),
            ]
        );
        let queued = super::due(URL, &run(&[], false), &[job(3, false)], &HashSet::new());
        let pending = &queued.owed[1].status;
        assert_eq!(
            (pending.state, pending.description.as_str()),
            (State::Pending, "queued")
        );
        assert_eq!(
            pending.target_url.as_deref(),
            Some("http://ci.example.org/runs/r1")
        );
        assert_eq!(queued.owed[0].status.description, "running 1 job");
    }
}
