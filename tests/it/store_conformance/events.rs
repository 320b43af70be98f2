//! The events feed: sequence order, the after-seq cursor, type and path filters, tenants.

use super::fixtures::{event, TENANT};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::store::{EventListQuery, EventRow, Store};

crate::both_stores!(
    events_list_after_a_seq_in_order_with_type_and_path_filters,
    the_first_event_takes_the_sequence_lock_until_commit,
);

fn ids(rows: &[EventRow]) -> Vec<&str> {
    rows.iter().map(|e| e.id.as_str()).collect()
}

async fn events_list_after_a_seq_in_order_with_type_and_path_filters(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut tx = s.begin().await.expect("begin");
    let mut first = true;
    for e in [
        event(TENANT, "evt_1", "secret.created", Some("app/db")),
        event(TENANT, "evt_2", "secret.updated", Some("apple/x")),
        event("tnt_other", "evt_3", "secret.created", Some("app/db")),
        event(TENANT, "evt_4", "secret.deleted", Some("app/api")),
        event(TENANT, "evt_5", "rotation.due", None),
    ] {
        if std::mem::take(&mut first) {
            tx.insert_first_event(&e).await.expect("insert first event");
        } else {
            tx.insert_event(&e).await.expect("insert event");
        }
    }
    tx.commit().await.expect("commit");

    let q = |after_seq: i64| EventListQuery {
        tenant_id: TENANT.into(),
        after_seq,
        limit: 100,
        ..Default::default()
    };
    let all = s.list_events(&q(0)).await.expect("list");
    assert_eq!(ids(&all), ["evt_1", "evt_2", "evt_4", "evt_5"]);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "seq ascends");
    assert_eq!(all[0].data, r#"{"n":1}"#);
    assert_eq!(all[0].request_id.as_deref(), Some("req_evt_1"));

    let after_second = s.list_events(&q(all[1].seq)).await.expect("after");
    assert_eq!(ids(&after_second), ["evt_4", "evt_5"]);
    let last = s.list_events(&q(all[3].seq)).await.expect("after last");
    assert!(last.is_empty());
    let limited = s
        .list_events(&EventListQuery { limit: 2, ..q(0) })
        .await
        .expect("limit");
    assert_eq!(ids(&limited), ["evt_1", "evt_2"]);

    let typed = EventListQuery {
        types: vec!["secret.created".into(), "secret.deleted".into()],
        ..q(0)
    };
    assert_eq!(
        ids(&s.list_events(&typed).await.expect("types")),
        ["evt_1", "evt_4"]
    );
    let under_app = EventListQuery {
        path_prefix: Some("app/".into()),
        ..q(0)
    };
    assert_eq!(
        ids(&s.list_events(&under_app).await.expect("prefix")),
        ["evt_1", "evt_4"]
    );
    let both = EventListQuery {
        types: vec!["secret.deleted".into()],
        path_prefix: Some("app/".into()),
        ..q(all[0].seq)
    };
    assert_eq!(ids(&s.list_events(&both).await.expect("both")), ["evt_4"]);

    let got = s.get_event("evt_3").await.expect("get").expect("evt_3");
    assert_eq!(got.tenant_id, "tnt_other");
    let by_ids = s
        .events_by_ids(&["evt_5".to_string(), "evt_1".to_string()])
        .await
        .expect("by ids");
    let mut found: Vec<&str> = ids(&by_ids);
    found.sort();
    assert_eq!(found, ["evt_1", "evt_5"]);
}

/// PostgreSQL: the statement that inserts a transaction's first event holds the event-sequence
/// lock (advisory 7243001) from then until commit, so seq order is commit order. SQLite has no
/// such lock (its write gate serializes writers); the event is stored either way.
async fn the_first_event_takes_the_sequence_lock_until_commit(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let raw = s.raw().await;
    let held = || async {
        match kind {
            StoreKind::Postgres => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND objid = 7243001 AND database = \
                 (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&raw)
            .await
            .expect("pg_locks"),
            StoreKind::Sqlite => 0,
        }
    };
    let mut tx = s.begin().await.expect("begin");
    tx.insert_first_event(&event(TENANT, "evt_1", "secret.created", Some("a/b")))
        .await
        .expect("first event");
    let expected_while_open = i64::from(kind == StoreKind::Postgres);
    assert_eq!(
        held().await,
        expected_while_open,
        "held while the transaction is open"
    );
    tx.insert_event(&event(TENANT, "evt_2", "secret.updated", Some("a/b")))
        .await
        .expect("second event");
    tx.commit().await.expect("commit");
    assert_eq!(held().await, 0, "released at commit");
    let stored = s
        .list_events(&EventListQuery {
            tenant_id: TENANT.into(),
            after_seq: 0,
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&stored), ["evt_1", "evt_2"]);
}
