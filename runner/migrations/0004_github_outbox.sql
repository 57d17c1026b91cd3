-- Commit statuses on their way to GitHub. A coordinator run that should report to a
-- commit gets a row in `github_targets`; the statuses it owes (pending per job, each
-- job's final state, the summary) are added to `github_outbox` as they become due, and
-- a poster claims, posts and settles them one by one. The outbox is what survives a
-- crash: a status added but not posted is posted by the next coordinator to look.
--
-- Portable like 0001 and 0002: TEXT and BIGINT only; times are ms since 1970.

CREATE TABLE github_targets (
    run_id      TEXT PRIMARY KEY REFERENCES swarm_runs (id) ON DELETE CASCADE,
    project     TEXT NOT NULL,
    -- `owner/repo`, from the coordinator's configuration (never from a payload).
    repository  TEXT NOT NULL,
    commit_sha  TEXT NOT NULL,
    -- 1 once the run's summary is in the outbox: nothing more will be added.
    complete    BIGINT NOT NULL
);

CREATE TABLE github_outbox (
    -- `<run id>/<what>`, fixed by what the status is: adding it twice adds it once.
    id          TEXT PRIMARY KEY,
    -- The order of posting within a context (and the order across them).
    seq         BIGINT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES swarm_runs (id) ON DELETE CASCADE,
    project     TEXT NOT NULL,
    repository  TEXT NOT NULL,
    commit_sha  TEXT NOT NULL,
    context     TEXT NOT NULL,
    state       TEXT NOT NULL,
    description TEXT NOT NULL,
    target_url  TEXT,
    -- `waiting`, `posting` (claimed), `posted`, `failed` (after the poster's retries).
    delivery    TEXT NOT NULL,
    -- The coordinator holding the claim, and until when (renewed while it posts).
    claimed_by  TEXT,
    claim_expires BIGINT,
    -- Why it failed, for the run page.
    error       TEXT,
    settled     BIGINT
);

CREATE INDEX github_outbox_next ON github_outbox (delivery, seq);
CREATE INDEX github_outbox_context ON github_outbox (repository, commit_sha, context, seq);
CREATE INDEX github_outbox_by_run ON github_outbox (run_id, seq);
