-- Tamper evidence: the sealer gives each committed audit row a sequence number and
-- hash = SHA-256(prev_hash ‖ canonical row). seq is not unique on purpose: a duplicated
-- seq is something verify must be able to see and report, not something the schema hides.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE INDEX audit_log_by_seq ON audit_log (seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_log_unsealed ON audit_log (ts, id) WHERE seq IS NULL;
CREATE INDEX audit_log_by_identity ON audit_log (tenant_id, identity_id, ts DESC);
