-- Foundation schema: tokens, secrets with encrypted versions, audit rows, server metadata.
-- Timestamps are microseconds since the Unix epoch (BIGINT) so both stores share query text;
-- flags are 0/1 BIGINTs for the same reason. Paths use byte order ("C") so prefix ranges work.

CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    identity_id   TEXT NOT NULL,
    identity_type TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    path_prefixes TEXT NOT NULL,
    kind          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX tokens_by_tenant ON tokens (tenant_id, id);

CREATE TABLE secrets (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    path               TEXT COLLATE "C" NOT NULL,
    secret_type        TEXT NOT NULL,
    description        TEXT,
    owner              TEXT,
    tags               TEXT NOT NULL,
    custom             TEXT NOT NULL,
    max_versions       BIGINT NOT NULL,
    current_version    BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    created_by         TEXT NOT NULL,
    updated_at         BIGINT NOT NULL,
    expires_at         BIGINT,
    notify_before      TEXT,
    rotation_policy_id TEXT,
    deleted_at         BIGINT,
    recoverable_until  BIGINT,
    CONSTRAINT secrets_tenant_path UNIQUE (tenant_id, path)
);

CREATE TABLE secret_tags (
    secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (secret_id, tag)
);
CREATE INDEX secret_tags_by_tag ON secret_tags (tag, secret_id);

CREATE TABLE secret_versions (
    secret_id      TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version        BIGINT NOT NULL,
    ciphertext     BYTEA NOT NULL,
    wrapped_key    BYTEA NOT NULL,
    key_id         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    created_by     TEXT NOT NULL,
    is_rotation    BIGINT NOT NULL DEFAULT 0,
    readable_until BIGINT,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    ts            BIGINT NOT NULL,
    action        TEXT NOT NULL,
    identity_type TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    secret_path   TEXT COLLATE "C",
    version       BIGINT,
    source_ip     TEXT,
    user_agent    TEXT,
    success       BIGINT NOT NULL,
    status_code   BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    request_id    TEXT,
    extra_data    TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (tenant_id, ts DESC, id DESC);
CREATE INDEX audit_log_by_path ON audit_log (tenant_id, secret_path, ts DESC);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
