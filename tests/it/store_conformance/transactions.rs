//! Transactions and stored forms: a dropped transaction leaves nothing behind; typed statuses
//! and flags are stored as the same text and 0/1 integers as before they were typed, and read
//! back as what was written; an unknown stored value is a `Corrupt` error, not a panic.

use super::fixtures::{
    audit, delivery, event, expiry, history, policy, put_secret, schedule, secret, token, version,
    webhook, HOUR, NOW, TENANT,
};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::domain::secret::SecretType;
use scaivault::store::{
    DeliveryStatus, RotationStatus, RotationTrigger, ScheduleStatus, Store, StoreError, TokenKind,
    WebhookHealth,
};

crate::both_stores!(
    a_dropped_transaction_leaves_nothing_behind,
    typed_values_are_stored_as_the_same_text_and_integers,
    an_unknown_stored_value_is_a_corrupt_error,
);

async fn count(s: &BareStore, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&s.raw().await)
        .await
        .expect("count rows")
}

async fn a_dropped_transaction_leaves_nothing_behind(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let sec = secret(TENANT, "sec_1", "app/db");
    {
        let mut tx = s.begin().await.expect("begin");
        tx.insert_secret(&sec).await.expect("secret");
        tx.insert_version(&version("sec_1", 1))
            .await
            .expect("version");
        tx.replace_tags("sec_1", &["db".to_string()])
            .await
            .expect("tags");
        tx.insert_token(&token(TENANT, "tok_1", "hash_1", TokenKind::Api))
            .await
            .expect("token");
        tx.insert_webhook(&webhook(TENANT, "wh_1", "ops"))
            .await
            .expect("webhook");
        tx.insert_policy(&policy(TENANT, "a", true, false))
            .await
            .expect("policy");
        tx.upsert_schedule(&schedule(
            &sec,
            "rot_a",
            ScheduleStatus::Scheduled,
            NOW,
            Some(NOW),
        ))
        .await
        .expect("schedule");
        tx.insert_history(&history("rh_1", "rot_a", RotationStatus::Pending))
            .await
            .expect("history");
        tx.upsert_expiry(&expiry("sec_1", Some(NOW), false))
            .await
            .expect("expiry");
        tx.insert_first_event(&event(TENANT, "evt_1", "secret.created", Some("app/db")))
            .await
            .expect("event");
        tx.insert_delivery(&delivery("del_1", "wh_1", NOW))
            .await
            .expect("delivery");
        tx.insert_audit(&audit("log_1", NOW, true))
            .await
            .expect("audit");
        tx.put_meta_if_absent("conformance", "v1")
            .await
            .expect("meta");
        // Dropped here without commit.
    }
    for table in [
        "secrets",
        "secret_versions",
        "secret_tags",
        "tokens",
        "webhooks",
        "rotation_policies",
        "rotation_schedule",
        "rotation_history",
        "expiry_schedule",
        "events",
        "deliveries",
        "audit_log",
    ] {
        assert_eq!(count(&s, table).await, 0, "{table} kept a row");
    }
    assert_eq!(s.get_meta("conformance").await.expect("meta"), None);
    assert!(s.get_secret(TENANT, "app/db").await.expect("get").is_none());
    assert!(s
        .find_token_by_hash("hash_1")
        .await
        .expect("find")
        .is_none());
    // Nothing is left locked or taken: the same rows go in at once.
    put_secret(&*s, sec, 1).await;
    let mut tx = s.begin().await.expect("begin");
    tx.insert_webhook(&webhook(TENANT, "wh_1", "ops"))
        .await
        .expect("webhook");
    tx.commit().await.expect("commit");
    assert_eq!(
        (count(&s, "secrets").await, count(&s, "webhooks").await),
        (1, 1)
    );
}

/// The one column `col` of the row `id_col = id` as text.
async fn text(s: &BareStore, table: &str, col: &str, id_col: &str, id: &str) -> String {
    let sql = format!("SELECT {col} FROM {table} WHERE {id_col} = $1");
    sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_one(&s.raw().await)
        .await
        .expect("stored text")
}

/// The one column `col` of the row `id_col = id` as an integer.
async fn int(s: &BareStore, table: &str, col: &str, id_col: &str, id: &str) -> i64 {
    let sql = format!("SELECT {col} FROM {table} WHERE {id_col} = $1");
    sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_one(&s.raw().await)
        .await
        .expect("stored integer")
}

async fn typed_values_are_stored_as_the_same_text_and_integers(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut tx = s.begin().await.expect("begin");
    for (i, st) in DeliveryStatus::ALL.iter().enumerate() {
        let mut d = delivery(&format!("del_{i}"), "wh_1", NOW);
        d.status = *st;
        tx.insert_delivery(&d).await.expect("delivery");
    }
    let mut off = webhook(TENANT, "wh_off", "off");
    off.enabled = false;
    off.status = WebhookHealth::Failing;
    tx.insert_webhook(&off).await.expect("webhook off");
    tx.insert_webhook(&webhook(TENANT, "wh_on", "on"))
        .await
        .expect("webhook on");
    tx.insert_policy(&policy(TENANT, "p", true, false))
        .await
        .expect("policy");
    tx.insert_token(&token(TENANT, "tok_1", "hash_1", TokenKind::DevRoot))
        .await
        .expect("token");
    let mut h = history("rh_1", "rot_p", RotationStatus::Overdue);
    h.trigger = RotationTrigger::Schedule;
    tx.insert_history(&h).await.expect("history");
    tx.upsert_expiry(&expiry("sec_1", None, true))
        .await
        .expect("expiry");
    tx.insert_audit(&audit("log_ok", NOW, true))
        .await
        .expect("audit ok");
    tx.insert_audit(&audit("log_no", NOW, false))
        .await
        .expect("audit failed");
    tx.commit().await.expect("commit");
    let mut sec = secret(TENANT, "sec_1", "app/db");
    sec.secret_type = SecretType::SshKey;
    let sec = put_secret(&*s, sec, 2).await;
    let mut tx = s.begin().await.expect("begin");
    tx.set_version_flags("sec_1", 2, Some(true), None)
        .await
        .expect("flag");
    let overdue = schedule(&sec, "rot_p", ScheduleStatus::Overdue, NOW - HOUR, None);
    tx.upsert_schedule(&overdue).await.expect("schedule");
    tx.commit().await.expect("commit");

    for (i, st) in DeliveryStatus::ALL.iter().enumerate() {
        let id = format!("del_{i}");
        assert_eq!(
            text(&s, "deliveries", "status", "id", &id).await,
            st.as_str()
        );
        let read = s
            .get_delivery(TENANT, &id)
            .await
            .expect("get")
            .expect("delivery");
        assert_eq!(read.status, *st);
    }
    assert_eq!(int(&s, "webhooks", "enabled", "id", "wh_off").await, 0);
    assert_eq!(int(&s, "webhooks", "enabled", "id", "wh_on").await, 1);
    assert_eq!(
        text(&s, "webhooks", "status", "id", "wh_off").await,
        "failing"
    );
    assert_eq!(
        int(&s, "rotation_policies", "is_active", "id", "rot_p").await,
        1
    );
    assert_eq!(
        int(&s, "rotation_policies", "auto_generate", "id", "rot_p").await,
        0
    );
    assert_eq!(text(&s, "tokens", "kind", "id", "tok_1").await, "dev_root");
    assert_eq!(
        text(&s, "tokens", "identity_type", "id", "tok_1").await,
        "service_account"
    );
    assert_eq!(
        text(&s, "rotation_history", "trigger", "id", "rh_1").await,
        "schedule"
    );
    assert_eq!(
        text(&s, "rotation_history", "status", "id", "rh_1").await,
        "overdue"
    );
    assert_eq!(
        text(&s, "rotation_schedule", "status", "secret_id", "sec_1").await,
        "overdue"
    );
    assert_eq!(
        int(&s, "expiry_schedule", "expired_sent", "secret_id", "sec_1").await,
        1
    );
    assert_eq!(int(&s, "audit_log", "success", "id", "log_ok").await, 1);
    assert_eq!(int(&s, "audit_log", "success", "id", "log_no").await, 0);
    assert_eq!(
        text(&s, "audit_log", "identity_type", "id", "log_no").await,
        "user"
    );
    assert_eq!(
        text(&s, "secrets", "secret_type", "id", "sec_1").await,
        "ssh_key"
    );
    let flags: Vec<i64> = sqlx::query_scalar(
        "SELECT is_rotation FROM secret_versions WHERE secret_id = 'sec_1' ORDER BY version",
    )
    .fetch_all(&s.raw().await)
    .await
    .expect("version flags");
    assert_eq!(flags, [0, 1]);
    let token = s
        .find_token_by_hash("hash_1")
        .await
        .expect("find")
        .expect("token");
    assert_eq!(token.kind, TokenKind::DevRoot);
    let sched = s
        .get_schedule("sec_1")
        .await
        .expect("get")
        .expect("schedule");
    assert_eq!(sched.status, ScheduleStatus::Overdue);
}

async fn an_unknown_stored_value_is_a_corrupt_error(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let sec = put_secret(&*s, secret(TENANT, "sec_1", "app/db"), 1).await;
    let mut tx = s.begin().await.expect("begin");
    tx.insert_delivery(&delivery("del_1", "wh_1", NOW))
        .await
        .expect("delivery");
    tx.insert_webhook(&webhook(TENANT, "wh_1", "ops"))
        .await
        .expect("webhook");
    tx.insert_token(&token(TENANT, "tok_1", "hash_1", TokenKind::Api))
        .await
        .expect("token");
    tx.upsert_schedule(&schedule(
        &sec,
        "rot_a",
        ScheduleStatus::Scheduled,
        NOW,
        None,
    ))
    .await
    .expect("schedule");
    tx.commit().await.expect("commit");
    let raw = s.raw().await;
    for sql in [
        "UPDATE deliveries SET status = 'paused'",
        "UPDATE webhooks SET enabled = 2",
        "UPDATE tokens SET kind = 'robot'",
        "UPDATE rotation_schedule SET status = 'later'",
        "UPDATE secret_versions SET is_rotation = -1",
        "UPDATE secrets SET secret_type = 'blob'",
    ] {
        sqlx::query(sql).execute(&raw).await.expect("damage a row");
    }
    let corrupt = |what: &str, r: Result<bool, StoreError>| match r {
        Err(StoreError::Corrupt(msg)) => msg,
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    };
    let msg = corrupt(
        "delivery",
        s.get_delivery(TENANT, "del_1").await.map(|d| d.is_some()),
    );
    assert!(msg.contains("paused"), "{msg}");
    corrupt(
        "webhook",
        s.get_webhook(TENANT, "wh_1").await.map(|w| w.is_some()),
    );
    corrupt(
        "token",
        s.find_token_by_hash("hash_1").await.map(|t| t.is_some()),
    );
    corrupt(
        "schedule",
        s.get_schedule("sec_1").await.map(|r| r.is_some()),
    );
    corrupt(
        "version",
        s.get_version("sec_1", 1).await.map(|v| v.is_some()),
    );
    corrupt(
        "secret",
        s.get_secret(TENANT, "app/db").await.map(|r| r.is_some()),
    );
    let joined = s.get_secret_with_current(TENANT, "app/db").await;
    corrupt("secret with version", joined.map(|r| r.is_some()));
}
