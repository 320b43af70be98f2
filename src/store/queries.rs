//! SQL text shared by both backends (`$n` placeholders work in PostgreSQL and SQLite alike).

macro_rules! token_cols {
    () => {
        "id, tenant_id, name, token_hash, identity_id, identity_type, scopes, path_prefixes, kind, \
         created_at, created_by, expires_at, revoked_at"
    };
}

macro_rules! secret_cols {
    () => {
        "id, tenant_id, path, secret_type, description, owner, tags, custom, max_versions, \
         current_version, created_at, created_by, updated_at, expires_at, notify_before, \
         rotation_policy_id, deleted_at, recoverable_until"
    };
}

macro_rules! audit_cols {
    () => {
        "id, tenant_id, ts, action, identity_type, identity_id, secret_path, version, source_ip, \
         user_agent, success, status_code, duration_ms, request_id, extra_data"
    };
}

pub(crate) use secret_cols;

pub const GET_META: &str = "SELECT value FROM meta WHERE key = $1";
pub const PUT_META_IF_ABSENT: &str =
    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

pub const INSERT_TOKEN: &str = concat!(
    "INSERT INTO tokens (",
    token_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);
pub const FIND_TOKEN_BY_HASH: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM tokens WHERE token_hash = $1"
);
pub const GET_TOKEN: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM tokens WHERE tenant_id = $1 AND id = $2"
);
pub const LIST_TOKENS: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM tokens WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub const COUNT_TOKENS: &str = "SELECT COUNT(*) FROM tokens";
pub const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked_at = $3 \
     WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL";
pub const REVOKE_TOKENS_OF_KIND: &str = concat!(
    "UPDATE tokens SET revoked_at = $2 \
     WHERE kind = $1 AND revoked_at IS NULL AND token_hash <> $3 RETURNING ",
    token_cols!()
);
pub const DELETE_TOKEN_BY_HASH: &str = "DELETE FROM tokens WHERE token_hash = $1";

pub const GET_LIVE_SECRET: &str = concat!(
    "SELECT ",
    secret_cols!(),
    " FROM secrets WHERE tenant_id = $1 AND path = $2 AND deleted_at IS NULL"
);
pub const SELECT_SECRET_ANY_STATE: &str = concat!(
    "SELECT ",
    secret_cols!(),
    " FROM secrets WHERE tenant_id = $1 AND path = $2"
);
pub const INSERT_SECRET: &str = concat!(
    "INSERT INTO secrets (",
    secret_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
);
pub const UPDATE_SECRET: &str = "UPDATE secrets SET secret_type = $2, description = $3, \
     owner = $4, tags = $5, custom = $6, max_versions = $7, current_version = $8, \
     updated_at = $9, expires_at = $10, notify_before = $11, rotation_policy_id = $12, \
     deleted_at = $13, recoverable_until = $14 WHERE id = $1";
pub const DELETE_TAGS: &str = "DELETE FROM secret_tags WHERE secret_id = $1";
pub const INSERT_TAG: &str =
    "INSERT INTO secret_tags (secret_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub const DELETE_SECRET: &str = "DELETE FROM secrets WHERE id = $1";
pub const DELETE_VERSIONS: &str = "DELETE FROM secret_versions WHERE secret_id = $1";

pub const INSERT_VERSION: &str = "INSERT INTO secret_versions (secret_id, version, ciphertext, \
     wrapped_key, key_id, created_at, created_by, is_rotation, readable_until) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub const GET_VERSION: &str = "SELECT secret_id, version, ciphertext, wrapped_key, key_id, \
     created_at, created_by, is_rotation, readable_until FROM secret_versions \
     WHERE secret_id = $1 AND version = $2";
pub const GET_SECRET_WITH_CURRENT: &str = concat!(
    "SELECT s.",
    "id, s.tenant_id, s.path, s.secret_type, s.description, s.owner, s.tags, s.custom, \
     s.max_versions, s.current_version, s.created_at, s.created_by, s.updated_at, s.expires_at, \
     s.notify_before, s.rotation_policy_id, s.deleted_at, s.recoverable_until, \
     v.ciphertext AS v_ciphertext, v.wrapped_key AS v_wrapped_key, v.key_id AS v_key_id, \
     v.created_at AS v_created_at, v.created_by AS v_created_by, v.is_rotation AS v_is_rotation, \
     v.readable_until AS v_readable_until \
     FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
     WHERE s.tenant_id = $1 AND s.path = $2 AND s.deleted_at IS NULL"
);
pub const LIST_VERSIONS: &str = "SELECT version, created_at, created_by, is_rotation, \
     readable_until FROM secret_versions WHERE secret_id = $1 ORDER BY version DESC";
pub const COUNT_VERSIONS: &str = "SELECT COUNT(*) FROM secret_versions WHERE secret_id = $1";
pub const PRUNE_VERSIONS: &str = "DELETE FROM secret_versions WHERE secret_id = $1 \
     AND version <= $2 AND (readable_until IS NULL OR readable_until <= $3)";

pub const INSERT_AUDIT: &str = concat!(
    "INSERT INTO audit_log (",
    audit_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);
/// Every audit column including the chain fields, for reads.
pub const AUDIT_SELECT_COLS: &str = concat!(audit_cols!(), ", seq, hash");
/// Followed by ` VALUES (…), …` or by a `SELECT` of such values.
pub const AUDIT_INSERT_HEAD: &str = concat!("INSERT INTO audit_log (", audit_cols!(), ")");
pub const AUDIT_INSERT_SEALED_HEAD: &str =
    concat!("INSERT INTO audit_log (", audit_cols!(), ", seq, hash)");
pub const AUDIT_COL_COUNT: usize = 15;
/// Followed by `(…)` placeholders: which of those ids are tokens that are not revoked.
pub const VALID_TOKEN_IDS_IN: &str = "SELECT id FROM tokens WHERE revoked_at IS NULL AND id IN ";
pub const AUDIT_CHAIN_HEAD: &str =
    "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1";
pub const AUDIT_UNSEALED: &str = concat!(
    "SELECT ",
    audit_cols!(),
    ", seq, hash FROM audit_log WHERE seq IS NULL ORDER BY ts, id LIMIT $1"
);
/// Follows `WITH v(id, seq, hash) AS (VALUES …)`: seals each listed row still unsealed.
pub const AUDIT_SEAL_ROWS: &str = "UPDATE audit_log SET seq = v.seq, hash = v.hash FROM v \
     WHERE audit_log.id = v.id AND audit_log.seq IS NULL";
pub const AUDIT_CHAIN_PAGE: &str = concat!(
    "SELECT ",
    audit_cols!(),
    ", seq, hash FROM audit_log WHERE seq IS NOT NULL AND seq >= $1 ORDER BY seq, id LIMIT $2"
);
pub const AUDIT_COUNT_UNSEALED: &str = "SELECT COUNT(*) FROM audit_log WHERE seq IS NULL";
/// The last row of the chain's longest prefix older than `$1`: retention deletes up to it, so
/// it never deletes a row younger than the cutoff even where seq order and time order differ (a
/// row sealed by the sealer can follow younger rows sealed as they were written).
pub const AUDIT_LAST_BEFORE: &str = "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL \
     AND seq < COALESCE((SELECT MIN(seq) FROM audit_log WHERE seq IS NOT NULL AND ts >= $1), \
     9223372036854775807) ORDER BY seq DESC LIMIT 1";
pub const AUDIT_DELETE_UPTO_SEQ: &str = "DELETE FROM audit_log WHERE seq IS NOT NULL AND seq <= $1";
pub const PUT_META: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

macro_rules! webhook_cols {
    () => {
        "id, tenant_id, name, url, description, secret_ciphertext, secret_wrapped_key, \
         secret_key_id, prev_secret_ciphertext, prev_secret_wrapped_key, prev_secret_key_id, \
         prev_secret_until, events, filter_path_prefix, filter_secret_type, filter_tags, enabled, \
         status, disabled_reason, created_at, updated_at"
    };
}

macro_rules! delivery_cols {
    () => {
        "id, tenant_id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, \
         lease_until, response_code, duration_ms, last_error, created_at, updated_at"
    };
}

pub(crate) use delivery_cols;
pub(crate) use webhook_cols;

pub const INSERT_WEBHOOK: &str = concat!(
    "INSERT INTO webhooks (",
    webhook_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
);
pub const UPDATE_WEBHOOK: &str = "UPDATE webhooks SET name = $2, url = $3, description = $4, \
     secret_ciphertext = $5, secret_wrapped_key = $6, secret_key_id = $7, \
     prev_secret_ciphertext = $8, prev_secret_wrapped_key = $9, prev_secret_key_id = $10, \
     prev_secret_until = $11, events = $12, filter_path_prefix = $13, filter_secret_type = $14, \
     filter_tags = $15, enabled = $16, status = $17, disabled_reason = $18, updated_at = $19 \
     WHERE id = $1";
pub const GET_WEBHOOK: &str = concat!(
    "SELECT ",
    webhook_cols!(),
    " FROM webhooks WHERE tenant_id = $1 AND id = $2"
);
pub const LIST_WEBHOOKS: &str = concat!(
    "SELECT ",
    webhook_cols!(),
    " FROM webhooks WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub const ROUTABLE_WEBHOOKS: &str = concat!(
    "SELECT ",
    webhook_cols!(),
    " FROM webhooks WHERE tenant_id = $1 AND enabled = 1"
);
pub const DELETE_WEBHOOK: &str = "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2";
pub const SET_WEBHOOK_HEALTH: &str =
    "UPDATE webhooks SET status = $2 WHERE id = $1 AND status <> $2";
pub const DISABLE_WEBHOOK: &str =
    "UPDATE webhooks SET enabled = 0, disabled_reason = $2, updated_at = $3 WHERE id = $1";
pub const CANCEL_PENDING_DELIVERIES: &str = "UPDATE deliveries SET status = 'cancelled', \
     updated_at = $2, lease_until = NULL WHERE webhook_id = $1 AND status = 'pending'";

pub const INSERT_EVENT: &str = "INSERT INTO events (id, tenant_id, event_type, ts, identity_id, \
     path, data, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const GET_EVENT: &str = "SELECT seq, id, tenant_id, event_type, ts, identity_id, path, data, \
     request_id FROM events WHERE id = $1";

pub const INSERT_DELIVERY: &str = concat!(
    "INSERT INTO deliveries (",
    delivery_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
pub const GET_DELIVERY: &str = concat!(
    "SELECT ",
    delivery_cols!(),
    " FROM deliveries WHERE tenant_id = $1 AND id = $2"
);
pub const FINISH_ATTEMPT: &str = "UPDATE deliveries SET status = $2, attempts = $3, \
     next_attempt_at = $4, lease_until = NULL, response_code = $5, duration_ms = $6, \
     last_error = $7, updated_at = $8 WHERE id = $1 AND status = 'pending'";
pub const WEBHOOK_STATS: &str = "SELECT COUNT(*) AS n, \
     COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0) AS ok, \
     CAST(AVG(duration_ms) AS DOUBLE PRECISION) AS avg_ms FROM deliveries \
     WHERE webhook_id = $1 AND updated_at >= $2 AND status IN ('success', 'failed')";
pub const LAST_DELIVERY: &str = concat!(
    "SELECT ",
    delivery_cols!(),
    " FROM deliveries WHERE webhook_id = $1 AND attempts > 0 ORDER BY updated_at DESC, id DESC LIMIT 1"
);
pub const PENDING_DELIVERY_STATS: &str = "SELECT COUNT(*), MIN(created_at) FROM deliveries \
     WHERE status = 'pending'";
/// Rotations due at $1 (the same rule as `GET /v1/rotation/due` with `within_hours=0`).
/// Both arms use a partial index; the per-row scalar lookup of the live secret (primary key)
/// skips soft-deleted and destroyed ones without the planner turning it into a scan of secrets.
pub const ROTATIONS_DUE_COUNT: &str = "SELECT COUNT(*) FROM rotation_schedule r \
     WHERE ((r.status = 'scheduled' AND r.next_rotation_at <= $1) OR r.status <> 'scheduled') \
     AND (SELECT COUNT(*) FROM secrets s WHERE s.id = r.secret_id AND s.deleted_at IS NULL) = 1";
/// The oldest scheduler event due at $1 (both `next_event_at` columns are indexed).
pub const OLDEST_DUE_SCHEDULER_EVENT: &str = "SELECT MIN(t) FROM (\
     SELECT MIN(next_event_at) AS t FROM rotation_schedule WHERE next_event_at <= $1 \
     UNION ALL SELECT MIN(next_event_at) AS t FROM expiry_schedule WHERE next_event_at <= $1) due";
