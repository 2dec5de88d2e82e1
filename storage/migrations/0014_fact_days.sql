-- Analytics reads a year as one tally per past month and day (stats.Tally,
-- encoded) plus the facts of the edges, not a year of task rows (DB.Facts).
-- fact_marks counts the writes of facts per hour (Unix hour number) of the
-- instant they count at: a task's closing, a document's start. A day's
-- tally holds the sum of its hours' counts when it was made and is used
-- only while that sum still holds, so a late write (a document started
-- last week and approved today) makes its day's and its month's tallies be
-- made again. A day or a month is the company's: its bounds are instants,
-- so a tally of another zone's is never taken for this one (and lies
-- unused).
CREATE TABLE fact_days (
    from_ns INTEGER NOT NULL,
    to_ns   INTEGER NOT NULL,
    gen     INTEGER NOT NULL,
    tally   BLOB    NOT NULL,
    PRIMARY KEY (from_ns, to_ns)
);
CREATE TABLE fact_marks (
    hour_no INTEGER PRIMARY KEY,
    gen     INTEGER NOT NULL
);
-- Reminders and escalations a task needed, counted as they are sent.
ALTER TABLE task_facts ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_facts ADD COLUMN escalations INTEGER NOT NULL DEFAULT 0;
UPDATE task_facts SET
    reminders = (SELECT COUNT(*) FROM reminders r WHERE r.task_id = task_facts.id AND r.sent_at IS NOT NULL
        AND r.send IN ('chat', 'sms', 'email')),
    escalations = (SELECT COUNT(*) FROM reminders r WHERE r.task_id = task_facts.id AND r.sent_at IS NOT NULL
        AND r.send = 'escalate');
-- A manager's or a person's own figures read their rows only, from the
-- index alone: the rows decided by them, then the few they were stood in
-- for by someone else (DB.tally).
CREATE INDEX task_facts_actor ON task_facts(actor, closed_at, type, stage, holder, state, reason, late, work_min, reminders,
    escalations);
CREATE INDEX task_facts_holder ON task_facts(holder, closed_at, actor);
CREATE INDEX doc_facts_initiator ON doc_facts(initiator, started_at);
