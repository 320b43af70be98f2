-- Vault KV v2 mounts (SPEC §12): a mount name maps to the path prefix `name/` of its tenant.
-- `secret` (the tenant's root) is built in and never stored.
CREATE TABLE vault_mounts (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
