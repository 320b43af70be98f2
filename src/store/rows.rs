//! Row types as stored. Timestamps are microseconds since the epoch. Closed sets of text are
//! enums (`stored_enums`) and 0/1 flags are `bool` (`stored_flag`), checked when a row is read.

use super::stored_enums::{
    DeliveryStatus, IdentityType, RotationStatus, RotationTrigger, ScheduleStatus, TokenKind,
    WebhookHealth,
};
use super::stored_flag::StoredFlag;
use crate::domain::secret::SecretType;
use sqlx::FromRow;

/// An API token (only its hash is stored).
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub token_hash: String,
    pub identity_id: String,
    pub identity_type: IdentityType,
    /// JSON array of scope names.
    pub scopes: String,
    /// JSON array of path prefixes.
    pub path_prefixes: String,
    pub kind: TokenKind,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A superseded version whose grace period ended (`rotation.grace_ended` not yet sent).
#[derive(Debug, Clone, FromRow)]
pub struct GraceEnded {
    pub secret_id: String,
    pub version: i64,
    pub readable_until: i64,
}

/// How one version of a secret has been read, from the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionReads {
    pub version: i64,
    pub last_read_at: Option<i64>,
    /// Distinct identities that read it in the recent window asked for.
    pub readers_recent: i64,
}

/// Who read one version in a time window, from the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionReaders {
    /// Identity ids, sorted.
    pub readers: Vec<String>,
    pub reads: i64,
    pub last_read_at: Option<i64>,
}

/// A Vault KV v2 mount of a tenant: `name` serves the paths under `name/` (SPEC §12).
#[derive(Debug, Clone, FromRow)]
pub struct MountRow {
    pub tenant_id: String,
    pub name: String,
    pub created_at: i64,
    pub created_by: String,
}

/// A secret's header row: metadata and the pointer to its current version.
#[derive(Debug, Clone, FromRow)]
pub struct SecretRow {
    pub id: String,
    pub tenant_id: String,
    pub path: String,
    pub secret_type: SecretType,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// JSON array.
    pub tags: String,
    /// JSON object.
    pub custom: String,
    pub max_versions: i64,
    pub current_version: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub notify_before: Option<String>,
    pub rotation_policy_id: Option<String>,
    pub deleted_at: Option<i64>,
    pub recoverable_until: Option<i64>,
    /// Every successful read emits `secret.accessed` (SPEC §11).
    #[sqlx(try_from = "StoredFlag")]
    pub alert_on_read: bool,
}

/// One encrypted version of a secret.
#[derive(Clone, FromRow)]
pub struct VersionRow {
    pub secret_id: String,
    pub version: i64,
    pub ciphertext: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
    pub created_at: i64,
    pub created_by: String,
    #[sqlx(try_from = "StoredFlag")]
    pub is_rotation: bool,
    pub readable_until: Option<i64>,
    /// The associated-data format it was sealed with (`crypto::binding`).
    pub aad_version: i64,
}

impl std::fmt::Debug for VersionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionRow")
            .field("secret_id", &self.secret_id)
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .field("aad_version", &self.aad_version)
            .finish_non_exhaustive()
    }
}

/// A version without its ciphertext, for listings.
#[derive(Debug, Clone, FromRow)]
pub struct VersionInfo {
    pub version: i64,
    pub created_at: i64,
    pub created_by: String,
    #[sqlx(try_from = "StoredFlag")]
    pub is_rotation: bool,
    pub readable_until: Option<i64>,
}

/// One audit record (SPEC §7 row shape); never holds a secret value or a token.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub tenant_id: String,
    pub ts: i64,
    pub action: String,
    pub identity_type: IdentityType,
    pub identity_id: String,
    pub secret_path: Option<String>,
    pub version: Option<i64>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[sqlx(try_from = "StoredFlag")]
    pub success: bool,
    pub status_code: i64,
    pub duration_ms: i64,
    pub request_id: Option<String>,
    /// JSON object.
    pub extra_data: String,
    /// Position in the hash chain (None until the sealer reaches it).
    #[sqlx(default)]
    pub seq: Option<i64>,
    /// Hex SHA-256 chaining this row to the previous one.
    #[sqlx(default)]
    pub hash: Option<String>,
}

/// A webhook endpoint; its signing secret is sealed like a secret value.
#[derive(Clone, FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub url: String,
    pub description: Option<String>,
    pub secret_ciphertext: Vec<u8>,
    pub secret_wrapped_key: Vec<u8>,
    pub secret_key_id: String,
    pub prev_secret_ciphertext: Option<Vec<u8>>,
    pub prev_secret_wrapped_key: Option<Vec<u8>>,
    pub prev_secret_key_id: Option<String>,
    pub prev_secret_until: Option<i64>,
    /// JSON array of event types (or `*`).
    pub events: String,
    pub filter_path_prefix: Option<String>,
    pub filter_secret_type: Option<String>,
    /// JSON array.
    pub filter_tags: String,
    #[sqlx(try_from = "StoredFlag")]
    pub enabled: bool,
    /// Delivery health (a disabled webhook reports `disabled`).
    pub status: WebhookHealth,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The subscription this webhook delivers for (SPEC §10); such webhooks are not listed,
    /// read or routed as webhooks of their own.
    pub subscription_id: Option<String>,
}

impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// One event in the outbox / feed.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub event_type: String,
    pub ts: i64,
    pub identity_id: Option<String>,
    pub path: Option<String>,
    /// JSON object.
    pub data: String,
    pub request_id: Option<String>,
}

/// One (event, webhook) delivery and its attempt state.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub tenant_id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    pub response_code: Option<i64>,
    pub duration_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Aggregates of a webhook's recent deliveries.
#[derive(Debug, Clone, Default)]
pub struct WebhookStats {
    pub deliveries: i64,
    pub successes: i64,
    pub avg_latency_ms: Option<f64>,
}

/// Due scheduler work at a moment, for the queue gauges of `/v1/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerBacklog {
    /// Live secrets whose rotation is pending or overdue, or whose rotation time has passed.
    pub rotations_due: i64,
    /// The earliest `next_event_at` (rotation or expiry schedule) at or before now.
    pub oldest_due_event_at: Option<i64>,
}

/// A rotation policy (`id` is `rot_<name>`).
#[derive(Debug, Clone, FromRow)]
pub struct PolicyRow {
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub interval_text: String,
    pub interval_seconds: i64,
    pub grace_text: String,
    pub grace_seconds: i64,
    /// Canonical comma-separated string, e.g. `7d,1d`.
    pub warn_before: String,
    #[sqlx(try_from = "StoredFlag")]
    pub auto_generate: bool,
    /// JSON array of webhook ids.
    pub webhook_ids: String,
    #[sqlx(try_from = "StoredFlag")]
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The secret policy whose recipe `auto_generate` writes (SPEC §9); none: every string
    /// of the current value is replaced.
    pub secret_policy_id: Option<String>,
}

/// A secret policy (SPEC §9): a recipe of generated fields (`id` is `sp_` + random).
#[derive(Debug, Clone, FromRow)]
pub struct SecretPolicyRow {
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `password`, `api_key`, `oauth_client`, `ssh_key` or `custom` (a hint only).
    pub policy_type: String,
    /// The recipe: a JSON list of `{"name","generator","config"}` (no generated value).
    pub fields: String,
    #[sqlx(try_from = "StoredFlag")]
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The rotation schedule of one attached secret.
#[derive(Debug, Clone, FromRow)]
pub struct ScheduleRow {
    pub secret_id: String,
    pub tenant_id: String,
    pub policy_id: String,
    pub assigned_at: i64,
    pub last_rotated_at: i64,
    pub next_rotation_at: i64,
    pub status: ScheduleStatus,
    pub history_id: Option<String>,
    pub due_at: Option<i64>,
    /// JSON list of warn_before offsets (seconds) already sent or skipped this cycle.
    pub warnings_sent: String,
    pub next_event_at: Option<i64>,
}

/// One rotation (RotationHistoryItem).
#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    pub id: String,
    pub tenant_id: String,
    pub policy_id: String,
    pub secret_id: String,
    pub secret_path: String,
    pub trigger: RotationTrigger,
    pub status: RotationStatus,
    pub old_version: Option<i64>,
    pub new_version: Option<i64>,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    pub error: Option<String>,
    pub due_event_id: Option<String>,
}

/// Expiry notices of one secret with an `expires_at`.
#[derive(Debug, Clone, FromRow)]
pub struct ExpiryRow {
    pub secret_id: String,
    pub tenant_id: String,
    pub expires_at: i64,
    pub notify_before: String,
    /// JSON list of offsets (seconds) already sent or skipped.
    pub notices_sent: String,
    #[sqlx(try_from = "StoredFlag")]
    pub expired_sent: bool,
    pub next_event_at: Option<i64>,
}

/// A master key version: a random key wrapped by the operator's root master key.
#[derive(Clone, FromRow)]
pub struct MasterKeyVersionRow {
    pub version: i64,
    pub key_id: String,
    pub wrapped_key: Vec<u8>,
    pub root_key_id: String,
    pub created_at: i64,
}

impl std::fmt::Debug for MasterKeyVersionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeyVersionRow")
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .field("root_key_id", &self.root_key_id)
            .finish_non_exhaustive()
    }
}

/// A secret version's wrapped data key with what binds it to its row (for re-wrapping).
#[derive(Clone, FromRow)]
pub struct WrappedVersionRow {
    pub secret_id: String,
    pub version: i64,
    pub tenant_id: String,
    pub path: String,
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
    pub aad_version: i64,
}

/// A webhook's wrapped signing-secret keys (current and, during an overlap, previous).
#[derive(Clone, FromRow)]
pub struct WrappedWebhookRow {
    pub id: String,
    pub tenant_id: String,
    pub secret_wrapped_key: Vec<u8>,
    pub secret_key_id: String,
    pub prev_secret_wrapped_key: Option<Vec<u8>>,
    pub prev_secret_key_id: Option<String>,
}

/// Which of a webhook's two sealed signing secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSecretSlot {
    Current,
    Previous,
}

/// One re-wrap of a secret version: its data key (`key`), and when the value was re-sealed
/// under another binding, the new ciphertext and binding format. Applied only while the row
/// still holds `key.old_wrapped` and `old_aad_version`.
#[derive(Debug, Clone, Copy)]
pub struct VersionSwap<'a> {
    pub key: KeySwap<'a>,
    pub old_aad_version: i64,
    pub new_aad_version: i64,
    /// None: the ciphertext stays (only the data key was re-wrapped).
    pub new_ciphertext: Option<&'a [u8]>,
}

/// One re-wrap: the data key as it is stored now and its replacement under the active key.
#[derive(Debug, Clone, Copy)]
pub struct KeySwap<'a> {
    pub old_wrapped: &'a [u8],
    pub old_key_id: &'a str,
    pub new_wrapped: &'a [u8],
    pub new_key_id: &'a str,
}

/// A subscription (SPEC §10), with the state of the token that owns it (from a join: the
/// owner's path rules and validity decide routing at delivery time).
#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub identity_id: String,
    pub token_id: String,
    /// JSON array of path globs.
    pub paths: String,
    /// JSON array of event types (or `*`).
    pub events: String,
    /// `polling` or `webhook`.
    pub delivery_type: String,
    pub buffer_size: i64,
    /// The subscription's own (hidden) webhook, for `webhook` delivery.
    pub webhook_id: Option<String>,
    /// `active` or `paused`.
    pub status: String,
    pub dropped_events: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The owner token's JSON path rules; None when that token no longer exists.
    pub owner_rules: Option<String>,
    pub owner_revoked_at: Option<i64>,
    pub owner_expires_at: Option<i64>,
}
