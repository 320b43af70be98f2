-- Secret policies (SPEC §9): recipes of generated values, and the rotation policy's optional
-- recipe for `auto_generate`. The new column is nullable, so a server of the previous version
-- sharing this schema keeps working (it neither reads nor writes it).
CREATE TABLE secret_policies (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    policy_type TEXT NOT NULL,
    -- JSON list of {"name","generator","config"}: the recipe, never a generated value.
    fields      TEXT NOT NULL,
    is_active   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX secret_policies_name ON secret_policies (tenant_id, name);

ALTER TABLE rotation_policies ADD COLUMN secret_policy_id TEXT;
CREATE INDEX rotation_policies_secret_policy ON rotation_policies (tenant_id, secret_policy_id);
