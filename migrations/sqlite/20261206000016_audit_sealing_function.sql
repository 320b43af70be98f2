-- PostgreSQL's migration of this number replaces the audit writer's batch function with one
-- that seals the rows itself. SQLite's audit appender seals and writes on its own connection
-- in this process, so there is nothing to change here; the file keeps both dialects'
-- migration numbers the same.
SELECT 1;
