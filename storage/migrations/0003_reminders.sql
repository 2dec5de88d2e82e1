-- The reminder ladder: one row per step per task. Unsent rows are the
-- schedule; the partial index keeps "what is due" cheap however many tasks
-- are open.
CREATE TABLE reminders (
    id        INTEGER PRIMARY KEY,
    task_id   INTEGER NOT NULL,
    doc_id    INTEGER NOT NULL,
    step      INTEGER NOT NULL,
    send      TEXT    NOT NULL,
    due_at    INTEGER NOT NULL,
    every_min INTEGER NOT NULL DEFAULT 0,
    every_day INTEGER NOT NULL DEFAULT 0,
    sent_at   INTEGER,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reminders_due ON reminders(due_at) WHERE sent_at IS NULL AND cancelled = 0;
CREATE INDEX reminders_task ON reminders(task_id);
