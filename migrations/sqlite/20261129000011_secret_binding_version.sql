-- (SQLite dialect) Which associated data each secret version was sealed with: 1 binds
-- (tenant, path, version), 2 also binds the secret's id, so a version copied into a secret
-- re-created at the same path no longer opens. Rows written before this migration (and by
-- binaries that predate it) are 1; `scaivault keys rewrap` re-seals them as 2.
ALTER TABLE secret_versions ADD COLUMN aad_version BIGINT NOT NULL DEFAULT 1;
