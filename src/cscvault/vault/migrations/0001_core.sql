-- Core tables: vault metadata, users and roles, the audit chain.
-- Users and roles live here, inside the encrypted database, so no one can grant themselves a role by
-- editing a file; each user row pins the fingerprint of its key slot in keys.json.

CREATE TABLE meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE users (
    name VARCHAR PRIMARY KEY,
    role VARCHAR NOT NULL CHECK (role IN ('admin', 'analyst', 'checker', 'dpo')),
    slot_id VARCHAR NOT NULL UNIQUE,
    slot_fingerprint VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by VARCHAR NOT NULL
);

-- Hash-chained event log. No primary key on purpose: integrity comes from the chain and the
-- authenticated head outside the table, and `audit verify` must be able to report duplicates.
CREATE TABLE audit (
    seq BIGINT NOT NULL,
    occurred_at VARCHAR NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    objects VARCHAR NOT NULL,
    counts VARCHAR NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
);
