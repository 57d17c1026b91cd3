//! Who gets which job in a batch of claims (pure: no I/O).
//!
//! A batch locks, oldest first, as many of the jobs its claims' capabilities fit as it
//! has claims (the candidates), then hands them out here in the order the claims came:
//! each claim gets the oldest candidate not given to an earlier claim of the batch and
//! not answered by its agent already (a quorum wants distinct agents). The rule is the
//! one a claim alone applies, so a batch hands out what its claims one after another
//! would have, from the jobs it locked.

/// A job a batch locked for its claims, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The job.
    pub id: String,
    /// The batch's agents that posted a result for it already: they may not take it.
    pub answered: Vec<String>,
}

/// For each claim of a batch, by its agent's id in the order the claims came, the index
/// in `candidates` of the job it gets; `None` when every candidate left is taken or
/// answered by its agent.
pub fn assign(agents: &[&str], candidates: &[Candidate]) -> Vec<Option<usize>> {
    let mut taken = vec![false; candidates.len()];
    // Every candidate before `first` is taken: the common case (no answered jobs) is
    // then one step a claim.
    let mut first = 0;
    agents
        .iter()
        .map(|agent| {
            while first < taken.len() && taken[first] {
                first += 1;
            }
            let pick = (first..candidates.len())
                .find(|&i| !taken[i] && !candidates[i].answered.iter().any(|a| a == agent))?;
            taken[pick] = true;
            Some(pick)
        })
        .collect()
}

/// The claims of a batch grouped by what they offer (`key`, e.g. their Pythons and
/// services), each group in the order its claims came, the groups in the order of
/// their first claim: one lookup of candidates serves a group.
pub fn groups<K: PartialEq>(keys: impl IntoIterator<Item = K>) -> Vec<Vec<usize>> {
    let mut groups: Vec<(K, Vec<usize>)> = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(answered: &[&[&str]]) -> Vec<Candidate> {
        answered
            .iter()
            .enumerate()
            .map(|(i, by)| Candidate {
                id: format!("job-{i}"),
                answered: by.iter().map(|a| a.to_string()).collect(),
            })
            .collect()
    }

    /// The claims' agents, who answered each candidate, what each claim gets.
    type Case = (
        &'static [&'static str],
        &'static [&'static [&'static str]],
        &'static [Option<usize>],
    );

    #[test]
    fn claims_take_the_oldest_candidates_in_the_order_they_came() {
        let cases: &[Case] = &[
            // As many candidates as claims, none answered: in order.
            (
                &["a", "b", "c"],
                &[&[], &[], &[]],
                &[Some(0), Some(1), Some(2)],
            ),
            // Fewer candidates than claims: the last claims get none.
            (&["a", "b", "c"], &[&[], &[]], &[Some(0), Some(1), None]),
            (&["a"], &[], &[None]),
            // An agent skips the job it answered; the next claim takes it.
            (&["a", "b"], &[&["a"], &[]], &[Some(1), Some(0)]),
            // Answered by both: nobody in the batch takes it.
            (&["a", "b"], &[&["a", "b"], &[]], &[Some(1), None]),
            // One agent claiming twice (two slots) gets two jobs.
            (&["a", "a"], &[&[], &[]], &[Some(0), Some(1)]),
            (
                &["a", "a", "b"],
                &[&["a"], &[], &[]],
                &[Some(1), Some(2), Some(0)],
            ),
        ];
        for (agents, answered, want) in cases {
            assert_eq!(
                assign(agents, &candidates(answered)),
                *want,
                "{agents:?} over {answered:?}"
            );
        }
    }

    #[test]
    fn claims_group_by_what_they_offer_in_the_order_they_came() {
        assert_eq!(
            groups(["x", "y", "x", "z", "y"]),
            vec![vec![0, 2], vec![1, 4], vec![3]]
        );
        assert_eq!(groups(Vec::<&str>::new()), Vec::<Vec<usize>>::new());
    }
}
