-- Pull requests from outside, and replayed webhooks.
--
-- `swarm_runs.trust`: `trusted`, or `untrusted` for code from outside the repository (a
-- pull request from a fork): its jobs' specs say so, and agents give them wheelhouses
-- of their own. Runs queued before this migration were trusted, except pull requests,
-- whose head repository was not kept: they are marked untrusted, the safe guess.
--
-- `swarm_deliveries.body_sha256`: SHA-256 of the webhook body, hex. The same body under
-- a fresh delivery id is a replay too. NULL for deliveries received before this.
--
-- `github_outbox.run_id` no longer references `swarm_runs`: a pull request that waits
-- for a maintainer has no run, yet its `pending` status goes through the outbox like any
-- other (its `run_id` is then `gate/<delivery id>`). Runs are never deleted, so the
-- cascade went unused. Rebuilt, as SQLite cannot drop a constraint.
--
-- Portable like 0001: TEXT and BIGINT only.

ALTER TABLE swarm_runs ADD COLUMN trust TEXT NOT NULL DEFAULT 'trusted';
UPDATE swarm_runs SET trust = 'untrusted' WHERE origin = 'pull_request';

ALTER TABLE swarm_deliveries ADD COLUMN body_sha256 TEXT;
CREATE UNIQUE INDEX swarm_deliveries_body ON swarm_deliveries (body_sha256);

CREATE TABLE github_outbox_0011 (
    id          TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    -- The run, or `gate/<delivery id>` for a pull request waiting for a maintainer.
    run_id      TEXT NOT NULL,
    project     TEXT NOT NULL,
    repository  TEXT NOT NULL,
    commit_sha  TEXT NOT NULL,
    context     TEXT NOT NULL,
    state       TEXT NOT NULL,
    description TEXT NOT NULL,
    target_url  TEXT,
    delivery    TEXT NOT NULL,
    claimed_by  TEXT,
    claim_expires BIGINT,
    error       TEXT,
    settled     BIGINT
);

INSERT INTO github_outbox_0011 (id, seq, run_id, project, repository, commit_sha, context,
    state, description, target_url, delivery, claimed_by, claim_expires, error, settled)
SELECT id, seq, run_id, project, repository, commit_sha, context,
    state, description, target_url, delivery, claimed_by, claim_expires, error, settled
FROM github_outbox;

DROP TABLE github_outbox;
ALTER TABLE github_outbox_0011 RENAME TO github_outbox;

CREATE INDEX github_outbox_next ON github_outbox (delivery, seq);
CREATE INDEX github_outbox_context ON github_outbox (repository, commit_sha, context, seq);
CREATE INDEX github_outbox_by_run ON github_outbox (run_id, seq);
