-- The text of each version's file, read once by a background job for
-- comparing versions (package compare), keyed like the file by its
-- SHA-256. A row is queued (state 'pending') in the transaction that
-- stores the version, so a crash never loses the job.
CREATE TABLE version_texts (
    sha256    TEXT    PRIMARY KEY,
    state     TEXT    NOT NULL,
    body      TEXT,
    attempts  INTEGER NOT NULL DEFAULT 0,
    queued_at INTEGER NOT NULL,
    done_at   INTEGER
);
CREATE INDEX version_texts_pending ON version_texts(queued_at) WHERE state = 'pending';
