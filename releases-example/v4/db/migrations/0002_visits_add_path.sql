-- Expand: a nullable column, and an index built without locking writes.
ALTER TABLE visits ADD COLUMN path text;
CREATE INDEX CONCURRENTLY visits_path ON visits (path);
