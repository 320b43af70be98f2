-- Rotation: policies, one schedule row per attached secret (with one indexed "next event at"
-- so the scheduler touches only due work), and the rotation history.

CREATE TABLE rotation_policies (
    tenant_id            TEXT NOT NULL,
    id                   TEXT NOT NULL,
    name                 TEXT NOT NULL,
    description          TEXT,
    interval_text        TEXT NOT NULL,
    interval_seconds     BIGINT NOT NULL,
    grace_text           TEXT NOT NULL,
    grace_seconds        BIGINT NOT NULL,
    warn_before          TEXT NOT NULL,
    auto_generate        BIGINT NOT NULL,
    webhook_ids          TEXT NOT NULL,
    is_active            BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE rotation_schedule (
    secret_id        TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    policy_id        TEXT NOT NULL,
    assigned_at      BIGINT NOT NULL,
    last_rotated_at  BIGINT NOT NULL,
    next_rotation_at BIGINT NOT NULL,
    -- scheduled | pending | overdue
    status           TEXT NOT NULL,
    history_id       TEXT,
    due_at           BIGINT,
    -- JSON list of warn_before seconds already sent (or skipped) this cycle
    warnings_sent    TEXT NOT NULL,
    next_event_at    BIGINT
);
CREATE INDEX rotation_schedule_next ON rotation_schedule (next_event_at) WHERE next_event_at IS NOT NULL;
CREATE INDEX rotation_schedule_by_policy ON rotation_schedule (tenant_id, policy_id);

CREATE TABLE rotation_history (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    policy_id    TEXT NOT NULL,
    secret_id    TEXT NOT NULL,
    secret_path  TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    status       TEXT NOT NULL,
    old_version  BIGINT,
    new_version  BIGINT,
    started_at   BIGINT NOT NULL,
    completed_at BIGINT,
    error        TEXT,
    due_event_id TEXT
);
CREATE INDEX rotation_history_by_policy ON rotation_history (tenant_id, policy_id, id DESC);
CREATE INDEX rotation_history_by_event ON rotation_history (due_event_id);
