-- Documents in the order they were last written: what changed since a
-- moment (the Bitrix24 register mirror, an integration's updated_since)
-- is read by this index instead of a scan of every document.
CREATE INDEX documents_updated ON documents(updated_at, id);
