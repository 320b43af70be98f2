-- PostgreSQL's migration of this number adds the audit writer's one-round-trip batch
-- function. SQLite's audit appender writes on its own connection in this process (no round
-- trips to save), so there is nothing to add here; the file keeps both dialects' migration
-- numbers the same.
SELECT 1;
