-- Data-subject state and the rights register.
-- subject_status: one row per child key with a restriction, objection or erasure. Erasure rows are keyed
-- tombstones: the child key is an HMAC, so it identifies no one outside the vault, and later deliveries
-- carrying the same LA id are dropped on arrival (counted only).

CREATE TABLE subject_status (
    child_key VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('restricted', 'objected', 'erased')),
    since TIMESTAMPTZ NOT NULL,
    request_id VARCHAR,
    PRIMARY KEY (child_key, status)
);

-- Rectifications: a correction layer with provenance. Later deliveries never overwrite these silently.
CREATE TABLE corrections (
    correction_id VARCHAR PRIMARY KEY,
    child_key VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    value VARCHAR,
    request_id VARCHAR NOT NULL,
    made_at TIMESTAMPTZ NOT NULL,
    made_by VARCHAR NOT NULL
);

CREATE TABLE requests (
    request_id VARCHAR PRIMARY KEY,
    type VARCHAR NOT NULL CHECK (type IN ('access', 'rectification', 'erasure', 'restriction', 'objection')),
    state VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    child_key VARCHAR NOT NULL,
    child_held BOOLEAN NOT NULL,
    requester_ref VARCHAR,
    received DATE NOT NULL,
    identified DATE,
    extended_notice DATE,
    extension_months INTEGER NOT NULL DEFAULT 0,
    clock_stopped_days INTEGER NOT NULL DEFAULT 0,
    decision VARCHAR,
    legal_basis VARCHAR,
    opened_at TIMESTAMPTZ NOT NULL,
    opened_by VARCHAR NOT NULL,
    closed_at TIMESTAMPTZ
);

CREATE TABLE request_events (
    request_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    at_time TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    event VARCHAR NOT NULL,
    from_state VARCHAR,
    to_state VARCHAR,
    detail VARCHAR,
    PRIMARY KEY (request_id, seq)
);

CREATE TABLE complaints (
    complaint_id VARCHAR PRIMARY KEY,
    received DATE NOT NULL,
    acknowledged DATE,
    summary_ref VARCHAR,
    outcome VARCHAR,
    closed DATE,
    opened_by VARCHAR NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL
);
