//! Audit: every action's row as a user expects it, filters, pagination, isolation, the hash
//! chain's tamper detection, export, and retention.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;

both_stores!(
    each_action_leaves_the_expected_row,
    filters_and_pagination,
    path_rules_and_tenants_limit_what_is_seen,
    verify_detects_tampering,
    export_streams_jsonl_and_csv,
    retention_keeps_the_chain_verifiable,
    retention_never_deletes_a_row_younger_than_the_cutoff,
    reads_and_writes_interleave_into_one_unbroken_chain,
    another_writer_appending_meanwhile_leaves_one_unbroken_chain,
    per_secret_and_identity_views,
);

/// A response and the row it should leave: action, path, version, status.
type Case = (
    crate::common::Resp,
    &'static str,
    Option<&'static str>,
    Option<i64>,
    i64,
);

/// How many rows a filtered query returns.
async fn count(app: &TestApp, q: &str) -> usize {
    let r = app.get(&format!("/v1/audit/logs?limit=1000&{q}")).await;
    r.body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: {}", r.body))
        .len()
}

/// The audit rows whose request_id is `rid`.
async fn rows_for(app: &TestApp, rid: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/audit/logs?request_id={rid}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["logs"].as_array().unwrap().clone()
}

async fn one_row(app: &TestApp, r: &crate::common::Resp) -> Value {
    let rid = r.header("x-request-id").unwrap().to_string();
    let rows = rows_for(app, &rid).await;
    assert_eq!(rows.len(), 1, "rows for {rid}: {rows:?}");
    assert_eq!(rows[0]["request_id"], rid);
    rows[0].clone()
}

async fn each_action_leaves_the_expected_row(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let canary = "AUDIT-CANARY-VALUE";
    let cases: Vec<Case> = vec![
        (app.put("/v1/secrets/au/x", &json!({"data": {"pw": canary}})).await, "write", Some("au/x"), Some(1), 201),
        (app.put("/v1/secrets/au/x", &json!({"data": {"pw": canary}})).await, "write", Some("au/x"), Some(2), 200),
        (app.get("/v1/secrets/au/x").await, "read", Some("au/x"), Some(2), 200),
        (app.get("/v1/secrets/au/x/metadata").await, "read_metadata", Some("au/x"), Some(2), 200),
        (app.get("/v1/secrets?prefix=au/").await, "list", Some("au/"), None, 200),
        (app.delete("/v1/secrets/au/x").await, "delete", Some("au/x"), Some(2), 200),
        (app.post("/v1/secrets/au/x/restore", &json!({})).await, "restore", Some("au/x"), Some(2), 200),
        (app.get("/v1/secrets/au/missing").await, "read", Some("au/missing"), None, 404),
        (app.call(Method::DELETE, "/v1/secrets/au/x?permanent=true", Some(&app.root_token), None).await, "destroy", Some("au/x"), Some(2), 200),
        (app.post("/v1/auth/tokens", &json!({"name": "n", "scopes": ["secrets:read"]})).await, "token_create", None, None, 201),
        (app.call(Method::GET, "/v1/secrets/au/x", Some("skt_wrong"), None).await, "auth_failed", None, None, 401),
        (app.post("/v1/webhooks", &json!({"name": "w", "url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef", "events": ["*"]})).await, "webhook_create", None, None, 201),
    ];
    for (r, act, path, version, status) in &cases {
        let row = one_row(&app, r).await;
        assert_eq!(row["action"], *act, "{row}");
        assert_eq!(row["secret_path"], json!(path), "{row}");
        if version.is_some() {
            assert_eq!(row["version"], json!(version), "{row}");
        }
        assert_eq!(row["status_code"], *status, "{row}");
        assert_eq!(row["success"], *status < 400, "{row}");
        let expected_identity = if *act == "auth_failed" {
            "anonymous"
        } else {
            "user:root"
        };
        assert_eq!(row["identity_id"], expected_identity);
        assert!(row["source_ip"].as_str().unwrap().starts_with("127."));
        assert!(row["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let all = app.get("/v1/audit/logs?limit=1000").await;
    let text = all.body.to_string();
    assert!(
        !text.contains(canary),
        "a secret value reached the audit log"
    );
    assert!(!text.contains(&app.root_token));
}

async fn filters_and_pagination(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, reader) = app.create_token("reader", &["secrets:read"], &[]).await;
    for i in 0..6 {
        app.put_secret(&format!("pg/{i}"), json!({"i": i})).await;
    }
    for i in 0..3 {
        app.call(
            Method::GET,
            &format!("/v1/secrets/pg/{i}"),
            Some(&reader),
            None,
        )
        .await;
    }
    app.call(
        Method::PUT,
        "/v1/secrets/pg/0",
        Some(&reader),
        Some(&json!({"data": {}})),
    )
    .await;
    assert_eq!(count(&app, "action=read").await, 3);
    assert_eq!(count(&app, "action=read,write").await, 3 + 6 + 1);
    assert_eq!(count(&app, "identity_id=sa:reader").await, 4);
    assert_eq!(count(&app, "identity_type=service_account").await, 4);
    assert_eq!(count(&app, "success=false").await, 1);
    assert_eq!(
        count(&app, "success=false&identity_id=sa:reader&action=write").await,
        1
    );
    assert_eq!(count(&app, "path_prefix=pg/1").await, 2);
    let future = (app.clock_now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(count(&app, &format!("from={future}")).await, 0);
    assert_eq!(
        app.get("/v1/audit/logs?from=yesterday").await.code(),
        "invalid_request"
    );
    assert_eq!(
        app.get("/v1/audit/logs?cursor=zzz").await.code(),
        "invalid_cursor"
    );
    // Pages of 3 visit every row exactly once, newest first.
    let total = count(&app, "").await;
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    let mut last_ts = String::from("9999");
    loop {
        let r = app
            .get(&format!("/v1/audit/logs?limit=3&cursor={cursor}"))
            .await;
        for row in r.body["logs"].as_array().unwrap() {
            assert!(
                seen.insert(row["id"].as_str().unwrap().to_string()),
                "row seen twice"
            );
            let ts = row["timestamp"].as_str().unwrap().to_string();
            assert!(ts <= last_ts, "not newest first");
            last_ts = ts;
        }
        if r.body["has_more"] == false {
            assert_eq!(r.body["cursor"], Value::Null);
            break;
        }
        cursor = r.body["cursor"].as_str().unwrap().to_string();
    }
    assert_eq!(seen.len(), total);
    let s = app.get("/v1/audit/summary").await;
    assert_eq!(s.body["total_events"], total);
    assert_eq!(s.body["failed_events"], 1);
    assert_eq!(s.body["by_action"]["read"], 3);
}

async fn path_rules_and_tenants_limit_what_is_seen(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("team-a/x", json!({"v": 1})).await;
    app.put_secret("team-b/x", json!({"v": 1})).await;
    let (_, a) = app.create_token("a", &["audit:read"], &["team-a/"]).await;
    let r = app
        .call(Method::GET, "/v1/audit/logs?limit=1000", Some(&a), None)
        .await;
    let rows = r.body["logs"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|x| x["secret_path"]
        .as_str()
        .is_some_and(|p| p.starts_with("team-a/"))));
    let r = app
        .call(Method::GET, "/v1/audit/secrets/team-b/x", Some(&a), None)
        .await;
    assert_eq!(r.code(), "access_denied");
    let b = app.token_in_tenant("tnt_b", &["audit:read"]).await;
    let r = app
        .call(Method::GET, "/v1/audit/logs", Some(&b), None)
        .await;
    assert_eq!(r.body["logs"], json!([]));
    let (_, reader) = app.create_token("r", &["secrets:read"], &[]).await;
    let r = app
        .call(Method::GET, "/v1/audit/logs", Some(&reader), None)
        .await;
    assert_eq!(r.code(), "insufficient_scope");
}

async fn sealed(app: &TestApp) {
    scaivault::audit::sealer::seal_all(&app.state)
        .await
        .unwrap();
}

async fn verify(app: &TestApp) -> Value {
    let r = app.get("/v1/audit/verify").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// A full verification (from the chain's start, not from the checkpoint), a minute after the
/// previous one so the per-tenant budget of full runs never refuses it.
async fn verify_full(app: &TestApp) -> Value {
    app.clock.advance(chrono::Duration::seconds(61));
    let r = app.get("/v1/audit/verify?full=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["mode"], "full", "{}", r.body);
    r.body
}

/// Checks every audit row is sealed, seq numbers run 1..=rows with each used once, and verify
/// accepts the chain having checked every row; returns the number of rows.
async fn whole_chain(app: &TestApp, db: &sqlx::AnyPool) -> i64 {
    let (rows, unsealed, distinct, max): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) - COUNT(seq), COUNT(DISTINCT seq), COALESCE(MAX(seq), 0) \
         FROM audit_log",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(unsealed, 0);
    assert_eq!(
        (distinct, max),
        (rows, rows),
        "seq numbers are 1..=rows, each once"
    );
    let v = verify(app).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checked"], rows);
    rows
}

async fn verify_detects_tampering(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for i in 0..10 {
        app.put_secret(&format!("t/{i}"), json!({"i": i})).await;
    }
    sealed(&app).await;
    let v = verify_full(&app).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["checked"].as_i64().unwrap() >= 10);
    let head = v["head_hash"].as_str().unwrap().to_string();
    assert_eq!(head.len(), 64);
    let db = app.db().await;

    // 1. One changed field in an old row.
    sqlx::query("UPDATE audit_log SET identity_id = 'user:mallory' WHERE seq = 3")
        .execute(&db)
        .await
        .unwrap();
    let v = verify_full(&app).await;
    assert_eq!(
        (v["ok"].clone(), v["first_bad_seq"].clone()),
        (json!(false), json!(3)),
        "{v}"
    );
    sqlx::query("UPDATE audit_log SET identity_id = 'user:root' WHERE seq = 3")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(verify_full(&app).await["ok"], true);

    // 2. One deleted row.
    let saved: (String, String) = sqlx::query_as("SELECT id, hash FROM audit_log WHERE seq = 5")
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET seq = 1000005 WHERE seq = 5")
        .execute(&db)
        .await
        .unwrap();
    let v = verify_full(&app).await;
    assert_eq!(
        (v["ok"].clone(), v["first_bad_seq"].clone()),
        (json!(false), json!(5)),
        "{v}"
    );
    sqlx::query("UPDATE audit_log SET seq = 5 WHERE id = $1")
        .bind(&saved.0)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(verify_full(&app).await["ok"], true);
    sqlx::query("DELETE FROM audit_log WHERE seq = 6")
        .execute(&db)
        .await
        .unwrap();
    let v = verify_full(&app).await;
    assert_eq!(
        (v["ok"].clone(), v["first_bad_seq"].clone()),
        (json!(false), json!(6)),
        "{v}"
    );

    // 3. One inserted row (copied from a real one, placed in the chain).
    let app2 = TestApp::spawn(kind).await;
    for i in 0..6 {
        app2.put_secret(&format!("t/{i}"), json!({"i": i})).await;
    }
    sealed(&app2).await;
    let db2 = app2.db().await;
    sqlx::query("UPDATE audit_log SET seq = seq + 1 WHERE seq >= 4")
        .execute(&db2)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, ts, action, identity_type, identity_id, secret_path, version, source_ip, user_agent, success, status_code, duration_ms, request_id, extra_data, seq, hash) \
         SELECT 'log_forged', tenant_id, ts, 'read', identity_type, identity_id, secret_path, version, source_ip, user_agent, success, 200, duration_ms, request_id, extra_data, 4, hash FROM audit_log WHERE seq = 3",
    )
    .execute(&db2)
    .await
    .unwrap();
    let v = app2.get("/v1/audit/verify?full=true").await.body;
    assert_eq!(
        (v["ok"].clone(), v["first_bad_seq"].clone()),
        (json!(false), json!(4)),
        "{v}"
    );
}

async fn export_streams_jsonl_and_csv(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for i in 0..5 {
        app.put_secret(&format!("ex/{i}"), json!({"i": i})).await;
    }
    let res = app
        .client
        .post(app.url("/v1/audit/export"))
        .bearer_auth(&app.root_token)
        .json(&json!({"format": "jsonl", "filters": {"action": ["write"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l["action"] == "write"));
    let res = app
        .client
        .post(app.url("/v1/audit/export"))
        .bearer_auth(&app.root_token)
        .json(&json!({"format": "csv"}))
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    let mut rows = csv.lines();
    assert!(rows.next().unwrap().starts_with("id,timestamp,action"));
    assert!(rows.count() >= 7, "{csv}");
    // Both exports are themselves audited.
    let r = app.get("/v1/audit/logs?action=export_created").await;
    assert_eq!(r.body["logs"].as_array().unwrap().len(), 2);
    let r = app
        .post("/v1/audit/export", &json!({"format": "xml"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, reader) = app.create_token("r", &["audit:read"], &[]).await;
    let r = app
        .call(
            Method::POST,
            "/v1/audit/export",
            Some(&reader),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.code(), "insufficient_scope");
}

/// Applies a 30-day retention as of the test clock's now, as the sealer loop does with
/// `audit_retention = "30d"`. The test servers run without that setting: their sealer loop
/// applies it on its first pass, at a moment of its own, reading the clock these tests move:
/// under load that pass came after a test had set the clock weeks ahead, and deleted the rows
/// before the test's own pass (which then found nothing to delete).
async fn retain_30_days(app: &TestApp) -> u64 {
    let before = app.clock_now() - chrono::Duration::days(30);
    app.state
        .store
        .apply_audit_retention(
            scaivault::clock::to_micros(before),
            scaivault::audit::chain::ANCHOR_KEY,
        )
        .await
        .unwrap()
}

async fn retention_keeps_the_chain_verifiable(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for i in 0..4 {
        app.put_secret(&format!("old/{i}"), json!({"i": i})).await;
    }
    sealed(&app).await;
    app.clock.advance(chrono::Duration::days(31));
    app.put_secret("new/x", json!({"i": 1})).await;
    sealed(&app).await;
    let deleted = retain_30_days(&app).await;
    assert!(deleted >= 4, "{deleted}");
    let r = app.get("/v1/audit/logs?path_prefix=old/").await;
    assert_eq!(r.body["logs"], json!([]));
    let r = app.get("/v1/audit/logs?path_prefix=new/").await;
    assert_eq!(r.body["logs"].as_array().unwrap().len(), 1);
    app.get("/v1/secrets/new/x").await;
    sealed(&app).await;
    let v = verify(&app).await;
    assert_eq!(v["ok"], true, "{v}");
}

/// Seq order and time order can differ (a write's row is sealed by the sealer after younger
/// reads were sealed as they were written; on PostgreSQL, a transaction commits late):
/// retention deletes only a prefix of the chain that is entirely older than the cutoff.
async fn retention_never_deletes_a_row_younger_than_the_cutoff(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let start = scaivault::clock::Clock::now(&app.clock);
    app.put_secret("keep/x", json!({"i": 1})).await;
    sealed(&app).await;
    // A read at day 40 is chained first, then a write stamped day 0.
    app.clock.set(start + chrono::Duration::days(40));
    let read = app.get("/v1/secrets/keep/x").await;
    assert_eq!(read.status, StatusCode::OK);
    sealed(&app).await;
    app.clock.set(start);
    app.put_secret("keep/y", json!({"i": 2})).await;
    sealed(&app).await;
    // Cutoff: day 35. Everything chained before the day-40 read is older: only that goes.
    app.clock.set(start + chrono::Duration::days(65));
    let deleted = retain_30_days(&app).await;
    let read_row = one_row(&app, &read).await;
    assert_eq!(read_row["action"], "read");
    assert!(
        deleted >= 1,
        "the day-0 rows chained before the read are deleted"
    );
    let r = app
        .get("/v1/audit/logs?path_prefix=keep/x&action=write")
        .await;
    assert_eq!(r.body["logs"], json!([]), "{}", r.body);
    // The day-0 write chained after the read stays until the rows before it go.
    let r = app
        .get("/v1/audit/logs?path_prefix=keep/y&action=write")
        .await;
    assert_eq!(r.body["logs"].as_array().unwrap().len(), 1, "{}", r.body);
    let v = verify(&app).await;
    assert_eq!(v["ok"], true, "{v}");
}

/// Reads (chained as they are written on SQLite) and writes (chained by the sealer)
/// alternate; after each sealer pass the chain must go on from the sealer's last row.
async fn reads_and_writes_interleave_into_one_unbroken_chain(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for round in 0..4 {
        app.put_secret(&format!("mix/{round}"), json!({"round": round}))
            .await;
        for _ in 0..3 {
            let r = app.get(&format!("/v1/secrets/mix/{round}")).await;
            assert_eq!(r.status, StatusCode::OK);
        }
        sealed(&app).await;
    }
    let db = app.db().await;
    let rows = whole_chain(&app, &db).await;
    assert!(rows >= 16, "{rows}");
    if kind == StoreKind::Sqlite {
        // SQLite seals a read's row in its INSERT: no sealer pass needed.
        let r = app.get("/v1/secrets/mix/0").await;
        let rid = r.header("x-request-id").unwrap().to_string();
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM audit_log WHERE request_id = $1")
                .bind(&rid)
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(seq, Some(rows + 1));
    }
}

/// A second connection to the same database (as a CLI command run beside the server is)
/// appends audit rows while the server reads and writes. Everything succeeds (on SQLite no
/// transaction may fail because the other connection wrote after it read), and after a sealer
/// pass the chain holds every row once, unbroken.
async fn another_writer_appending_meanwhile_leaves_one_unbroken_chain(kind: StoreKind) {
    use scaivault::store::Store;
    let app = TestApp::spawn(kind).await;
    app.put_secret("cli/x", json!({"v": 1})).await;
    sealed(&app).await;
    let other = scaivault::store::SqlStore::connect(&app.database_url, 2)
        .await
        .unwrap();
    // The server's reads and writes, and the other writer's appends, at the same time.
    let reads = async {
        for _ in 0..40 {
            let batch = (0..4).map(|_| app.get("/v1/secrets/cli/x"));
            for r in futures_util::future::join_all(batch).await {
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            }
        }
    };
    let writes = async {
        for i in 0..20 {
            let r = app
                .put(&format!("/v1/secrets/cli/w{i}"), &json!({"data": {"i": i}}))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
    };
    let appends = async {
        for i in 0..20 {
            let row = scaivault::audit::system_row(
                scaivault::domain::token::DEFAULT_TENANT,
                "cli",
                scaivault::clock::Clock::now(&app.clock),
                "key_rotate",
                None,
                None,
                json!({ "i": i }),
            );
            other.insert_audit(&[row]).await.unwrap();
        }
    };
    tokio::join!(reads, writes, appends);
    let r = app.get("/v1/secrets/cli/x").await;
    assert_eq!(r.status, StatusCode::OK);
    sealed(&app).await;
    let db = app.db().await;
    whole_chain(&app, &db).await;
    let cli_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE identity_id = 'cli'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(cli_rows, 20);
    other.close().await;
}

async fn per_secret_and_identity_views(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, svc) = app.create_token("svc", &["secrets:read"], &[]).await;
    app.put_secret("v/s", json!({"a": 1})).await;
    app.put_secret("v/s", json!({"a": 2})).await;
    for _ in 0..3 {
        app.call(Method::GET, "/v1/secrets/v/s", Some(&svc), None)
            .await;
    }
    let r = app.get("/v1/audit/secrets/v/s").await;
    assert_eq!(r.body["secret_path"], "v/s");
    assert_eq!(r.body["summary"]["reads"], 3);
    assert_eq!(r.body["summary"]["writes"], 2);
    assert_eq!(r.body["summary"]["unique_identities"], 2);
    assert_eq!(r.body["summary"]["period_days"], 30);
    assert_eq!(r.body["logs"].as_array().unwrap().len(), 5);
    let r = app.get("/v1/audit/identities/sa:svc").await;
    assert_eq!(r.body["summary"]["reads"], 3);
    assert_eq!(r.body["logs"].as_array().unwrap().len(), 3);
}

/// The server's own sealer loop (or another replica's) may be in a pass when a test seals:
/// `seal_all` must wait for that pass and then seal the rest, not return at once with rows
/// unsealed (which made the PostgreSQL audit tests fail now and then under load). Here a side
/// connection holds the sealer's turn, as that pass does, until `seal_all` is seen waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_all_waits_for_a_sealer_in_a_pass_on_postgres() {
    use sqlx::Connection;
    let app = TestApp::spawn(StoreKind::Postgres).await;
    let mut other = sqlx::postgres::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    // The key of the sealer's advisory lock (the PostgreSQL dialect in store/sql_store.rs).
    sqlx::query("SELECT pg_advisory_lock(7243002)")
        .execute(&mut other)
        .await
        .unwrap();
    app.put_secret("turn/x", json!({"v": 1})).await;
    let db = app.db().await;
    let waiting = async {
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND objid = 7243002 \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            if n > 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    let seal = sealed(&app);
    tokio::pin!(seal);
    tokio::select! {
        _ = &mut seal => panic!("seal_all returned while another sealer had the turn"),
        _ = waiting => {}
    }
    sqlx::query("SELECT pg_advisory_unlock(7243002)")
        .execute(&mut other)
        .await
        .unwrap();
    seal.await;
    whole_chain(&app, &db).await;
}

/// Two replicas apply retention at once, each with its own clock: the one with the later
/// cutoff (here a side connection doing what its pass does: take the sealer's turn, move the
/// anchor, delete) commits while the other's pass is under way. The earlier cutoff must not
/// move the anchor back behind the rows the first deleted (verify would report them missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retention_never_moves_the_anchor_back_on_postgres() {
    use sqlx::Connection;
    let app = TestApp::spawn(StoreKind::Postgres).await;
    let t0 = app.clock_now();
    for i in 0..4 {
        app.put_secret(&format!("old/{i}"), json!({"i": i})).await;
    }
    sealed(&app).await;
    app.clock.advance(chrono::Duration::days(10));
    for i in 0..3 {
        app.put_secret(&format!("mid/{i}"), json!({"i": i})).await;
    }
    sealed(&app).await;
    app.clock.advance(chrono::Duration::days(10));
    app.put_secret("new/x", json!({"i": 1})).await;
    sealed(&app).await;
    let mut other = sqlx::postgres::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    // The other replica's pass, cutoff day 15: everything before the mid/ rows' end goes.
    let cutoff = scaivault::clock::to_micros(t0 + chrono::Duration::days(15));
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(7243002)")
        .execute(&mut other)
        .await
        .unwrap();
    let (seq, hash): (i64, String) = sqlx::query_as(
        "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL AND ts < $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(cutoff)
    .fetch_one(&mut other)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(scaivault::audit::chain::ANCHOR_KEY)
    .bind(scaivault::audit::chain::anchor_value(seq, &hash))
    .execute(&mut other)
    .await
    .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
        .bind(seq)
        .execute(&mut other)
        .await
        .unwrap();
    // This replica's pass, cutoff day 5, runs until it waits on the other's transaction.
    let before = scaivault::clock::to_micros(t0 + chrono::Duration::days(5));
    let store = app.state.store.clone();
    let mine = tokio::spawn(async move {
        store
            .apply_audit_retention(before, scaivault::audit::chain::ANCHOR_KEY)
            .await
    });
    let db = app.db().await;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE NOT l.granted AND a.datname = current_database()",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(!mine.is_finished(), "the second pass never waited");
        tokio::task::yield_now().await;
    }
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    mine.await.unwrap().unwrap();
    let anchor: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(scaivault::audit::chain::ANCHOR_KEY)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        anchor,
        scaivault::audit::chain::anchor_value(seq, &hash),
        "the anchor stays where the later cutoff put it"
    );
    let v = verify(&app).await;
    assert_eq!(v["ok"], true, "{v}");
}
