//! Secrets: listing order and cursor, field round trip, version retention, soft delete,
//! restore and destroy, and the unique path.

use super::fixtures::{put_secret, secret, version, HOUR, NOW, TENANT};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::domain::secret::{prune_floor, SecretType};
use scaivault::store::{SecretListQuery, SecretRow, Store, StoreError};

crate::both_stores!(
    listing_is_in_path_order_with_an_after_cursor_and_filters,
    a_secret_row_round_trips_every_field,
    pruning_keeps_max_versions_and_versions_in_grace_until_reported,
    soft_delete_hides_until_restore_and_destroy_removes_everything,
    a_second_secret_at_a_taken_path_is_a_conflict,
);

fn paths(rows: &[SecretRow]) -> Vec<&str> {
    rows.iter().map(|r| r.path.as_str()).collect()
}

async fn listed(s: &BareStore, q: SecretListQuery) -> Vec<SecretRow> {
    s.list_secrets(&q).await.expect("filtered listing")
}

fn query(limit: i64) -> SecretListQuery {
    SecretListQuery {
        tenant_id: TENANT.into(),
        limit,
        ..Default::default()
    }
}

async fn listing_is_in_path_order_with_an_after_cursor_and_filters(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let b = put_secret(&*s, secret(TENANT, "sec_b", "b/two"), 1).await;
    put_secret(&*s, secret(TENANT, "sec_a", "a/one"), 1).await;
    let mut c = secret(TENANT, "sec_c", "c/three");
    c.secret_type = SecretType::Json;
    put_secret(&*s, c, 1).await;
    let mut gone = secret(TENANT, "sec_d", "a/deleted");
    gone.deleted_at = Some(NOW);
    put_secret(&*s, gone, 1).await;
    put_secret(&*s, secret("tnt_other", "sec_o", "a/one"), 1).await;
    let mut tx = s.begin().await.expect("begin");
    tx.replace_tags(&b.id, &["x".to_string()])
        .await
        .expect("tags");
    tx.commit().await.expect("commit");

    // Byte order: upper case before lower case, on both stores.
    put_secret(&*s, secret(TENANT, "sec_u", "B/upper"), 1).await;
    let all = s.list_secrets(&query(10)).await.expect("list");
    assert_eq!(paths(&all), ["B/upper", "a/one", "b/two", "c/three"]);
    assert!(all.iter().all(|r| r.tenant_id == TENANT));
    let first = s.list_secrets(&query(2)).await.expect("page 1");
    assert_eq!(paths(&first), ["B/upper", "a/one"]);
    let after = |p: &str| SecretListQuery {
        after_path: Some(p.into()),
        ..query(2)
    };
    let second = s.list_secrets(&after("a/one")).await.expect("page 2");
    assert_eq!(paths(&second), ["b/two", "c/three"]);
    assert_eq!(second[1].secret_type, SecretType::Json);
    assert!(s
        .list_secrets(&after("c/three"))
        .await
        .expect("page 3")
        .is_empty());

    let prefix = listed(
        &s,
        SecretListQuery {
            prefix: Some("a/".into()),
            ..query(10)
        },
    )
    .await;
    assert_eq!(paths(&prefix), ["a/one"]);
    let tagged = listed(
        &s,
        SecretListQuery {
            tag: Some("x".into()),
            ..query(10)
        },
    )
    .await;
    assert_eq!(paths(&tagged), ["b/two"]);
    let typed = listed(
        &s,
        SecretListQuery {
            secret_type: Some("json".into()),
            ..query(10)
        },
    )
    .await;
    assert_eq!(paths(&typed), ["c/three"]);
    let ruled = listed(
        &s,
        SecretListQuery {
            path_rules: vec!["b".into()],
            ..query(10)
        },
    )
    .await;
    assert_eq!(paths(&ruled), ["b/two"]);
}

async fn a_secret_row_round_trips_every_field(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut want = secret(TENANT, "sec_1", "app/db");
    want.secret_type = SecretType::SshKey;
    want.expires_at = Some(NOW + HOUR);
    want.notify_before = Some("1h".into());
    want.rotation_policy_id = Some("rot_monthly".into());
    let want = put_secret(&*s, want, 2).await;

    let got = s
        .get_secret(TENANT, "app/db")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
    assert!(s
        .get_secret("tnt_other", "app/db")
        .await
        .expect("get")
        .is_none());

    let (head, current) = s
        .get_secret_with_current(TENANT, "app/db")
        .await
        .expect("with current")
        .expect("found");
    assert_eq!(format!("{head:?}"), format!("{want:?}"));
    let stored = version("sec_1", 2);
    assert_eq!(current.version, 2);
    assert_eq!(current.ciphertext, stored.ciphertext);
    assert_eq!(current.wrapped_key, stored.wrapped_key);
    assert_eq!(current.created_at, stored.created_at);
    assert_eq!((current.is_rotation, current.aad_version), (false, 2));

    let mut changed = want.clone();
    changed.secret_type = SecretType::ApiKey;
    changed.description = None;
    changed.current_version = 1;
    changed.updated_at = NOW + 5;
    let mut tx = s.begin().await.expect("begin");
    tx.update_secret(&changed).await.expect("update");
    let by_id = tx
        .secret_by_id("sec_1")
        .await
        .expect("by id")
        .expect("found");
    assert_eq!(format!("{by_id:?}"), format!("{changed:?}"));
    tx.commit().await.expect("commit");
    let got = s
        .get_secret(TENANT, "app/db")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(format!("{got:?}"), format!("{changed:?}"));
}

async fn pruning_keeps_max_versions_and_versions_in_grace_until_reported(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let sec = put_secret(&*s, secret(TENANT, "sec_1", "app/db"), 5).await;
    let floor = prune_floor(sec.current_version, sec.max_versions);
    assert_eq!(floor, 2);
    let mut tx = s.begin().await.expect("begin");
    tx.set_version_flags(&sec.id, 2, None, Some(NOW + HOUR))
        .await
        .expect("grace");
    tx.set_version_flags(&sec.id, 5, Some(true), None)
        .await
        .expect("rotation flag");
    assert_eq!(
        tx.prune_versions(&sec.id, floor, NOW).await.expect("prune"),
        1
    );
    assert_eq!(tx.count_versions(&sec.id).await.expect("count"), 4);
    tx.commit().await.expect("commit");

    let listed = s.list_versions(&sec.id).await.expect("versions");
    let numbers: Vec<i64> = listed.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [5, 4, 3, 2]);
    let flags: Vec<bool> = listed.iter().map(|v| v.is_rotation).collect();
    assert_eq!(flags, [true, false, false, false]);
    assert_eq!(listed[3].readable_until, Some(NOW + HOUR));
    assert!(s.get_version(&sec.id, 1).await.expect("v1").is_none());
    let v5 = s.get_version(&sec.id, 5).await.expect("v5").expect("kept");
    assert!(v5.is_rotation);

    // Once the grace period is over, the version stays until its end is reported
    // (`rotation.grace_ended`), and goes with the next prune after that.
    let mut tx = s.begin().await.expect("begin");
    assert_eq!(
        tx.prune_versions(&sec.id, floor, NOW + HOUR)
            .await
            .expect("prune"),
        0
    );
    let ended = tx
        .claim_grace_ended(NOW + HOUR, 10)
        .await
        .expect("grace ended");
    assert_eq!(ended.len(), 1);
    assert_eq!((ended[0].version, ended[0].readable_until), (2, NOW + HOUR));
    tx.mark_grace_reported(&sec.id, 2).await.expect("reported");
    assert!(tx
        .claim_grace_ended(NOW + HOUR, 10)
        .await
        .expect("grace ended")
        .is_empty());
    assert_eq!(
        tx.prune_versions(&sec.id, floor, NOW + HOUR)
            .await
            .expect("prune"),
        1
    );
    tx.commit().await.expect("commit");
    let numbers: Vec<i64> = s
        .list_versions(&sec.id)
        .await
        .expect("versions")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(numbers, [5, 4, 3]);
}

async fn soft_delete_hides_until_restore_and_destroy_removes_everything(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut sec = put_secret(&*s, secret(TENANT, "sec_1", "app/db"), 2).await;
    sec.deleted_at = Some(NOW);
    sec.recoverable_until = Some(NOW + HOUR);
    let mut tx = s.begin().await.expect("begin");
    tx.update_secret(&sec).await.expect("soft delete");
    tx.commit().await.expect("commit");

    assert!(s.get_secret(TENANT, "app/db").await.expect("get").is_none());
    let current = s.get_secret_with_current(TENANT, "app/db").await;
    assert!(current.expect("with current").is_none());
    assert!(s.list_secrets(&query(10)).await.expect("list").is_empty());
    let mut tx = s.begin().await.expect("begin");
    let locked = tx.lock_secret(TENANT, "app/db").await.expect("lock");
    assert_eq!(locked.and_then(|r| r.deleted_at), Some(NOW));
    sec.deleted_at = None;
    sec.recoverable_until = None;
    tx.update_secret(&sec).await.expect("restore");
    tx.commit().await.expect("commit");
    let back = s.get_secret(TENANT, "app/db").await.expect("get");
    assert_eq!(back.map(|r| r.current_version), Some(2));
    assert_eq!(
        paths(&s.list_secrets(&query(10)).await.expect("list")),
        ["app/db"]
    );

    let mut tx = s.begin().await.expect("begin");
    tx.delete_secret(&sec.id).await.expect("destroy");
    assert!(tx
        .lock_secret(TENANT, "app/db")
        .await
        .expect("lock")
        .is_none());
    tx.commit().await.expect("commit");
    assert!(s.get_version(&sec.id, 1).await.expect("v1").is_none());
    assert!(s.list_versions(&sec.id).await.expect("versions").is_empty());
    // The path is free again.
    put_secret(&*s, secret(TENANT, "sec_2", "app/db"), 1).await;
}

async fn a_second_secret_at_a_taken_path_is_a_conflict(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut first = secret(TENANT, "sec_1", "app/db");
    first.deleted_at = Some(NOW);
    put_secret(&*s, first, 1).await;
    // Soft-deleted, the path is still taken (it can be restored).
    let mut tx = s.begin().await.expect("begin");
    let err = tx.insert_secret(&secret(TENANT, "sec_2", "app/db")).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    drop(tx);
    put_secret(&*s, secret("tnt_other", "sec_3", "app/db"), 1).await;
    let found = s.get_secret("tnt_other", "app/db").await.expect("get");
    assert_eq!(found.map(|r| r.id), Some("sec_3".to_string()));
}
