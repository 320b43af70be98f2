-- (SQLite dialect) Expiry notices: one row per secret with expires_at, with its own indexed next-event time.
CREATE TABLE expiry_schedule (
    secret_id      TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    notify_before  TEXT NOT NULL,
    -- JSON list of notify_before offsets (seconds) already sent or skipped
    notices_sent   TEXT NOT NULL,
    expired_sent   BIGINT NOT NULL,
    next_event_at  BIGINT
);
CREATE INDEX expiry_schedule_next ON expiry_schedule (next_event_at) WHERE next_event_at IS NOT NULL;
