-- The dashboard's date filter: documents started within a range. A
-- document's start never changes, so the entry is written once.
CREATE INDEX documents_created ON documents(created_at);
