-- Read paths that cost their page, not the company's history.

-- Who may read each document besides viewers (its participants and the
-- people its route names): a person's documents are read by this index.
-- The rows of documents already there are made from their bodies by the
-- migration's Go step (see goMigrations).
CREATE TABLE readers (
    person TEXT    NOT NULL,
    doc_id INTEGER NOT NULL,
    PRIMARY KEY (person, doc_id)
) WITHOUT ROWID;

-- Full-text search over number, title and counterparty. unicode61 folds
-- Cyrillic case as well as Latin. Title and counterparty are set when a
-- document starts, so the index is written then and seldom again.
CREATE VIRTUAL TABLE documents_fts USING fts5(number, title, counterparty, content='documents', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
INSERT INTO documents_fts(documents_fts) VALUES ('rebuild');
CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts(rowid, number, title, counterparty) VALUES (new.id, new.number, new.title, new.counterparty);
END;
CREATE TRIGGER documents_fts_update AFTER UPDATE OF title, counterparty ON documents
    WHEN old.title IS NOT new.title OR old.counterparty IS NOT new.counterparty BEGIN
    INSERT INTO documents_fts(documents_fts, rowid, number, title, counterparty) VALUES ('delete', old.id, old.number, old.title, old.counterparty);
    INSERT INTO documents_fts(rowid, number, title, counterparty) VALUES (new.id, new.number, new.title, new.counterparty);
END;

-- A document card's failed deliveries, and the dashboard sorted by amount.
CREATE INDEX deliveries_failed ON deliveries(notification_id) WHERE state = 'failed';
CREATE INDEX documents_amount ON documents(amount_minor);

-- What /metrics counts, kept as counters instead of counted over whole
-- tables at every scrape: deliveries and reminders by the writer as it
-- commits, decisions by the scrape from the audit events after the last
-- one it counted (decisions_counted), so that a decision pays nothing.
INSERT INTO counters(name, value)
    SELECT 'decisions:' || kind, COUNT(*) FROM audit
    WHERE kind IN ('approve', 'reject', 'comment', 'acknowledge') OR (kind = 'done' AND task_id <> 0) GROUP BY kind;
INSERT INTO counters(name, value) SELECT 'decisions_counted', COALESCE(MAX(id), 0) FROM audit WHERE true;
INSERT INTO counters(name, value)
    SELECT 'deliveries_sent:' || channel, COUNT(*) FROM deliveries WHERE state = 'sent' GROUP BY channel;
INSERT INTO counters(name, value)
    SELECT 'reminders_sent:' || send, COUNT(*) FROM reminders WHERE sent_at IS NOT NULL GROUP BY send;
