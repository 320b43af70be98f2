-- Subscriptions (SPEC §10): glob-scoped event streams owned by the token that created them.
-- A polling subscription's unacknowledged events wait in `subscription_events` (written in the
-- transaction of the change that caused them, like deliveries); a webhook subscription sends
-- through a webhook row of its own (`webhooks.subscription_id`), hidden from /v1/webhooks.
-- Everything here is new or nullable, so a server of the previous version sharing this schema
-- keeps working (it neither routes to nor lists subscriptions).
CREATE TABLE subscriptions (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    name           TEXT NOT NULL,
    identity_id    TEXT NOT NULL,
    -- The creating token: its path rules and validity decide what is routed, at delivery time.
    token_id       TEXT NOT NULL,
    -- JSON lists: path globs, event types (or "*").
    paths          TEXT NOT NULL,
    events         TEXT NOT NULL,
    delivery_type  TEXT NOT NULL,
    buffer_size    BIGINT NOT NULL,
    webhook_id     TEXT,
    status         TEXT NOT NULL,
    dropped_events BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_name ON subscriptions (tenant_id, token_id, name);
CREATE INDEX subscriptions_routable ON subscriptions (tenant_id) WHERE status = 'active';

-- One row per (subscription, event) not yet acknowledged; seq is routing order = event order.
CREATE TABLE subscription_events (
    seq             BIGSERIAL PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL
);
CREATE UNIQUE INDEX subscription_events_queue ON subscription_events (subscription_id, seq);
CREATE INDEX subscription_events_by_event ON subscription_events (subscription_id, event_id);

ALTER TABLE webhooks ADD COLUMN subscription_id TEXT;

-- Long-polls on every replica wake within milliseconds of another replica's event
-- (`store::event_listener`); one notification per statement, folded per transaction.
CREATE FUNCTION scaivault_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scaivault_events', '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION scaivault_notify_events();
