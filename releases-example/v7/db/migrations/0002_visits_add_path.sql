-- Expand: a nullable column. Old code never reads it.
ALTER TABLE visits ADD COLUMN path text;
