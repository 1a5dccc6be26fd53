-- 001_init: the migrations' bookkeeping smoke test. scripts/migrate itself creates
-- schema_migrations(version, name, applied_at) and records every file it applies;
-- the real tables come in the following files.
SELECT 1;
