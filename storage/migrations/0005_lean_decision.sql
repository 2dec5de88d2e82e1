-- Every page a decision touches is one more frame in the WAL, written and
-- flushed before the decision is acknowledged; this migration takes two
-- b-trees off a decision's path.

-- 1. A document's audit events form a list through doc_prev, with the head
-- in documents.last_event, instead of an index on audit(doc_id, id). The
-- index took a random page per event; the head lives on the document's
-- page, which every command rewrites anyway. Reading a document's history
-- follows the list (a few dozen lookups by id).
ALTER TABLE audit ADD COLUMN doc_prev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN last_event INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER audit_no_update;
UPDATE audit SET doc_prev = COALESCE(
    (SELECT MAX(b.id) FROM audit b WHERE b.doc_id = audit.doc_id AND b.id < audit.id), 0);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

UPDATE documents SET last_event = COALESCE((SELECT MAX(id) FROM audit WHERE doc_id = documents.id), 0);
DROP INDEX audit_doc;

-- 2. Open tasks live in their own table, clustered by assignee: closing a
-- task deletes one entry there. Before, it rewrote the task's row and its
-- entry in a partial index on assignee — two pages. Closed tasks stay in
-- the document's body; tasks keeps only which document a task belongs to,
-- written once when the task opens.
CREATE TABLE open_tasks (
    assignee TEXT    NOT NULL,
    id       INTEGER NOT NULL,
    doc_id   INTEGER NOT NULL,
    due_at   INTEGER,
    PRIMARY KEY (assignee, id)
) WITHOUT ROWID;
INSERT INTO open_tasks(assignee, id, doc_id, due_at)
    SELECT assignee, id, doc_id, due_at FROM tasks WHERE state = 'open';

CREATE TABLE task_docs (
    id     INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL
);
INSERT INTO task_docs(id, doc_id) SELECT id, doc_id FROM tasks;
DROP TABLE tasks;
ALTER TABLE task_docs RENAME TO tasks;
