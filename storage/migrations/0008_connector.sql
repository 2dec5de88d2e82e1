-- The connector: other systems (1C, Directum, a CRM) start documents and
-- find them again by their own id.
ALTER TABLE documents ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX documents_external ON documents(external_id) WHERE external_id <> '';
-- The fingerprint of the request an integration's Idempotency-Key came
-- with, so that the key reused for another request is refused.
ALTER TABLE inbound ADD COLUMN request TEXT NOT NULL DEFAULT '';

-- API keys: the secret part is kept only as its SHA-256 (a key is 32
-- random bytes, so a plain hash is as strong as a slow one would be).
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    types        TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) WITHOUT ROWID;

-- Outgoing webhooks: one row per subscription and event, made from the
-- audit log (itself written with the change), delivered in id order per
-- subscription and document.
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    subscription TEXT    NOT NULL,
    event_id     INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    doc_id       INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    next_at      INTEGER NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL,
    UNIQUE (subscription, event_id, type)
);
CREATE INDEX webhook_pending ON webhook_deliveries(subscription, doc_id, id) WHERE state = 'pending';
CREATE INDEX webhook_due ON webhook_deliveries(next_at) WHERE state = 'pending';
CREATE INDEX webhook_failed ON webhook_deliveries(id) WHERE state = 'failed';
