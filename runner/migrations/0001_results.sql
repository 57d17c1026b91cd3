-- Runs, jobs, failed tests, install changes and logs: everything a report reads.
--
-- One file for SQLite and PostgreSQL, so only types both understand: TEXT, BIGINT,
-- DOUBLE PRECISION and BYTEA (SQLite stores blobs as given in any column). Times are
-- RFC 3339 text in UTC, which sorts as time. Ids come from ponyswarm, not from the
-- database: no AUTOINCREMENT/SERIAL, which the two spell differently.

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    -- Insertion order, to tell apart runs started in the same second.
    seq         BIGINT NOT NULL,
    -- The matrix file's `name:`; runs of the same name are compared.
    name        TEXT NOT NULL,
    matrix_file TEXT NOT NULL,
    started     TEXT NOT NULL,
    finished    TEXT,
    -- `running`, `interrupted`, or the run's status once finished.
    status      TEXT NOT NULL,
    exit_code   BIGINT,
    ponyswarm   TEXT NOT NULL,
    -- The process that runs it, so a later start can tell a dead run from a live one.
    host        TEXT NOT NULL,
    pid         BIGINT NOT NULL
);

CREATE INDEX runs_by_name ON runs (name, started, seq);

CREATE TABLE jobs (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- Expansion order within the run.
    position     BIGINT NOT NULL,
    -- The combination as a JSON object, axis order and YAML types kept.
    matrix       TEXT NOT NULL,
    -- `pending`, `running`, `interrupted`, or a job status once the job ended.
    status       TEXT NOT NULL,
    allowed_failure BIGINT NOT NULL DEFAULT 0,
    detail       TEXT,
    -- All four NULL when the counts are unknown.
    tests_passed  BIGINT,
    tests_failed  BIGINT,
    tests_skipped BIGINT,
    tests_errors  BIGINT,
    test_command TEXT,
    detected     TEXT,
    install_changes_omitted BIGINT NOT NULL DEFAULT 0,
    -- JSON objects: phase → seconds, image name → image id, in their order.
    phases       TEXT NOT NULL DEFAULT '{}',
    images       TEXT NOT NULL DEFAULT '{}',
    started      TEXT,
    finished     TEXT,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE test_failures (
    run_id   TEXT NOT NULL,
    job      TEXT NOT NULL,
    position BIGINT NOT NULL,
    test     TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (run_id, job, position),
    FOREIGN KEY (run_id, job) REFERENCES jobs (run_id, name) ON DELETE CASCADE
);

-- "Which runs failed this test": the comparison and a future history page.
CREATE INDEX test_failures_by_test ON test_failures (test);

CREATE TABLE install_changes (
    run_id   TEXT NOT NULL,
    job      TEXT NOT NULL,
    position BIGINT NOT NULL,
    path     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    flagged  BIGINT NOT NULL,
    inside   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, job, position),
    FOREIGN KEY (run_id, job) REFERENCES jobs (run_id, name) ON DELETE CASCADE
);

-- Apart from `jobs`, so that listing jobs never reads the logs.
CREATE TABLE logs (
    run_id   TEXT NOT NULL,
    job      TEXT NOT NULL,
    -- `deflate` (zlib stream); kept so the encoding can change without a migration.
    encoding TEXT NOT NULL,
    -- Bytes before compression.
    size     BIGINT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (run_id, job),
    FOREIGN KEY (run_id, job) REFERENCES jobs (run_id, name) ON DELETE CASCADE
);
