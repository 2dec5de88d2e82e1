-- Inbound platform updates, stored before they are confirmed to the
-- platform, so that a crash between "received" and "handled" loses nothing.
CREATE TABLE inbox (
    channel      TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    PRIMARY KEY (channel, id)
) WITHOUT ROWID;
CREATE INDEX inbox_pending ON inbox(channel, received_at) WHERE processed_at IS NULL;

-- Small per-channel state: dialogues, identity links, message references,
-- uploaded file ids.
CREATE TABLE channel_state (
    channel    TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (channel, key)
) WITHOUT ROWID;
