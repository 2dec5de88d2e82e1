-- Which replica is sending a delivery (PostgreSQL, see Due). SQLite has
-- one process and never claims; the column keeps the two schemas, and the
-- statements that clear it, the same.
ALTER TABLE deliveries ADD COLUMN claimed_by INTEGER NOT NULL DEFAULT 0;
