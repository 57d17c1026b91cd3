-- The PyPI watcher's checkpoints and queue, and the reports of tested releases.
--
-- Portable SQL only (see 0001): TEXT, BIGINT; times are RFC 3339 text in UTC.

-- Where the watcher of one index stopped reading: the changelog's last serial, or the
-- RSS feed's newest publication time.
CREATE TABLE pypi_checkpoints (
    index_url TEXT PRIMARY KEY,
    -- `changelog` or `rss`.
    source    TEXT NOT NULL,
    position  TEXT NOT NULL,
    updated   TEXT NOT NULL
);

-- Every release the watcher has seen, once: a release is queued the first time it is
-- seen and never again, which is what makes processing exactly-once.
CREATE TABLE pypi_queue (
    index_url TEXT NOT NULL,
    name      TEXT NOT NULL,
    version   TEXT NOT NULL,
    -- Insertion order: releases are processed first seen, first tested.
    seq       BIGINT NOT NULL,
    -- `queued`, `running`, `done` or `failed`.
    state     TEXT NOT NULL,
    queued    TEXT NOT NULL,
    updated   TEXT NOT NULL,
    detail    TEXT,
    PRIMARY KEY (index_url, name, version)
);

CREATE INDEX pypi_queue_by_state ON pypi_queue (index_url, state, seq);

-- One report per release (the latest test of it), as the report's JSON.
CREATE TABLE pypi_reports (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    created     TEXT NOT NULL,
    score       BIGINT,
    score_max   BIGINT,
    report      TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
