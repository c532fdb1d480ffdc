-- Analysis runs and their results, replacing hand-kept run logs: every run records the plan's hash, the
-- code version and the set of deliveries it saw.

CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    plan VARCHAR NOT NULL,
    plan_sha256 VARCHAR NOT NULL,
    code_version VARCHAR NOT NULL,
    deliveries_sha256 VARCHAR NOT NULL,   -- SHA-256 over the sorted delivery hashes
    deliveries INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    actor VARCHAR NOT NULL,
    status VARCHAR NOT NULL
);

CREATE TABLE results (
    run_id VARCHAR NOT NULL,
    analysis VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    sample VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    term VARCHAR NOT NULL,
    estimate DOUBLE,
    se DOUBLE,
    odds_ratio DOUBLE,
    ci_low DOUBLE,
    ci_high DOUBLE,
    p_value DOUBLE,
    n INTEGER,
    n_events INTEGER
);
