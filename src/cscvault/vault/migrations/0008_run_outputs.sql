-- The outputs of an analysis run (report, tables, figures, results.json) stay inside the encrypted vault,
-- tied to the run and its plan's hash; nothing readable leaves except through an approved release.
-- `meta` (JSON) carries a table's declared linear relations and label columns, and a figure's underlying
-- table, so the release checks and the checker see what the numbers obey.

CREATE TABLE run_outputs (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    plan VARCHAR NOT NULL,
    plan_sha256 VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    content BLOB NOT NULL,
    meta VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, name)
);

-- A release file that came from a run names it; its meta (declared relations) is checked with it.
ALTER TABLE release_outputs ADD COLUMN run_id VARCHAR;
ALTER TABLE release_outputs ADD COLUMN meta VARCHAR;
