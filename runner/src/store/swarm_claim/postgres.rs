//! Claims on PostgreSQL: a batch of claims in one statement when it can, else in one
//! transaction of three statements, whatever its size; and the claim alone.
//!
//! A batch whose claims offer the same goes at once ([`AT_ONCE`]): one statement locks,
//! in queue order, as many fitting jobs as there are claims (`FOR UPDATE SKIP LOCKED`:
//! rows other claimers hold are stepped over, not waited on), gives them to the claims
//! in the order they came and leases them, unless an agent of the batch answered one
//! of them. Otherwise, and for what it left, the long way: the claims are grouped by
//! what they offer; for each group one statement locks the fitting jobs the same way,
//! [`super::assign`] hands them out, and one statement leases them all and records the
//! leases. A claim left without a job while the group locked as many jobs as it has
//! claims (its agent had answered the ones left) is then claimed alone, in the same
//! transaction, so that older jobs past the locked ones still reach it.
//!
//! A claim alone costs PostgreSQL a round trip, its planning, a statement and a commit;
//! a batch shares them, and at once it is one round trip instead of four (`BEGIN`, the
//! candidates, the leases, `COMMIT`), each of which waits for a turn on a busy machine.
//! Measured with `pgbench` on the 2-CPU development machine (busy), claims in batches
//! of 20 went through at about three times the rate of claims alone on 8 connections
//! (6,300–6,900 against 2,200–2,400 a second), batches of 50 at 7,400–8,600.

use super::assign::{self, Candidate};
use super::{claim_query, claimed_row, job_columns, json_array, ClaimRequest, Claimed};
use crate::store::StoreError;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use std::sync::LazyLock;

/// One claim: `$1` lease, `$2` agent, `$3` now, `$4` expires, `$5` Pythons and `$6`
/// services as JSON arrays. `FOR UPDATE SKIP LOCKED` in each probe: a row another
/// claim holds is stepped over, and a row taken meanwhile is rechecked and skipped.
const CLAIM: &str = "\
WITH pick AS (SELECT COALESCE(\
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'leased' AND j.lease_expires < $3 \
     AND FITS ORDER BY j.lease_expires LIMIT 1 FOR UPDATE SKIP LOCKED), \
    (SELECT j.id FROM swarm_jobs j WHERE j.state = 'queued' \
     AND FITS ORDER BY j.run_seq, j.position LIMIT 1 FOR UPDATE SKIP LOCKED)) AS id), \
taken AS (UPDATE swarm_jobs j SET state = 'leased', lease_id = $1, agent_id = $2, \
    lease_expires = $4, phase = NULL FROM pick WHERE j.id = pick.id RETURNING JOBS), \
lease AS (INSERT INTO swarm_leases (id, job_id, agent_id, issued) \
    SELECT $1, j.id, $2, $3 FROM taken j) \
SELECT JOBS, r.project, r.matrix_file, r.source_sha256, r.trust \
FROM taken j JOIN swarm_runs r ON r.id = j.run_id";

/// The capability match: the job's Python is one of `PYTHONS`, and every service it
/// needs one of `SERVICES` (JSON arrays).
///
/// Spelled as a semi-join and an anti-join over the JSON arrays rather than as jsonb
/// containment (`<@`), on purpose: PostgreSQL guesses that `<@` keeps 0.1 % of rows, so
/// with the containment form it expected one fitting job and read, checked and sorted
/// the whole queue for it (25 ms a claim at 5,000 jobs) instead of walking the queue's
/// index in order and stopping at the first job that fits. With this form it reads
/// `python`'s statistics and walks the index, whatever share of the jobs need services.
const CAPS: &str = "j.python IN (SELECT jsonb_array_elements_text(PYTHONS::jsonb)) \
     AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(j.services::jsonb) s(name) \
         WHERE s.name NOT IN (SELECT jsonb_array_elements_text(SERVICES::jsonb)))";

/// The quorum rule of a claim alone: its agent (`$2`) has not answered the job.
const UNANSWERED: &str =
    "NOT EXISTS (SELECT 1 FROM swarm_results r WHERE r.job_id = j.id AND r.agent_id = $2)";

/// A group's candidates, oldest first, locked: expired leases (the longest expired
/// first), then queued jobs in queue order. `$1` now, `$2` Pythons and `$3` services as
/// JSON arrays, `$4` how many, `$5` the group's agents as a JSON array: which of them
/// answered each job (a JSON array, or NULL). The outer `LIMIT` stops the queued probe
/// once the expired leases gave enough: a CTE is read as it is needed.
const CANDIDATES: &str = "\
WITH expired AS (SELECT j.id FROM swarm_jobs j WHERE j.state = 'leased' AND j.lease_expires < $1 \
     AND CAPS ORDER BY j.lease_expires LIMIT $4 FOR UPDATE SKIP LOCKED), \
queued AS (SELECT j.id FROM swarm_jobs j WHERE j.state = 'queued' \
     AND CAPS ORDER BY j.run_seq, j.position LIMIT $4 FOR UPDATE SKIP LOCKED) \
SELECT c.id, (SELECT jsonb_agg(r.agent_id) FROM swarm_results r WHERE r.job_id = c.id \
     AND r.agent_id IN (SELECT jsonb_array_elements_text($5::jsonb)))::text AS answered \
FROM (SELECT id FROM expired UNION ALL SELECT id FROM queued) c LIMIT $4";

/// Leases the jobs a group was given and records the leases: `$1` a JSON array of
/// `{id, lease, agent, issued, expires}`. The jobs are the transaction's candidates,
/// locked since, so each is updated.
const TAKE: &str = "\
WITH u AS (SELECT * FROM jsonb_to_recordset($1::jsonb) \
     AS u(id text, lease text, agent text, issued bigint, expires bigint)), \
taken AS (UPDATE swarm_jobs j SET state = 'leased', lease_id = u.lease, agent_id = u.agent, \
    lease_expires = u.expires, phase = NULL FROM u WHERE j.id = u.id RETURNING JOBS), \
lease AS (INSERT INTO swarm_leases (id, job_id, agent_id, issued) \
    SELECT u.lease, u.id, u.agent, u.issued FROM u) \
SELECT JOBS, r.project, r.matrix_file, r.source_sha256, r.trust \
FROM taken j JOIN swarm_runs r ON r.id = j.run_id";

/// A group's claims at once, in one statement outside any transaction: the candidates
/// as in [`CANDIDATES`] (`$1`–`$4`), numbered oldest first, go to the claims in the order
/// they came (`$5`: a JSON array of `{n, lease, agent, issued, expires}`, `n` from 1),
/// and are leased as in [`TAKE`]; unless an agent of the group answered one of them
/// (`$5`'s agents), and then nothing is taken, for [`super::assign`] to hand them out.
///
/// Both probes run to their `LIMIT` here (the numbering reads them all), so with
/// expired leases a few queued jobs are locked for the statement and not taken. The
/// `id = ANY` beside the join keeps PostgreSQL on the primary key: it guesses the
/// pairs at hundreds of rows, and would otherwise read the whole table to hash it.
const AT_ONCE: &str = "\
WITH u AS (SELECT * FROM jsonb_to_recordset($5::jsonb) \
     AS u(n bigint, lease text, agent text, issued bigint, expires bigint)), \
expired AS (SELECT j.id, j.lease_expires FROM swarm_jobs j WHERE j.state = 'leased' \
     AND j.lease_expires < $1 AND CAPS ORDER BY j.lease_expires LIMIT $4 FOR UPDATE SKIP LOCKED), \
queued AS (SELECT j.id, j.run_seq, j.position FROM swarm_jobs j WHERE j.state = 'queued' \
     AND CAPS ORDER BY j.run_seq, j.position LIMIT $4 FOR UPDATE SKIP LOCKED), \
c AS (SELECT id, row_number() OVER (ORDER BY part, a, b) AS n FROM ( \
     SELECT id, 0 AS part, lease_expires AS a, 0::bigint AS b FROM expired \
     UNION ALL SELECT id, 1, run_seq, position FROM queued) o), \
pairs AS (SELECT c.id, u.lease, u.agent, u.issued, u.expires FROM c JOIN u ON u.n = c.n \
     WHERE NOT EXISTS (SELECT 1 FROM c JOIN swarm_results r ON r.job_id = c.id \
         WHERE c.n <= $4 AND r.agent_id IN (SELECT agent FROM u))), \
taken AS (UPDATE swarm_jobs j SET state = 'leased', lease_id = p.lease, agent_id = p.agent, \
    lease_expires = p.expires, phase = NULL FROM pairs p \
    WHERE j.id = p.id AND j.id = ANY (ARRAY(SELECT id FROM pairs)) RETURNING JOBS), \
lease AS (INSERT INTO swarm_leases (id, job_id, agent_id, issued) \
    SELECT lease, id, agent, issued FROM pairs) \
SELECT JOBS, r.project, r.matrix_file, r.source_sha256, r.trust \
FROM taken j JOIN swarm_runs r ON r.id = j.run_id";

/// The claim alone, spelled out once: it runs on every claim that needs it.
pub(super) fn claim_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let fits = format!(
            "{} AND {UNANSWERED}",
            CAPS.replace("PYTHONS", "$5").replace("SERVICES", "$6")
        );
        CLAIM.replace("FITS", &fits).replace("JOBS", &job_columns())
    });
    &SQL
}

/// The batch's candidates, spelled out once.
pub(super) fn candidates_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        CANDIDATES.replace(
            "CAPS",
            &CAPS.replace("PYTHONS", "$2").replace("SERVICES", "$3"),
        )
    });
    &SQL
}

/// A group's claims at once, spelled out once.
pub(super) fn at_once_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        AT_ONCE
            .replace(
                "CAPS",
                &CAPS.replace("PYTHONS", "$2").replace("SERVICES", "$3"),
            )
            .replace("JOBS", &job_columns())
    });
    &SQL
}

/// The batch's lease writing, spelled out once.
fn take_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| TAKE.replace("JOBS", &job_columns()));
    &SQL
}

/// `sql` (the candidates, or the claims at once) bound for the claims `group` of
/// `requests`, who all offer the same: `$1` now, `$2` and `$3` what they offer, `$4` how
/// many they are. `$5` is the caller's.
fn group_query<'q>(
    sql: &'q str,
    requests: &[ClaimRequest],
    group: &[usize],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let first = &requests[group[0]];
    let now = group
        .iter()
        .map(|&i| requests[i].now)
        .min()
        .unwrap_or(first.now);
    sqlx::query(sql)
        .bind(now)
        .bind(json_array(&first.pythons))
        .bind(json_array(&first.services))
        .bind(i64::try_from(group.len()).unwrap_or(i64::MAX))
}

/// The candidates for the claims `group` of `requests`, with `$5` the group's agents.
fn candidates_query<'q>(
    sql: &'q str,
    requests: &[ClaimRequest],
    group: &[usize],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut agents: Vec<String> = group
        .iter()
        .map(|&i| requests[i].agent_id.clone())
        .collect();
    agents.sort();
    agents.dedup();
    group_query(sql, requests, group).bind(json_array(&agents))
}

/// Every claim of `requests`: the answer of each, in order, and the error that stopped
/// the batch, if one did (see [`super::Served`]).
///
/// A batch whose claims all offer the same (a swarm of like agents, or a claim alone)
/// goes at once ([`AT_ONCE`]): one statement, one round trip, no transaction around it.
/// The claims it leaves without a job (the queue ran dry, or an agent of the batch had
/// answered a candidate) and batches of several offers go the long way: one
/// transaction, all or nothing, in which each group's candidates are locked,
/// [`super::assign`] hands them out, and one statement leases them.
pub(super) async fn batch(pool: &sqlx::AnyPool, requests: &[ClaimRequest]) -> super::Served {
    let mut answers = vec![None; requests.len()];
    let offers = requests.iter().map(|r| (&r.pythons, &r.services));
    let mut groups = assign::groups(offers);
    let done = serve(pool, requests, &mut groups, &mut answers).await;
    (answers, done)
}

async fn serve(
    pool: &sqlx::AnyPool,
    requests: &[ClaimRequest],
    groups: &mut [Vec<usize>],
    answers: &mut [Option<Claimed>],
) -> Result<(), StoreError> {
    if let [group] = groups {
        at_once(pool, requests, group, answers).await?;
        group.retain(|&i| answers[i].is_none());
        if group.is_empty() {
            return Ok(());
        }
    }
    // Kept apart until the commit: a rollback takes back what the transaction gave.
    let mut given = vec![None; requests.len()];
    let mut tx = pool.begin().await?;
    for group in groups.iter() {
        claim_group(&mut tx, requests, group, &mut given).await?;
    }
    tx.commit().await?;
    for (answer, job) in answers.iter_mut().zip(given) {
        if job.is_some() {
            *answer = job;
        }
    }
    Ok(())
}

/// The claims `group` of `requests`, who offer the same, at once ([`AT_ONCE`]), into
/// `answers`.
async fn at_once(
    pool: &sqlx::AnyPool,
    requests: &[ClaimRequest],
    group: &[usize],
    answers: &mut [Option<Claimed>],
) -> Result<(), StoreError> {
    let mut by_lease = HashMap::new();
    let claims: Vec<serde_json::Value> = group
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let r = &requests[i];
            by_lease.insert(r.lease.as_str(), i);
            serde_json::json!({
                "n": n + 1, "lease": r.lease, "agent": r.agent_id,
                "issued": r.now, "expires": r.expires,
            })
        })
        .collect();
    let rows = group_query(at_once_sql(), requests, group)
        .bind(serde_json::Value::Array(claims).to_string())
        .fetch_all(pool)
        .await?;
    answer_by_lease(&rows, &by_lease, answers)
}

/// Each leased job of `rows` into `answers`, at the claim whose lease it carries
/// (`by_lease`: lease → claim index).
fn answer_by_lease(
    rows: &[sqlx::any::AnyRow],
    by_lease: &HashMap<&str, usize>,
    answers: &mut [Option<Claimed>],
) -> Result<(), StoreError> {
    for row in rows {
        let claimed = claimed_row(row)?;
        let lease = claimed.job.lease_id.as_deref().unwrap_or_default();
        if let Some(&i) = by_lease.get(lease) {
            answers[i] = Some(claimed);
        }
    }
    Ok(())
}

/// The claims `group` of `requests`, who offer the same, into `answers`.
async fn claim_group(
    conn: &mut AnyConnection,
    requests: &[ClaimRequest],
    group: &[usize],
    answers: &mut [Option<Claimed>],
) -> Result<(), StoreError> {
    let rows = candidates_query(candidates_sql(), requests, group)
        .fetch_all(&mut *conn)
        .await?;
    let candidates = rows
        .iter()
        .map(candidate_row)
        .collect::<Result<Vec<_>, _>>()?;
    let agents: Vec<&str> = group
        .iter()
        .map(|&i| requests[i].agent_id.as_str())
        .collect();
    let picks = assign::assign(&agents, &candidates);
    let mut by_lease = HashMap::new();
    let mut taking = Vec::new();
    for (&i, pick) in group.iter().zip(&picks) {
        let Some(pick) = pick else { continue };
        let r = &requests[i];
        by_lease.insert(r.lease.as_str(), i);
        taking.push(serde_json::json!({
            "id": candidates[*pick].id, "lease": r.lease, "agent": r.agent_id,
            "issued": r.now, "expires": r.expires,
        }));
    }
    if !taking.is_empty() {
        let rows = sqlx::query(take_sql())
            .bind(serde_json::Value::Array(taking).to_string())
            .fetch_all(&mut *conn)
            .await?;
        answer_by_lease(&rows, &by_lease, answers)?;
    }
    // A full set of candidates, yet a claim got none: its agent answered every one left,
    // and a job past them may still be its.
    if candidates.len() == group.len() {
        for (&i, pick) in group.iter().zip(&picks) {
            if pick.is_none() {
                let row = claim_query(claim_sql(), &requests[i])
                    .fetch_optional(&mut *conn)
                    .await?;
                answers[i] = row.as_ref().map(claimed_row).transpose()?;
            }
        }
    }
    Ok(())
}

/// How `conn` plans the batch's candidates and the claim alone for `req`: each
/// prepared with its parameters' types as the writers bind them, explained with `req`'s
/// values, and dropped.
pub(super) async fn explain(
    conn: &mut AnyConnection,
    req: &ClaimRequest,
) -> Result<String, StoreError> {
    let text = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let (pythons, services) = (json_array(&req.pythons), json_array(&req.services));
    let statements = [
        (
            "ponyswarm_explain_candidates(bigint, text, text, bigint, text)",
            candidates_sql(),
            [
                req.now.to_string(),
                text(&pythons),
                text(&services),
                "1".to_string(),
                text(&json_array(std::slice::from_ref(&req.agent_id))),
            ]
            .join(", "),
        ),
        (
            "ponyswarm_explain_claim(text, text, bigint, bigint, text, text)",
            claim_sql(),
            [
                text(&req.lease),
                text(&req.agent_id),
                req.now.to_string(),
                req.expires.to_string(),
                text(&pythons),
                text(&services),
            ]
            .join(", "),
        ),
    ];
    let mut lines = Vec::new();
    for (signature, sql, values) in statements {
        let name = &signature[..signature.find('(').unwrap_or(signature.len())];
        sqlx::raw_sql(&format!("PREPARE {signature} AS {sql}"))
            .execute(&mut *conn)
            .await?;
        let plan = sqlx::raw_sql(&format!("EXPLAIN EXECUTE {name}({values})"))
            .fetch_all(&mut *conn)
            .await;
        sqlx::raw_sql(&format!("DEALLOCATE {name}"))
            .execute(&mut *conn)
            .await?;
        for row in plan? {
            lines.push(row.try_get::<String, _>(0)?);
        }
    }
    Ok(lines.join("\n"))
}

fn candidate_row(r: &sqlx::any::AnyRow) -> Result<Candidate, StoreError> {
    let answered: Option<String> = r.try_get("answered")?;
    let answered = match answered {
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            StoreError::ClaimWriter(format!("PostgreSQL's list of agents {json}: {e}"))
        })?,
        None => Vec::new(),
    };
    Ok(Candidate {
        id: r.try_get("id")?,
        answered,
    })
}
