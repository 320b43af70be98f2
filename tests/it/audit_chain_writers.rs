//! Audit rows written at once by several writers form one hash chain with every answered read
//! in it: two replicas' group-commit writers (PostgreSQL; on SQLite one process serves the
//! file, so both sides are the same server), and the sealer sealing the rows of writes in
//! between. Each writer seals its batch onto the head its last batch left; when another writer
//! moved the head, the database must seal the batch again onto the head it finds, never write
//! it out of place.

use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::both_stores!(reads_on_two_replicas_and_sealed_writes_form_one_chain);

const ROUNDS: usize = 3;
const READERS_PER_SIDE: usize = 4;
const READS_PER_READER: usize = 10;

/// `GET {base}/v1/secrets/chain/s` with the request id `rid`; the status.
async fn read(app: &TestApp, base: &str, rid: String) -> StatusCode {
    app.client
        .get(format!("{base}/v1/secrets/chain/s"))
        .bearer_auth(&app.root_token)
        .header("x-request-id", rid)
        .send()
        .await
        .expect("read")
        .status()
}

async fn reads_on_two_replicas_and_sealed_writes_form_one_chain(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let other = match kind {
        StoreKind::Postgres => Some(app.serve_replica(|_| {}).await),
        StoreKind::Sqlite => None,
    };
    let bases = [
        app.url(""),
        other
            .as_ref()
            .map_or_else(|| app.url(""), |r| r.base.clone()),
    ];
    assert!(app
        .put_secret("chain/s", json!({"v": 0}))
        .await
        .status
        .is_success());

    for round in 0..ROUNDS {
        let mut reads = Vec::new();
        for (side, base) in bases.iter().enumerate() {
            for reader in 0..READERS_PER_SIDE {
                let (app, base) = (&app, base.as_str());
                reads.push(async move {
                    let mut statuses = Vec::new();
                    for n in 0..READS_PER_READER {
                        let rid = format!("chain-{round}-{side}-{reader}-{n}");
                        statuses.push(read(app, base, rid).await);
                    }
                    statuses
                });
            }
        }
        // Meanwhile writes, whose rows the sealer chains: the head moves under the readers'
        // writers.
        let writes = async {
            for n in 0..3 {
                let r = app
                    .put_secret(&format!("chain/w{round}-{n}"), json!({"n": n}))
                    .await;
                assert!(r.status.is_success(), "{}", r.body);
                scaivault::audit::sealer::seal_all(&app.state)
                    .await
                    .expect("seal");
            }
        };
        let (statuses, ()) = tokio::join!(futures_util::future::join_all(reads), writes);
        for s in statuses.into_iter().flatten() {
            assert_eq!(s, StatusCode::OK);
        }
    }
    scaivault::audit::sealer::seal_all(&app.state)
        .await
        .expect("seal");

    let db = app.db().await;
    let answered: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT request_id) FROM audit_log WHERE action = 'read' \
         AND request_id LIKE 'chain-%' AND success = 1",
    )
    .fetch_one(&db)
    .await
    .expect("count reads");
    assert_eq!(
        answered,
        (ROUNDS * 2 * READERS_PER_SIDE * READS_PER_READER) as i64,
        "every answered read has its row"
    );
    let unsealed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL")
        .fetch_one(&db)
        .await
        .expect("count unsealed");
    assert_eq!(unsealed, 0);
    let (rows, distinct_seqs, max_seq): (i64, i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM audit_log")
            .fetch_one(&db)
            .await
            .expect("chain shape");
    assert_eq!(
        (distinct_seqs, max_seq),
        (rows, rows),
        "one link per row, no gap"
    );

    let r = app.get("/v1/audit/verify?full=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v: &Value = &r.body;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checked"], rows, "{v}");
}
