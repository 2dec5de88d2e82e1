-- Documents are stored as a JSON aggregate (body) plus the columns that
-- lists, dashboards and lookups filter on.
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,
    number        TEXT    NOT NULL UNIQUE,
    type          TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    counterparty  TEXT    NOT NULL DEFAULT '',
    amount_minor  INTEGER,
    currency      TEXT    NOT NULL DEFAULT '',
    initiator     TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    body          TEXT    NOT NULL
);
CREATE INDEX documents_state ON documents(state);
CREATE INDEX documents_initiator ON documents(initiator);

-- tasks mirrors the aggregate's tasks for "my open tasks" and deadlines.
CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    doc_id       INTEGER NOT NULL REFERENCES documents(id),
    round        INTEGER NOT NULL,
    stage        INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    assignee     TEXT    NOT NULL,
    on_behalf_of TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL,
    opened_at    INTEGER NOT NULL,
    due_at       INTEGER,
    closed_at    INTEGER
);
CREATE INDEX tasks_doc ON tasks(doc_id);
CREATE INDEX tasks_open_assignee ON tasks(assignee) WHERE state = 'open';

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- Append-only, hash-chained: hash = sha256(prev_hash || canonical content).
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY,
    doc_id       INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL DEFAULT '',
    on_behalf_of TEXT    NOT NULL DEFAULT '',
    kind         TEXT    NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    task_id      INTEGER NOT NULL DEFAULT 0,
    detail       TEXT    NOT NULL DEFAULT '',
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL
);
CREATE INDEX audit_doc ON audit(doc_id, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

-- The outbox: notifications written in the same transaction as the change.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    recipient   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    doc_id      INTEGER NOT NULL,
    payload     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    fanned_out  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_pending ON notifications(id) WHERE fanned_out = 0;

-- One row per notification and channel; state pending → sent | failed.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    channel         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    ref             TEXT    NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL,
    UNIQUE (notification_id, channel)
);
CREATE INDEX deliveries_due ON deliveries(next_at) WHERE state = 'pending';

-- Inbound de-duplication: the platform's own ids, with the first outcome.
CREATE TABLE inbound (
    key     TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    at      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE absences (
    id         INTEGER PRIMARY KEY,
    person     TEXT    NOT NULL,
    deputy     TEXT    NOT NULL,
    from_at    INTEGER NOT NULL,
    to_at      INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX absences_person ON absences(person, to_at);
