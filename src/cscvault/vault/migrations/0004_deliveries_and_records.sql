-- Deliveries and the canonical child-level tables ingest loads.
-- Every child-level table carries the child's keyed pseudonym (child_key), the LA's ONS code and the
-- SHA-256 of the delivery its row came from. No name, address, postcode, UPN, NHS number, date of birth
-- or free text is a column: ages are months at the event.

CREATE TABLE deliveries (
    sha256 VARCHAR PRIMARY KEY,
    file_name VARCHAR NOT NULL,
    la_code VARCHAR,
    return_label VARCHAR,
    collection_year VARCHAR,
    format VARCHAR NOT NULL,
    rows_read INTEGER NOT NULL,
    rows_loaded INTEGER NOT NULL,
    rejected BOOLEAN NOT NULL,
    dropped_columns VARCHAR NOT NULL,      -- JSON list of column names
    findings VARCHAR NOT NULL,             -- JSON: rule id -> count
    tables VARCHAR NOT NULL,               -- JSON: table -> rows loaded
    tombstoned INTEGER NOT NULL,           -- rows of erased children dropped on arrival
    duplicates INTEGER NOT NULL,           -- rows already held from an overlapping delivery
    quarantined INTEGER NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL,
    loaded_by VARCHAR NOT NULL
);

-- Findings name the file, the row or XPath, the field and the rule; never the value.
CREATE TABLE findings (
    delivery VARCHAR NOT NULL,
    location VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    rule_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    message VARCHAR NOT NULL
);

-- Failing raw values, inside the encrypted vault only (subject-access requests include them).
CREATE TABLE quarantine (
    delivery VARCHAR NOT NULL,
    child_key VARCHAR,
    location VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    rule_id VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);

CREATE TABLE children (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    gender VARCHAR,
    ethnicity VARCHAR,
    disability BOOLEAN,
    uasc BOOLEAN,
    delivery VARCHAR NOT NULL
);

CREATE TABLE referrals (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    referral_date DATE,
    source VARCHAR,
    nfa BOOLEAN,
    previous_cpps INTEGER,
    unborn BOOLEAN,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE assessments (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    referral_date DATE,
    start_date DATE,
    authorised_date DATE,
    factors VARCHAR,
    outcome VARCHAR,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE cin_plans (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    referral_date DATE,
    start_date DATE,
    end_date DATE,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE s47_enquiries (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    referral_date DATE,
    start_date DATE,
    icpc_date DATE,
    outcome VARCHAR,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE cp_plans (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    referral_date DATE,
    start_date DATE,
    end_date DATE,
    category VARCHAR,
    previous_cpps INTEGER,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE pre_proceedings (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    referral_date DATE,
    start_date DATE,
    end_date DATE,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE care_proceedings (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    issue_date DATE,
    end_date DATE,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE cla_episodes (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    start_date DATE,
    end_date DATE,
    legal_status VARCHAR,
    placement_type VARCHAR,
    reason_start VARCHAR,
    reason_end VARCHAR,
    kinship BOOLEAN,
    returned_home BOOLEAN,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE attendance_terms (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    term VARCHAR,
    sessions_possible INTEGER,
    sessions_authorised_absence INTEGER,
    sessions_unauthorised_absence INTEGER,
    unauthorised_pct DOUBLE,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE fsm_pupil_premium (
    child_key VARCHAR NOT NULL,
    la_code VARCHAR NOT NULL,
    census_date DATE,
    fsm_eligible BOOLEAN,
    pupil_premium BOOLEAN,
    age_months INTEGER,
    delivery VARCHAR NOT NULL
);

CREATE TABLE la_month_aggregates (
    la_code VARCHAR NOT NULL,
    month DATE,
    measure VARCHAR,
    value DOUBLE,
    delivery VARCHAR NOT NULL
);

