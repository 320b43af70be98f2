//! The audit log: append (in and out of a transaction), seal, chain verification, listing
//! with typed flags, and retention that keeps the chain verifiable.

use super::fixtures::{audit, NOW, TENANT};
use crate::common::bare_store::{as_dyn, BareStore};
use crate::common::StoreKind;
use scaivault::audit::chain::{self, Verdict, ANCHOR_KEY};
use scaivault::store::{AuditQuery, AuditRow, IdentityType, Store};

crate::both_stores!(
    appended_rows_seal_into_a_chain_that_verifies_until_a_row_changes,
    retention_deletes_old_sealed_rows_and_the_chain_still_verifies,
    read_batches_after_retention_removed_every_sealed_row_chain_from_the_anchor,
);

/// Seals until nothing is left unsealed.
async fn seal_all(s: &BareStore) {
    for _ in 0..10 {
        if s.count_unsealed_audit().await.expect("count") == 0 {
            return;
        }
        s.seal_audit(1000, true).await.expect("seal");
    }
    panic!("rows stayed unsealed");
}

async fn insert_in_tx(s: &BareStore, rows: &[AuditRow]) {
    let mut tx = s.begin().await.expect("begin");
    for r in rows {
        tx.insert_audit(r).await.expect("insert audit");
    }
    tx.commit().await.expect("commit");
}

fn ids(rows: &[AuditRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

async fn appended_rows_seal_into_a_chain_that_verifies_until_a_row_changes(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    insert_in_tx(
        &s,
        &[audit("log_1", NOW, true), audit("log_2", NOW + 1, false)],
    )
    .await;
    s.insert_audit(&[audit("log_3", NOW + 2, true)])
        .await
        .expect("append");
    seal_all(&s).await;

    let linked = s.audit_chain(1, 100).await.expect("chain");
    let seqs: Vec<Option<i64>> = linked.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3)]);
    let mut sealed: Vec<&str> = ids(&linked);
    sealed.sort();
    assert_eq!(sealed, ["log_1", "log_2", "log_3"]);
    let mut prev = chain::GENESIS.to_string();
    for r in &linked {
        let seq = r.seq.expect("sealed");
        assert_eq!(
            r.hash.as_deref(),
            Some(chain::row_hash(&prev, r, seq).as_str())
        );
        prev = r.hash.clone().expect("hash");
    }
    let verdict = chain::verify(as_dyn(&s), None).await.expect("verify");
    assert_eq!(
        verdict,
        Verdict::Ok {
            checked: 3,
            head_seq: 3,
            head_hash: prev
        }
    );

    let q = AuditQuery {
        tenant_id: TENANT.into(),
        limit: 10,
        ..Default::default()
    };
    let listed = s.list_audit(&q).await.expect("list");
    assert_eq!(ids(&listed), ["log_3", "log_2", "log_1"]);
    let flags: Vec<bool> = listed.iter().map(|r| r.success).collect();
    assert_eq!(flags, [true, false, true]);
    assert!(listed.iter().all(|r| r.identity_type == IdentityType::User));
    let failures = AuditQuery {
        success: Some(false),
        ..q.clone()
    };
    assert_eq!(
        ids(&s.list_audit(&failures).await.expect("failures")),
        ["log_2"]
    );
    let summary = s.audit_summary(&q).await.expect("summary");
    assert_eq!((summary.total, summary.successful), (3, 2));

    // A changed field breaks the chain at that row.
    let at = linked.iter().find(|r| r.id == "log_2").and_then(|r| r.seq);
    sqlx::query("UPDATE audit_log SET success = 1 WHERE id = 'log_2'")
        .execute(&s.raw().await)
        .await
        .expect("tamper");
    match chain::verify(as_dyn(&s), None).await.expect("verify") {
        Verdict::Broken {
            first_bad_seq,
            reason,
            ..
        } => {
            assert_eq!((Some(first_bad_seq), reason), (at, "hash_mismatch"));
        }
        ok => panic!("a changed row verified: {ok:?}"),
    }
}

async fn retention_deletes_old_sealed_rows_and_the_chain_still_verifies(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let rows: Vec<AuditRow> = (1..=4)
        .map(|i| audit(&format!("log_{i}"), NOW + i, true))
        .collect();
    insert_in_tx(&s, &rows).await;
    seal_all(&s).await;
    let linked = s.audit_chain(1, 100).await.expect("chain");
    assert_eq!(ids(&linked), ["log_1", "log_2", "log_3", "log_4"]);

    let deleted = s
        .apply_audit_retention(NOW + 3, ANCHOR_KEY)
        .await
        .expect("retention");
    assert_eq!(deleted, 2);
    let anchor = s.get_meta(ANCHOR_KEY).await.expect("anchor");
    let expected = chain::anchor_value(2, linked[1].hash.as_deref().unwrap_or_default());
    assert_eq!(anchor, Some(expected));
    assert_eq!(
        ids(&s.audit_chain(1, 100).await.expect("chain")),
        ["log_3", "log_4"]
    );
    let verdict = chain::verify(as_dyn(&s), None).await.expect("verify");
    assert_eq!(
        verdict,
        Verdict::Ok {
            checked: 2,
            head_seq: 4,
            head_hash: linked[3].hash.clone().unwrap_or_default()
        }
    );
    let again = s.apply_audit_retention(NOW + 3, ANCHOR_KEY).await;
    assert_eq!(again.expect("retention again"), 0);
}

/// The audit writer's batches go on from the retention anchor when retention left no sealed
/// row, from the last batch's head after that, and from the sealer's when it moved the head.
/// On PostgreSQL that is all three ways through `scaivault_append_audit_sealing`: sealed in
/// the database (no head known yet; the head moved) and as the writer sealed them (its
/// remembered head still current). On SQLite the appender thread seals them.
async fn read_batches_after_retention_removed_every_sealed_row_chain_from_the_anchor(
    kind: StoreKind,
) {
    let s = BareStore::new(kind).await;
    let rows: Vec<AuditRow> = (1..=3)
        .map(|i| audit(&format!("log_{i}"), NOW + i, true))
        .collect();
    insert_in_tx(&s, &rows).await;
    seal_all(&s).await;
    let sealed = s.audit_chain(1, 100).await.expect("chain");
    let deleted = s
        .apply_audit_retention(NOW + 10, ANCHOR_KEY)
        .await
        .expect("retention");
    assert_eq!(deleted, 3);
    assert!(s.audit_chain(1, 100).await.expect("chain").is_empty());

    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(s.store.clone());
    let writer = scaivault::audit::writer::AuditWriter::start(store, true);
    for batch in [["read_1", "read_2"], ["read_3", "read_4"]] {
        let rows = batch.iter().map(|id| audit(id, NOW + 20, true)).collect();
        writer.record(rows).await.expect("recorded");
    }
    // The sealer moves the head under the writer (a write's row), then one more batch.
    insert_in_tx(&s, &[audit("write_1", NOW + 21, true)]).await;
    seal_all(&s).await;
    writer
        .record(vec![audit("read_5", NOW + 22, true)])
        .await
        .expect("recorded");
    let linked = s.audit_chain(1, 100).await.expect("chain");
    assert_eq!(
        ids(&linked),
        ["read_1", "read_2", "read_3", "read_4", "write_1", "read_5"]
    );
    let seqs: Vec<Option<i64>> = linked.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [Some(4), Some(5), Some(6), Some(7), Some(8), Some(9)]);
    let anchor_hash = sealed[2].hash.clone().unwrap_or_default();
    assert_eq!(
        linked[0].hash,
        Some(chain::row_hash(&anchor_hash, &linked[0], 4)),
        "the first row chains from the anchor"
    );
    let verdict = chain::verify(as_dyn(&s), None).await.expect("verify");
    assert_eq!(
        verdict,
        Verdict::Ok {
            checked: 6,
            head_seq: 9,
            head_hash: linked[5].hash.clone().unwrap_or_default()
        }
    );
}

/// A rolling upgrade: a replica still on the binary before migration 0016 calls 0015's
/// `scaivault_append_audit` with rows it sealed onto the head it remembers, beside a replica
/// on this binary. Its batch goes in when that is the head and is refused, with nothing
/// written, when the head moved; this binary's next batch then chains onto the old replica's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_on_the_previous_batch_function_writes_into_the_same_chain_on_postgres() {
    let s = BareStore::new(StoreKind::Postgres).await;
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(s.store.clone());
    let writer = scaivault::audit::writer::AuditWriter::start(store, true);
    let batch = |ids: &[&str]| {
        ids.iter()
            .map(|id| audit(id, NOW, true))
            .collect::<Vec<_>>()
    };
    writer
        .record(batch(&["new_1", "new_2"]))
        .await
        .expect("recorded");

    let raw = s.raw().await;
    let head: (i64, String) = sqlx::query_as(
        "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&raw)
    .await
    .expect("head");
    let old_call = |rows: Vec<AuditRow>, after: (i64, String)| {
        let raw = raw.clone();
        async move {
            let links = chain::seal_onto(after.clone(), &rows);
            let records: Vec<serde_json::Value> = rows
                .iter()
                .zip(&links)
                .map(|(r, (seq, hash))| {
                    serde_json::json!({
                        "id": r.id, "tenant_id": r.tenant_id, "ts": r.ts, "action": r.action,
                        "identity_type": r.identity_type.as_str(), "identity_id": r.identity_id,
                        "secret_path": r.secret_path, "version": r.version,
                        "source_ip": r.source_ip, "user_agent": r.user_agent,
                        "success": i64::from(r.success), "status_code": r.status_code,
                        "duration_ms": r.duration_ms, "request_id": r.request_id,
                        "extra_data": r.extra_data, "seq": seq, "hash": hash,
                    })
                })
                .collect();
            let (inserted,): (i64,) =
                sqlx::query_as("SELECT inserted FROM scaivault_append_audit($1, '[]', $2, $3)")
                    .bind(serde_json::Value::from(records).to_string())
                    .bind(after.0)
                    .bind(after.1)
                    .fetch_one(&raw)
                    .await
                    .expect("0015's function");
            inserted
        }
    };
    assert_eq!(old_call(batch(&["old_1"]), head.clone()).await, 1);
    assert_eq!(
        old_call(batch(&["old_2"]), head).await,
        -1,
        "a stale head is refused"
    );

    // This binary's writer remembers the head before old_1: the database seals its batch.
    writer.record(batch(&["new_3"])).await.expect("recorded");
    let linked = s.audit_chain(1, 100).await.expect("chain");
    assert_eq!(ids(&linked), ["new_1", "new_2", "old_1", "new_3"]);
    let verdict = chain::verify(as_dyn(&s), None).await.expect("verify");
    assert_eq!(
        verdict,
        Verdict::Ok {
            checked: 4,
            head_seq: 4,
            head_hash: linked[3].hash.clone().unwrap_or_default()
        }
    );
}
