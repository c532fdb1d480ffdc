-- The vault's age identity and its register of backups.
-- vault_identity: the X25519 age key local authorities encrypt their deliveries to (and the default
-- recipient of backups). Its secret half lives only here, inside the encrypted database; the public
-- recipient is printed by `cscvault init` for the LAs.
CREATE TABLE vault_identity (
    name VARCHAR PRIMARY KEY,
    identity VARCHAR NOT NULL,
    recipient VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by VARCHAR NOT NULL
);

-- backups: every encrypted snapshot written by `cscvault backup`. The deletion certificate lists them,
-- because destroying the vault does not reach copies held elsewhere: each must expire by delete_by.
CREATE TABLE backups (
    backup_id VARCHAR PRIMARY KEY,
    file_name VARCHAR NOT NULL,
    location VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    recipients VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by VARCHAR NOT NULL,
    delete_by DATE NOT NULL,
    audit_entries BIGINT NOT NULL
);
