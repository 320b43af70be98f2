-- Two additions of one change: Vault mounts and read alerts.
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
