-- Expand: a new table. Old code does not know it exists; a rollback leaves it unused.
CREATE TABLE visits (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visits_at ON visits (at);
