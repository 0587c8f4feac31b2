-- Contract: v2 and v3 read `at`. Once this runs, rolling back to them breaks (shipit refuses it
-- unless --force). Deploying it needs --allow-contract.
ALTER TABLE visits DROP COLUMN at;
