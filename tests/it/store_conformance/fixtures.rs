//! Rows for the conformance tests, with every field set to something a test can check.

use scaivault::domain::secret::SecretType;
use scaivault::store::{
    AuditRow, DeliveryRow, DeliveryStatus, EventRow, ExpiryRow, HistoryRow, IdentityType,
    PolicyRow, RotationStatus, RotationTrigger, ScheduleRow, ScheduleStatus, SecretRow, Store,
    TokenKind, TokenRow, VersionRow, WebhookHealth, WebhookRow,
};

/// The tenant most rows belong to.
pub const TENANT: &str = "tnt_default";
/// "Now" of the tests, in microseconds.
pub const NOW: i64 = 1_767_268_800_000_000;
/// One hour in microseconds.
pub const HOUR: i64 = 3_600_000_000;

pub fn secret(tenant: &str, id: &str, path: &str) -> SecretRow {
    SecretRow {
        id: id.into(),
        tenant_id: tenant.into(),
        path: path.into(),
        secret_type: SecretType::Kv,
        description: Some(format!("about {path}")),
        owner: Some("team-a".into()),
        tags: r#"["db"]"#.into(),
        custom: r#"{"k":"v"}"#.into(),
        max_versions: 3,
        current_version: 1,
        created_at: NOW,
        created_by: "user:root".into(),
        updated_at: NOW,
        expires_at: None,
        notify_before: None,
        rotation_policy_id: None,
        deleted_at: None,
        recoverable_until: None,
        alert_on_read: false,
    }
}

pub fn version(secret_id: &str, n: i64) -> VersionRow {
    VersionRow {
        secret_id: secret_id.into(),
        version: n,
        ciphertext: vec![1, 2, 3, n as u8],
        wrapped_key: vec![9, n as u8],
        key_id: "mk_1".into(),
        created_at: NOW + n,
        created_by: "user:root".into(),
        is_rotation: false,
        readable_until: None,
        aad_version: 2,
    }
}

/// Stores a secret with versions `1..=versions` (current: the last) in one transaction.
pub async fn put_secret(store: &dyn Store, mut s: SecretRow, versions: i64) -> SecretRow {
    s.current_version = versions;
    let mut tx = store.begin().await.expect("begin");
    tx.insert_secret(&s).await.expect("insert secret");
    for n in 1..=versions {
        tx.insert_version(&version(&s.id, n))
            .await
            .expect("insert version");
    }
    tx.commit().await.expect("commit");
    s
}

pub fn token(tenant: &str, id: &str, hash: &str, kind: TokenKind) -> TokenRow {
    TokenRow {
        id: id.into(),
        tenant_id: tenant.into(),
        name: format!("name-{id}"),
        token_hash: hash.into(),
        identity_id: format!("sa:{id}"),
        identity_type: IdentityType::ServiceAccount,
        scopes: r#"["read"]"#.into(),
        path_prefixes: "[]".into(),
        kind,
        created_at: NOW,
        created_by: "user:root".into(),
        expires_at: Some(NOW + HOUR),
        revoked_at: None,
    }
}

pub fn webhook(tenant: &str, id: &str, name: &str) -> WebhookRow {
    WebhookRow {
        id: id.into(),
        tenant_id: tenant.into(),
        name: name.into(),
        url: format!("https://hooks.example/{id}"),
        description: None,
        secret_ciphertext: vec![7; 8],
        secret_wrapped_key: vec![8; 8],
        secret_key_id: "mk_1".into(),
        prev_secret_ciphertext: None,
        prev_secret_wrapped_key: None,
        prev_secret_key_id: None,
        prev_secret_until: None,
        events: r#"["*"]"#.into(),
        filter_path_prefix: None,
        filter_secret_type: None,
        filter_tags: "[]".into(),
        enabled: true,
        status: WebhookHealth::Healthy,
        disabled_reason: None,
        created_at: NOW,
        updated_at: NOW,
        subscription_id: None,
    }
}

pub fn delivery(id: &str, webhook_id: &str, next_attempt_at: i64) -> DeliveryRow {
    DeliveryRow {
        id: id.into(),
        tenant_id: TENANT.into(),
        webhook_id: webhook_id.into(),
        event_id: "evt_1".into(),
        event_type: "secret.updated".into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at,
        lease_until: None,
        response_code: None,
        duration_ms: None,
        last_error: None,
        created_at: next_attempt_at,
        updated_at: next_attempt_at,
    }
}

pub fn event(tenant: &str, id: &str, event_type: &str, path: Option<&str>) -> EventRow {
    EventRow {
        seq: 0,
        id: id.into(),
        tenant_id: tenant.into(),
        event_type: event_type.into(),
        ts: NOW,
        identity_id: Some("user:root".into()),
        path: path.map(str::to_string),
        data: r#"{"n":1}"#.into(),
        request_id: Some(format!("req_{id}")),
    }
}

pub fn audit(id: &str, ts: i64, success: bool) -> AuditRow {
    AuditRow {
        id: id.into(),
        tenant_id: TENANT.into(),
        ts,
        action: "read".into(),
        identity_type: IdentityType::User,
        identity_id: "user:root".into(),
        secret_path: Some("app/db".into()),
        version: Some(1),
        source_ip: Some("10.0.0.1".into()),
        user_agent: None,
        success,
        status_code: if success { 200 } else { 403 },
        duration_ms: 2,
        request_id: Some(format!("req_{id}")),
        extra_data: "{}".into(),
        seq: None,
        hash: None,
    }
}

pub fn policy(tenant: &str, name: &str, active: bool, auto: bool) -> PolicyRow {
    PolicyRow {
        tenant_id: tenant.into(),
        id: format!("rot_{name}"),
        name: name.into(),
        description: Some("monthly".into()),
        interval_text: "30d".into(),
        interval_seconds: 30 * 86_400,
        grace_text: "48h".into(),
        grace_seconds: 48 * 3_600,
        warn_before: "7d".into(),
        auto_generate: auto,
        webhook_ids: "[]".into(),
        is_active: active,
        created_at: NOW,
        updated_at: NOW,
        secret_policy_id: None,
    }
}

pub fn schedule(
    s: &SecretRow,
    policy_id: &str,
    status: ScheduleStatus,
    next_rotation_at: i64,
    next_event_at: Option<i64>,
) -> ScheduleRow {
    ScheduleRow {
        secret_id: s.id.clone(),
        tenant_id: s.tenant_id.clone(),
        policy_id: policy_id.into(),
        assigned_at: NOW - 10 * HOUR,
        last_rotated_at: NOW - 10 * HOUR,
        next_rotation_at,
        status,
        history_id: None,
        due_at: None,
        warnings_sent: "[]".into(),
        next_event_at,
    }
}

pub fn history(id: &str, policy_id: &str, status: RotationStatus) -> HistoryRow {
    HistoryRow {
        id: id.into(),
        tenant_id: TENANT.into(),
        policy_id: policy_id.into(),
        secret_id: "sec_1".into(),
        secret_path: "app/db".into(),
        trigger: RotationTrigger::Manual,
        status,
        old_version: Some(1),
        new_version: None,
        started_at: NOW,
        completed_at: None,
        error: None,
        due_event_id: Some(format!("evt_{id}")),
    }
}

pub fn expiry(secret_id: &str, next_event_at: Option<i64>, expired_sent: bool) -> ExpiryRow {
    ExpiryRow {
        secret_id: secret_id.into(),
        tenant_id: TENANT.into(),
        expires_at: NOW + HOUR,
        notify_before: "1h".into(),
        notices_sent: "[3600]".into(),
        expired_sent,
        next_event_at,
    }
}
