-- The checker's review of a release, file by file: when each checker first opened each file (the console
-- offers "approve" only once the deciding checker has opened every file), and the decision recorded per file.

CREATE TABLE release_file_opens (
    release_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    checker VARCHAR NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (release_id, position, checker)
);

CREATE TABLE release_file_decisions (
    release_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    decision VARCHAR NOT NULL,
    decided_by VARCHAR NOT NULL,
    opened_at TIMESTAMPTZ,
    decided_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (release_id, position)
);
