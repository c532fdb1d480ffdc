-- The output airlock: release requests, the files they carry (stored inside the vault, so what a checker
-- approves is byte for byte what is exported), and the children whose data a release used.

CREATE TABLE releases (
    release_id VARCHAR PRIMARY KEY,
    state VARCHAR NOT NULL CHECK (state IN ('requested', 'approved', 'rejected', 'exported')),
    why VARCHAR NOT NULL,
    requested_by VARCHAR NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    profile VARCHAR NOT NULL,
    profile_version VARCHAR NOT NULL,
    verdict VARCHAR NOT NULL CHECK (verdict IN ('pass', 'fail', 'review')),
    decided_by VARCHAR,
    decided_at TIMESTAMPTZ,
    decision_note VARCHAR,
    exports INTEGER NOT NULL DEFAULT 0,
    exported_at TIMESTAMPTZ,
    exported_by VARCHAR
);

-- One row per file of a release. `content` is the file as requested; `released` is what leaves the vault
-- (the suppressed and rounded version of a table, the file itself for outputs reviewed by a person; NULL
-- when no safe version exists, which blocks approval). `checks` holds the per-cell verdict summary (JSON,
-- rule ids and positions only).
CREATE TABLE release_outputs (
    release_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    content BLOB NOT NULL,
    verdict VARCHAR NOT NULL CHECK (verdict IN ('pass', 'fail', 'review')),
    reasons VARCHAR NOT NULL,
    released BLOB,
    released_sha256 VARCHAR,
    checks VARCHAR NOT NULL,
    PRIMARY KEY (release_id, position)
);

-- Children whose rows fed a release (read by the rights module: a data subject is told which past
-- releases used their data; releases cannot be recalled).
CREATE TABLE release_subjects (
    release_id VARCHAR NOT NULL,
    child_key VARCHAR NOT NULL,
    PRIMARY KEY (release_id, child_key)
);
