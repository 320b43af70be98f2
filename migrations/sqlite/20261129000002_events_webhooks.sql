-- (SQLite dialect) Events (transactional outbox), webhooks and their deliveries.

CREATE TABLE webhooks (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL,
    name                    TEXT NOT NULL,
    url                     TEXT NOT NULL,
    description             TEXT,
    secret_ciphertext       BLOB NOT NULL,
    secret_wrapped_key      BLOB NOT NULL,
    secret_key_id           TEXT NOT NULL,
    prev_secret_ciphertext  BLOB,
    prev_secret_wrapped_key BLOB,
    prev_secret_key_id      TEXT,
    prev_secret_until       BIGINT,
    events                  TEXT NOT NULL,
    filter_path_prefix      TEXT,
    filter_secret_type      TEXT,
    filter_tags             TEXT NOT NULL,
    enabled                 BIGINT NOT NULL,
    status                  TEXT NOT NULL,
    disabled_reason         TEXT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    CONSTRAINT webhooks_tenant_name UNIQUE (tenant_id, name)
);

-- seq orders the feed; writers take a transaction-scoped lock before inserting events so
-- that seq order is commit order (a reader never sees seq N+1 before seq N).
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    ts          BIGINT NOT NULL,
    identity_id TEXT,
    path        TEXT,
    data        TEXT NOT NULL,
    request_id  TEXT
);
CREATE INDEX events_by_tenant ON events (tenant_id, seq);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    response_code   BIGINT,
    duration_ms     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, created_at DESC, id DESC);
