-- Every export of an approved release: who wrote which bundle where and when, and the files that left
-- (their bundle paths and SHA-256, JSON). The destruction certificate lists these rows, so it names
-- everything that ever left the vault. No file contents: those stay in release_outputs.

CREATE TABLE release_exports (
    release_id VARCHAR NOT NULL,
    export_number INTEGER NOT NULL,
    exported_at TIMESTAMPTZ NOT NULL,
    exported_by VARCHAR NOT NULL,
    destination VARCHAR NOT NULL,
    files VARCHAR NOT NULL,
    manifest_sha256 VARCHAR NOT NULL,
    PRIMARY KEY (release_id, export_number)
);
