//! Vault mounts (one per tenant and name, and the secrets a prefix holds, soft-deleted ones
//! included), and who read which version, answered from the audit log.

use super::fixtures::{audit, put_secret, secret, HOUR, NOW, TENANT};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::store::{MountRow, Store, StoreError, VersionReaders};

crate::both_stores!(
    mounts_are_per_tenant_and_unique,
    secrets_under_a_prefix_are_locked_whatever_their_state,
    version_reads_count_successful_reads_per_version,
);

fn mount(tenant: &str, name: &str) -> MountRow {
    MountRow {
        tenant_id: tenant.into(),
        name: name.into(),
        created_at: NOW,
        created_by: "user:root".into(),
    }
}

async fn mounts_are_per_tenant_and_unique(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut tx = s.begin().await.expect("begin");
    tx.insert_mount(&mount(TENANT, "kv")).await.expect("insert");
    tx.insert_mount(&mount("tnt_other", "kv"))
        .await
        .expect("same name, other tenant");
    tx.commit().await.expect("commit");
    let got = s
        .get_mount(TENANT, "kv")
        .await
        .expect("get")
        .expect("found");
    assert_eq!((got.name.as_str(), got.created_at), ("kv", NOW));
    assert!(s.get_mount(TENANT, "nope").await.expect("get").is_none());

    let mut tx = s.begin().await.expect("begin");
    let dup = tx.insert_mount(&mount(TENANT, "kv")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    drop(tx);

    let mut tx = s.begin().await.expect("begin");
    assert!(tx.delete_mount(TENANT, "kv").await.expect("delete"));
    assert!(!tx.delete_mount(TENANT, "kv").await.expect("delete again"));
    tx.commit().await.expect("commit");
    assert!(s.get_mount(TENANT, "kv").await.expect("get").is_none());
    assert!(s.get_mount("tnt_other", "kv").await.expect("get").is_some());
}

async fn secrets_under_a_prefix_are_locked_whatever_their_state(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    put_secret(&*s, secret(TENANT, "sec_1", "kv/a"), 1).await;
    let mut gone = secret(TENANT, "sec_2", "kv/b/c");
    gone.deleted_at = Some(NOW);
    put_secret(&*s, gone, 1).await;
    put_secret(&*s, secret(TENANT, "sec_3", "kv-other/a"), 1).await;
    put_secret(&*s, secret(TENANT, "sec_4", "kv"), 1).await;
    put_secret(&*s, secret("tnt_other", "sec_5", "kv/a"), 1).await;
    let mut tx = s.begin().await.expect("begin");
    let under = tx.lock_secrets_under(TENANT, "kv/").await.expect("under");
    let paths: Vec<&str> = under.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["kv/a", "kv/b/c"]);
    tx.commit().await.expect("commit");
}

async fn version_reads_count_successful_reads_per_version(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let read = |id: &str, ts: i64, who: &str, version: i64, ok: bool| {
        let mut r = audit(id, ts, ok);
        r.identity_id = who.into();
        r.version = Some(version);
        r
    };
    let rows = [
        read("log_1", NOW, "sa:a", 1, true),
        read("log_2", NOW + HOUR, "sa:b", 1, true),
        read("log_3", NOW + 2 * HOUR, "sa:a", 1, true),
        read("log_4", NOW + 3 * HOUR, "sa:c", 1, false),
        read("log_5", NOW + 3 * HOUR, "sa:a", 2, true),
    ];
    s.insert_audit(&rows).await.expect("audit");
    let mut other = read("log_6", NOW, "sa:z", 1, true);
    other.secret_path = Some("app/other".into());
    s.insert_audit(&[other]).await.expect("audit");

    let mut per = s
        .version_reads(TENANT, "app/db", NOW, NOW + HOUR)
        .await
        .expect("reads");
    per.sort_by_key(|r| r.version);
    assert_eq!(per.len(), 2);
    assert_eq!(
        (per[0].version, per[0].last_read_at, per[0].readers_recent),
        (1, Some(NOW + 2 * HOUR), 2),
        "a refused read is not a read; sa:a counts once"
    );
    assert_eq!((per[1].version, per[1].readers_recent), (2, 1));
    // Reads before `since` do not count.
    let later = s
        .version_reads(TENANT, "app/db", NOW + HOUR, NOW)
        .await
        .expect("reads");
    assert_eq!(
        later
            .iter()
            .find(|r| r.version == 1)
            .map(|r| r.readers_recent),
        Some(2)
    );

    let during = s
        .version_readers(TENANT, "app/db", 1, NOW + HOUR, NOW + 3 * HOUR)
        .await
        .expect("readers");
    assert_eq!(
        during,
        VersionReaders {
            readers: vec!["sa:a".into(), "sa:b".into()],
            reads: 2,
            last_read_at: Some(NOW + 2 * HOUR),
        }
    );
}
