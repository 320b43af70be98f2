//! Webhooks and deliveries: the unique name, flags and health, claims (disjoint, due, leased,
//! released, excluded) and the recording of attempts.

use super::fixtures::{audit, delivery, webhook, HOUR, NOW, TENANT};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::store::{
    AttemptRecord, DeliveryRow, DeliveryStatus, Store, StoreError, WebhookHealth, WebhookRow,
};
use std::collections::HashSet;

crate::both_stores!(
    a_second_webhook_with_a_taken_name_is_a_conflict,
    webhook_flags_and_health_round_trip,
    concurrent_claims_never_return_the_same_delivery,
    claims_take_only_due_unleased_deliveries_of_included_webhooks,
    an_attempt_is_recorded_only_while_the_delivery_is_pending,
    batched_attempts_record_like_single_ones,
);

async fn insert_webhooks(s: &BareStore, rows: &[WebhookRow]) {
    let mut tx = s.begin().await.expect("begin");
    for w in rows {
        tx.insert_webhook(w).await.expect("insert webhook");
    }
    tx.commit().await.expect("commit");
}

async fn insert_deliveries(s: &BareStore, rows: &[DeliveryRow]) {
    let mut tx = s.begin().await.expect("begin");
    for d in rows {
        tx.insert_delivery(d).await.expect("insert delivery");
    }
    tx.commit().await.expect("commit");
}

fn ids(rows: &[DeliveryRow]) -> Vec<&str> {
    rows.iter().map(|d| d.id.as_str()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn attempt(d: &str, wh: &str, status: DeliveryStatus, now: i64) -> AttemptRecord {
    AttemptRecord {
        delivery_id: d.into(),
        webhook_id: wh.into(),
        status,
        attempts: 1,
        next_attempt_at: now + HOUR,
        response_code: Some(if status == DeliveryStatus::Success {
            200
        } else {
            500
        }),
        duration_ms: 12,
        last_error: (status != DeliveryStatus::Success).then(|| "HTTP 500".to_string()),
        now_us: now,
        webhook_health: None,
        disable_reason: None,
    }
}

async fn audit_rows(s: &BareStore) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&s.raw().await)
        .await
        .expect("count audit rows")
}

async fn a_second_webhook_with_a_taken_name_is_a_conflict(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    insert_webhooks(
        &s,
        &[
            webhook(TENANT, "wh_a", "ops"),
            webhook(TENANT, "wh_b", "dev"),
        ],
    )
    .await;
    let mut tx = s.begin().await.expect("begin");
    let err = tx.insert_webhook(&webhook(TENANT, "wh_c", "ops")).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    drop(tx);
    let mut renamed = webhook(TENANT, "wh_b", "ops");
    renamed.updated_at = NOW + 1;
    let mut tx = s.begin().await.expect("begin");
    let err = tx.update_webhook(&renamed).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    drop(tx);
    // Names are unique per tenant only.
    insert_webhooks(&s, &[webhook("tnt_other", "wh_o", "ops")]).await;
    let listed = s.list_webhooks(TENANT, None, 10).await.expect("list");
    let names: Vec<&str> = listed.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["ops", "dev"]);
}

async fn webhook_flags_and_health_round_trip(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut off = webhook(TENANT, "wh_a", "off");
    off.enabled = false;
    off.status = WebhookHealth::Failing;
    off.disabled_reason = Some("disabled by an operator".into());
    insert_webhooks(&s, &[off.clone(), webhook(TENANT, "wh_b", "on")]).await;

    let got = s
        .get_webhook(TENANT, "wh_a")
        .await
        .expect("get")
        .expect("a");
    assert!(!got.enabled);
    assert_eq!(got.status, WebhookHealth::Failing);
    assert_eq!(got.disabled_reason, off.disabled_reason);
    assert!(s
        .get_webhook("tnt_other", "wh_a")
        .await
        .expect("get")
        .is_none());
    let mut tx = s.begin().await.expect("begin");
    let routable = tx.routable_webhooks(TENANT).await.expect("routable");
    assert_eq!(
        routable.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        ["wh_b"]
    );
    off.enabled = true;
    off.status = WebhookHealth::Healthy;
    off.disabled_reason = None;
    tx.update_webhook(&off).await.expect("enable");
    tx.commit().await.expect("commit");

    let got = s
        .get_webhook(TENANT, "wh_a")
        .await
        .expect("get")
        .expect("a");
    assert!(got.enabled);
    assert_eq!(
        (got.status, got.disabled_reason),
        (WebhookHealth::Healthy, None)
    );
    let by_ids = s
        .webhooks_by_ids(&["wh_a".to_string(), "wh_b".to_string(), "wh_x".to_string()])
        .await
        .expect("by ids");
    assert_eq!(
        sorted(by_ids.into_iter().map(|w| w.id).collect()),
        ["wh_a", "wh_b"]
    );
    let after = s
        .list_webhooks(TENANT, Some("wh_a"), 10)
        .await
        .expect("after");
    assert_eq!(
        after.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        ["wh_b"]
    );
    let mut tx = s.begin().await.expect("begin");
    assert!(tx.delete_webhook(TENANT, "wh_a").await.expect("delete"));
    assert!(!tx
        .delete_webhook(TENANT, "wh_a")
        .await
        .expect("delete again"));
    tx.commit().await.expect("commit");
    assert!(s.get_webhook(TENANT, "wh_a").await.expect("get").is_none());
}

async fn concurrent_claims_never_return_the_same_delivery(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let rows: Vec<DeliveryRow> = (0..12)
        .map(|i| delivery(&format!("del_{i:02}"), "wh_a", NOW - 100 + i))
        .collect();
    insert_deliveries(&s, &rows).await;
    let claim = || s.claim_due_deliveries(NOW, NOW + HOUR, 4, &[]);
    let (a, b, c) = tokio::join!(claim(), claim(), claim());
    let mut seen = HashSet::new();
    for batch in [a, b, c] {
        for d in batch.expect("claim") {
            assert_eq!(d.lease_until, Some(NOW + HOUR));
            assert_eq!(d.status, DeliveryStatus::Pending);
            assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
        }
    }
    let rest = s
        .claim_due_deliveries(NOW, NOW + HOUR, 100, &[])
        .await
        .expect("claim the rest");
    for d in &rest {
        assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
    }
    assert_eq!(seen.len(), 12);
    // Everything is leased now.
    let none = s.claim_due_deliveries(NOW, NOW + HOUR, 100, &[]).await;
    assert!(none.expect("claim").is_empty());
}

async fn claims_take_only_due_unleased_deliveries_of_included_webhooks(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    insert_deliveries(
        &s,
        &[
            delivery("del_1", "wh_a", NOW - 2),
            delivery("del_2", "wh_b", NOW - 1),
            delivery("del_3", "wh_a", NOW + 1),
        ],
    )
    .await;
    let excl = ["wh_a".to_string()];
    let got = s.claim_due_deliveries(NOW, NOW + 10, 10, &excl).await;
    assert_eq!(ids(&got.expect("claim")), ["del_2"]);
    let got = s.claim_due_deliveries(NOW, NOW + 10, 10, &[]).await;
    assert_eq!(ids(&got.expect("claim")), ["del_1"], "del_3 is not due yet");
    // Leased until NOW + 10: not again before, again once the lease ran out.
    let early = s.claim_due_deliveries(NOW + 9, NOW + 20, 1, &excl).await;
    assert!(early.expect("claim").is_empty());
    let late = s.claim_due_deliveries(NOW + 10, NOW + 20, 1, &excl).await;
    assert_eq!(ids(&late.expect("claim")), ["del_2"]);
    s.release_deliveries(&["del_1".to_string(), "del_2".to_string()])
        .await
        .expect("release");
    let d1 = s.get_delivery(TENANT, "del_1").await.expect("get");
    assert_eq!(d1.map(|d| (d.lease_until, d.attempts)), Some((None, 0)));
    let again = s.claim_due_deliveries(NOW, NOW + 10, 10, &[]).await;
    assert_eq!(
        sorted(again.expect("claim").into_iter().map(|d| d.id).collect()),
        ["del_1", "del_2"]
    );
    assert_eq!(
        s.pending_deliveries().await.expect("pending"),
        (3, Some(NOW - 2))
    );
}

async fn an_attempt_is_recorded_only_while_the_delivery_is_pending(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut wa = webhook(TENANT, "wh_a", "a");
    wa.status = WebhookHealth::Failing;
    insert_webhooks(&s, &[wa, webhook(TENANT, "wh_b", "b")]).await;
    insert_deliveries(
        &s,
        &[
            delivery("del_1", "wh_a", NOW),
            delivery("del_2", "wh_a", NOW),
            delivery("del_3", "wh_b", NOW),
            delivery("del_4", "wh_b", NOW),
        ],
    )
    .await;
    let claimed = s.claim_due_deliveries(NOW, NOW + HOUR, 10, &[]).await;
    assert_eq!(claimed.expect("claim").len(), 4);

    let mut ok = attempt("del_1", "wh_a", DeliveryStatus::Success, NOW + 5);
    ok.webhook_health = Some(WebhookHealth::Healthy);
    let before = audit_rows(&s).await;
    assert!(s
        .finish_attempt(&ok, &audit("log_1", NOW, true))
        .await
        .expect("finish"));
    let d = s
        .get_delivery(TENANT, "del_1")
        .await
        .expect("get")
        .expect("d1");
    assert_eq!(d.status, DeliveryStatus::Success);
    assert_eq!(
        (d.attempts, d.lease_until, d.response_code),
        (1, None, Some(200))
    );
    assert_eq!((d.duration_ms, d.updated_at), (Some(12), NOW + 5));
    let wa = s
        .get_webhook(TENANT, "wh_a")
        .await
        .expect("get")
        .expect("wh_a");
    assert_eq!(wa.status, WebhookHealth::Healthy);
    // Finished: a second outcome writes nothing, not even its audit row.
    let late = attempt("del_1", "wh_a", DeliveryStatus::Failed, NOW + 6);
    assert!(!s
        .finish_attempt(&late, &audit("log_2", NOW, false))
        .await
        .expect("finish"));
    assert_eq!(audit_rows(&s).await, before + 1);

    let mut tx = s.begin().await.expect("begin");
    assert_eq!(
        tx.cancel_pending_deliveries("wh_a", NOW + 7)
            .await
            .expect("cancel"),
        1
    );
    tx.commit().await.expect("commit");
    let d2 = s
        .get_delivery(TENANT, "del_2")
        .await
        .expect("get")
        .expect("d2");
    assert_eq!(
        (d2.status, d2.lease_until),
        (DeliveryStatus::Cancelled, None)
    );
    let retry = attempt("del_2", "wh_a", DeliveryStatus::Pending, NOW + 8);
    assert!(!s
        .finish_attempt(&retry, &audit("log_3", NOW, false))
        .await
        .expect("finish"));

    // 410 Gone: the webhook is disabled and its other pending deliveries are cancelled.
    let mut gone = attempt("del_3", "wh_b", DeliveryStatus::Failed, NOW + 9);
    gone.disable_reason = Some("the endpoint answered 410 Gone".into());
    assert!(s
        .finish_attempt(&gone, &audit("log_4", NOW, false))
        .await
        .expect("finish"));
    let wb = s
        .get_webhook(TENANT, "wh_b")
        .await
        .expect("get")
        .expect("wh_b");
    assert!(!wb.enabled);
    assert_eq!(wb.disabled_reason, gone.disable_reason);
    let d4 = s
        .get_delivery(TENANT, "del_4")
        .await
        .expect("get")
        .expect("d4");
    assert_eq!(d4.status, DeliveryStatus::Cancelled);
    let mut tx = s.begin().await.expect("begin");
    let mut states = tx.event_delivery_states("evt_1").await.expect("states");
    tx.commit().await.expect("commit");
    states.sort_by(|x, y| x.0.cmp(&y.0));
    let per_webhook: Vec<(&str, DeliveryStatus)> =
        states.iter().map(|(w, st)| (w.as_str(), *st)).collect();
    assert_eq!(per_webhook.len(), 4);
    assert_eq!(
        per_webhook
            .iter()
            .filter(|(_, st)| *st == DeliveryStatus::Cancelled)
            .count(),
        2
    );
    assert!(per_webhook.contains(&("wh_a", DeliveryStatus::Success)));
    assert!(per_webhook.contains(&("wh_b", DeliveryStatus::Failed)));
}

async fn batched_attempts_record_like_single_ones(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    insert_webhooks(&s, &[webhook(TENANT, "wh_a", "a")]).await;
    insert_deliveries(
        &s,
        &[
            delivery("del_1", "wh_a", NOW),
            delivery("del_2", "wh_a", NOW + 1),
            delivery("del_3", "wh_a", NOW + 2),
        ],
    )
    .await;
    let first = attempt("del_3", "wh_a", DeliveryStatus::Success, NOW + 3);
    let recorded = s.finish_attempt(&first, &audit("log_0", NOW, true)).await;
    assert!(recorded.expect("finish"));
    let mut failing = attempt("del_2", "wh_a", DeliveryStatus::Failed, NOW + 4);
    failing.webhook_health = Some(WebhookHealth::Failing);
    let items = vec![
        (
            attempt("del_1", "wh_a", DeliveryStatus::Pending, NOW + 4),
            audit("log_1", NOW, false),
        ),
        (failing, audit("log_2", NOW, false)),
        (
            attempt("del_3", "wh_a", DeliveryStatus::Failed, NOW + 4),
            audit("log_3", NOW, false),
        ),
    ];
    let before = audit_rows(&s).await;
    let recorded = s.finish_attempts(&items).await.expect("finish batch");
    assert_eq!(recorded, [true, true, false]);
    assert_eq!(audit_rows(&s).await, before + 2);
    let d1 = s
        .get_delivery(TENANT, "del_1")
        .await
        .expect("get")
        .expect("d1");
    assert_eq!(
        (d1.status, d1.next_attempt_at, d1.attempts),
        (DeliveryStatus::Pending, NOW + 4 + HOUR, 1)
    );
    let w = s
        .get_webhook(TENANT, "wh_a")
        .await
        .expect("get")
        .expect("wh_a");
    assert_eq!(w.status, WebhookHealth::Failing);

    let failed = s
        .list_deliveries("wh_a", Some(DeliveryStatus::Failed), None, 10)
        .await
        .expect("failed");
    assert_eq!(ids(&failed), ["del_2"]);
    let newest_first = s
        .list_deliveries("wh_a", None, None, 2)
        .await
        .expect("page");
    assert_eq!(ids(&newest_first), ["del_3", "del_2"]);
    let older = s
        .list_deliveries("wh_a", None, Some("del_2"), 2)
        .await
        .expect("older");
    assert_eq!(ids(&older), ["del_1"]);
    let stats = s.webhook_stats("wh_a", NOW).await.expect("stats");
    assert_eq!((stats.deliveries, stats.successes), (2, 1));
    assert_eq!(stats.avg_latency_ms, Some(12.0));
    let last = s.last_delivery("wh_a").await.expect("last").expect("one");
    assert_eq!(last.id, "del_2");
}
