-- The dispatcher fans notifications out in id order, so "not yet fanned
-- out" is everything past one mark. A partial index on a flag cost every
-- decision one more page in the WAL (and the dispatcher another update per
-- notification); the mark costs one counter row per fan-out.
INSERT INTO counters(name, value)
    SELECT 'fanned_out', COALESCE((SELECT MIN(id) - 1 FROM notifications WHERE fanned_out = 0), (SELECT MAX(id) FROM notifications), 0)
    WHERE true
    ON CONFLICT(name) DO NOTHING;
DROP INDEX notifications_pending;
ALTER TABLE notifications DROP COLUMN fanned_out;
