-- The projects `pypi watch --project` follows, per index: how the index was last
-- asked (`json` or `simple`), the validators it answered with (so an unchanged project
-- costs a 304), and the versions seen so far (one per line).
--
-- Portable SQL only (see 0001): TEXT; times are RFC 3339 text in UTC.

CREATE TABLE pypi_projects (
    index_url     TEXT NOT NULL,
    name          TEXT NOT NULL,
    api           TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    versions      TEXT NOT NULL,
    updated       TEXT NOT NULL,
    PRIMARY KEY (index_url, name)
);
