-- The facts analytics reads (package stats): one row per task and one per
-- document, written in the transaction of the change from the document
-- the engine saved, so the figures agree with the sheets. Times are Unix
-- nanoseconds, as everywhere; work_min, approved_min and done_min are
-- working minutes of the company calendar, measured when written, so that
-- a year of figures is aggregated in SQL (DB.Facts). Rows of documents
-- made before this migration are written by DB.BackfillFacts.
CREATE TABLE task_facts (
    id        BIGINT  PRIMARY KEY,
    doc_id    BIGINT  NOT NULL,
    type      TEXT    NOT NULL,
    stage     BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    holder    TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    round     BIGINT  NOT NULL,
    opened_at BIGINT  NOT NULL,
    due_at    BIGINT,
    closed_at BIGINT,
    state     TEXT    NOT NULL,
    reason    TEXT    NOT NULL DEFAULT '',
    work_min  BIGINT,
    late      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX task_facts_closed ON task_facts(closed_at);
CREATE INDEX task_facts_open ON task_facts(opened_at) WHERE state = 'open';
CREATE TABLE doc_facts (
    doc_id      BIGINT  PRIMARY KEY,
    type        TEXT    NOT NULL,
    initiator   TEXT    NOT NULL,
    started_at  BIGINT  NOT NULL,
    approved_at BIGINT,
    done_at     BIGINT,
    rounds      BIGINT  NOT NULL,
    rejected    BIGINT  NOT NULL,
    state       TEXT    NOT NULL,
    approved_min BIGINT,
    done_min    BIGINT
);
CREATE INDEX doc_facts_started ON doc_facts(started_at);
