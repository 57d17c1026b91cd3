-- The swarm's coordinator: agents, runs sent to it (with their source), queued jobs and
-- their leases, results as agents signed them, and webhook deliveries already seen.
--
-- Portable like 0001: TEXT, BIGINT, BYTEA only. Times that leases compare are BIGINT
-- milliseconds since 1970 (UTC), so "expired" is one comparison on both databases.
-- The run itself (name, jobs, outcomes) lives in `runs` / `jobs` of 0001, so reports
-- read coordinator runs like local ones.

CREATE TABLE swarm_agents (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    -- SHA-256 of the bearer token, hex: a leaked database does not leak tokens.
    token_hash  TEXT NOT NULL UNIQUE,
    -- JSON of api::Capabilities.
    capabilities TEXT NOT NULL,
    registered  TEXT NOT NULL
);

CREATE TABLE swarm_runs (
    id          TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    project     TEXT NOT NULL,
    matrix_file TEXT NOT NULL,
    -- `running` until every job is decided, then `finished`.
    state       TEXT NOT NULL,
    quorum      BIGINT NOT NULL,
    -- What enqueued it: `submit`, or `push`/`pull_request` and the commit.
    origin      TEXT NOT NULL,
    commit_sha  TEXT,
    source_sha256 TEXT NOT NULL,
    source      BYTEA NOT NULL,
    created     TEXT NOT NULL
);

CREATE TABLE swarm_jobs (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES swarm_runs (id) ON DELETE CASCADE,
    -- Expansion order; also the queue's order across runs (run seq first).
    position    BIGINT NOT NULL,
    run_seq     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    python      TEXT NOT NULL,
    -- JSON array of catalog names or image references.
    services    TEXT NOT NULL,
    allowed_failure BIGINT NOT NULL,
    -- `queued`, `leased`, `done`, `disagreed`, `flaky`.
    state       TEXT NOT NULL,
    -- The current lease while `leased`.
    lease_id    TEXT,
    agent_id    TEXT,
    lease_expires BIGINT,
    phase       TEXT,
    -- The counted status once decided.
    status      TEXT
);

CREATE INDEX swarm_jobs_queue ON swarm_jobs (state, run_seq, position);
CREATE INDEX swarm_jobs_by_run ON swarm_jobs (run_id, position);

CREATE TABLE swarm_leases (
    id          TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES swarm_jobs (id) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL,
    issued      BIGINT NOT NULL
);

CREATE TABLE swarm_results (
    -- One result per lease: a repeat is the same result again.
    lease_id    TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES swarm_jobs (id) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL,
    -- The signed payload and signature exactly as received.
    payload     TEXT NOT NULL,
    signature   TEXT NOT NULL,
    status      TEXT NOT NULL,
    counted     BIGINT NOT NULL,
    received    BIGINT NOT NULL
);

CREATE INDEX swarm_results_by_job ON swarm_results (job_id, agent_id);

CREATE TABLE swarm_deliveries (
    id          TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    repository  TEXT NOT NULL,
    received    TEXT NOT NULL
);
