//! Subscriptions at the trait level: rows joined with their owner token's state, the queue of
//! a polling subscription (order, the buffer limit with its dropped count, acknowledgement),
//! routing only active ones, and a subscription's webhook kept out of the webhook listings.

use super::fixtures::{event, token, webhook, NOW, TENANT};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::store::{Store, StoreError, SubscriptionRow, SubscriptionStore, TokenKind};

crate::both_stores!(
    subscriptions_are_read_with_their_owner_and_are_unique_per_owner_and_name,
    the_queue_keeps_order_drops_the_oldest_beyond_the_buffer_and_acks,
    only_active_subscriptions_route_and_their_webhooks_stay_hidden,
);

fn subscription(id: &str, token_id: &str, name: &str) -> SubscriptionRow {
    SubscriptionRow {
        id: id.into(),
        tenant_id: TENANT.into(),
        name: name.into(),
        identity_id: "sa:consumer".into(),
        token_id: token_id.into(),
        paths: r#"["a/**"]"#.into(),
        events: r#"["*"]"#.into(),
        delivery_type: "polling".into(),
        buffer_size: 3,
        webhook_id: None,
        status: "active".into(),
        dropped_events: 0,
        created_at: NOW,
        updated_at: NOW,
        owner_rules: None,
        owner_revoked_at: None,
        owner_expires_at: None,
    }
}

async fn with_owner(s: &BareStore) {
    let mut t = token(TENANT, "tok_owner", "hash_owner", TokenKind::Api);
    t.path_prefixes = r#"["a"]"#.into();
    let mut tx = s.begin().await.expect("begin");
    tx.insert_token(&t).await.expect("token");
    tx.commit().await.expect("commit");
}

async fn subscriptions_are_read_with_their_owner_and_are_unique_per_owner_and_name(
    kind: StoreKind,
) {
    let s = BareStore::new(kind).await;
    with_owner(&s).await;
    let mut tx = s.begin().await.expect("begin");
    tx.insert_subscription(&subscription("sub_1", "tok_owner", "one"))
        .await
        .expect("insert");
    tx.insert_subscription(&subscription("sub_2", "tok_gone", "one"))
        .await
        .expect("same name, another owner");
    tx.commit().await.expect("commit");
    let got = s
        .get_subscription(TENANT, "sub_1")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(got.owner_rules.as_deref(), Some(r#"["a"]"#));
    assert_eq!(got.owner_revoked_at, None);
    let orphan = s
        .get_subscription(TENANT, "sub_2")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(orphan.owner_rules, None, "no token: no owner state");
    assert!(s
        .get_subscription("tnt_other", "sub_1")
        .await
        .expect("get")
        .is_none());

    let mut tx = s.begin().await.expect("begin");
    let dup = tx
        .insert_subscription(&subscription("sub_3", "tok_owner", "one"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    drop(tx);

    let mine = s
        .list_subscriptions(TENANT, Some("tok_owner"), None, 10)
        .await
        .expect("list");
    assert_eq!(
        mine.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["sub_1"]
    );
    let all = s
        .list_subscriptions(TENANT, None, None, 10)
        .await
        .expect("list");
    assert_eq!(all.len(), 2);
    let page = s
        .list_subscriptions(TENANT, None, Some("sub_1"), 10)
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["sub_2"]
    );
}

async fn the_queue_keeps_order_drops_the_oldest_beyond_the_buffer_and_acks(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    with_owner(&s).await;
    let mut tx = s.begin().await.expect("begin");
    tx.insert_subscription(&subscription("sub_q", "tok_owner", "q"))
        .await
        .expect("insert");
    let mut dropped = 0;
    for i in 1..=5 {
        let e = event(TENANT, &format!("evt_{i}"), "secret.created", Some("a/x"));
        tx.insert_event(&e).await.expect("event");
        dropped += tx
            .enqueue_subscription_event("sub_q", &e.id, 3)
            .await
            .expect("enqueue");
    }
    tx.commit().await.expect("commit");
    assert_eq!(dropped, 2);
    let ids = |rows: Vec<scaivault::store::EventRow>| -> Vec<String> {
        rows.into_iter().map(|e| e.id).collect()
    };
    assert_eq!(
        ids(s.subscription_queue("sub_q", 10).await.expect("queue")),
        ["evt_3", "evt_4", "evt_5"]
    );
    assert_eq!(
        ids(s.subscription_queue("sub_q", 2).await.expect("queue")),
        ["evt_3", "evt_4"]
    );
    let row = s
        .get_subscription(TENANT, "sub_q")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(row.dropped_events, 2);
    assert_eq!(s.subscription_queue_len("sub_q").await.expect("len"), 3);
    assert_eq!(s.subscription_backlog().await.expect("backlog"), 3);

    let mut tx = s.begin().await.expect("begin");
    let acked = tx
        .ack_subscription_events("sub_q", &["evt_4".into(), "evt_1".into(), "evt_9".into()])
        .await
        .expect("ack");
    tx.commit().await.expect("commit");
    assert_eq!(acked, 1, "only what was queued counts");
    assert_eq!(
        ids(s.subscription_queue("sub_q", 10).await.expect("queue")),
        ["evt_3", "evt_5"]
    );

    let mut tx = s.begin().await.expect("begin");
    assert!(tx
        .delete_subscription(TENANT, "sub_q")
        .await
        .expect("delete"));
    assert!(!tx
        .delete_subscription(TENANT, "sub_q")
        .await
        .expect("again"));
    tx.commit().await.expect("commit");
    assert_eq!(
        s.subscription_backlog().await.expect("backlog"),
        0,
        "its queue went too"
    );
}

async fn only_active_subscriptions_route_and_their_webhooks_stay_hidden(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    with_owner(&s).await;
    let mut hidden = webhook(TENANT, "wh_sub", "sub_w");
    hidden.subscription_id = Some("sub_w".into());
    let plain = webhook(TENANT, "wh_plain", "plain");
    let mut w = subscription("sub_w", "tok_owner", "w");
    w.delivery_type = "webhook".into();
    w.webhook_id = Some("wh_sub".into());
    let mut paused = subscription("sub_p", "tok_owner", "p");
    paused.status = "paused".into();
    let mut tx = s.begin().await.expect("begin");
    tx.insert_webhook(&hidden).await.expect("hidden webhook");
    tx.insert_webhook(&plain).await.expect("webhook");
    tx.insert_subscription(&w).await.expect("sub");
    tx.insert_subscription(&paused).await.expect("sub");
    let routable = tx.routable_subscriptions(TENANT).await.expect("routable");
    assert_eq!(
        routable.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["sub_w"]
    );
    let hooks = tx.routable_webhooks(TENANT).await.expect("webhooks");
    assert_eq!(
        hooks.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["wh_plain"]
    );
    tx.commit().await.expect("commit");
    let listed = s.list_webhooks(TENANT, None, 10).await.expect("list");
    assert_eq!(
        listed.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["wh_plain"]
    );
    assert!(s
        .get_webhook(TENANT, "wh_sub")
        .await
        .expect("get")
        .is_none());
    let by_id = s.webhooks_by_ids(&["wh_sub".into()]).await.expect("by id");
    assert_eq!(
        by_id[0].subscription_id.as_deref(),
        Some("sub_w"),
        "the worker still finds it"
    );
    let owner = s
        .subscription_of_webhook("wh_sub")
        .await
        .expect("by webhook")
        .expect("found");
    assert_eq!(owner.id, "sub_w");
}
