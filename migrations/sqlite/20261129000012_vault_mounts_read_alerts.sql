-- One change: Vault mounts, read alerts, and grace-period ends.
-- Vault KV v2 mounts (SPEC §12): a mount name maps to the path prefix `name/` of its tenant.
-- `secret` (the tenant's root) is built in and never stored.
CREATE TABLE vault_mounts (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Read alerts (SPEC §11): every successful read of a flagged secret emits `secret.accessed`.
ALTER TABLE secrets ADD COLUMN alert_on_read BIGINT NOT NULL DEFAULT 0;

-- rotation.grace_ended (SPEC §11): sent once per superseded version when its grace period
-- ends. Versions whose grace ended before this migration are not reported afterwards.
ALTER TABLE secret_versions ADD COLUMN grace_reported BIGINT NOT NULL DEFAULT 0;
UPDATE secret_versions SET grace_reported = 1
    WHERE readable_until IS NOT NULL AND readable_until <= CAST(strftime('%s','now') AS INTEGER) * 1000000;
CREATE INDEX secret_versions_grace_due ON secret_versions (readable_until)
    WHERE readable_until IS NOT NULL AND grace_reported = 0;
