//! The read cache of secret reads: a read after a write sees the write at once; a token revoked
//! where this server cannot see it (SQL, another process, another replica) fails its next read
//! and leaves a denial row; replicas on one PostgreSQL learn of each other's writes; the cache
//! can be turned off.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

both_stores!(
    a_read_after_a_change_sees_the_change,
    a_token_revoked_behind_the_servers_back_fails_its_next_read,
    repeated_reads_are_served_from_the_cache_unless_it_is_off,
    a_read_shows_the_rotation_state_after_a_scheduler_tick,
);

/// `scaivault_read_cache_{hits,misses}_total` as (hits, misses).
async fn cache_counts(app: &TestApp) -> (f64, f64) {
    use crate::metrics::{must, parse, scrape};
    let samples = parse(&scrape(app).await);
    (
        must(&samples, "scaivault_read_cache_hits_total", &[]),
        must(&samples, "scaivault_read_cache_misses_total", &[]),
    )
}

async fn read_as(app: &TestApp, path: &str, token: &str) -> crate::common::Resp {
    app.call(Method::GET, path, Some(token), None).await
}

async fn a_read_after_a_change_sees_the_change(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, tok) = app
        .create_token("reader", &["secrets:read", "secrets:list"], &[])
        .await;
    app.put_secret("cache/a", json!({"v": 1})).await;
    for _ in 0..2 {
        let r = read_as(&app, "/v1/secrets/cache/a", &tok).await;
        assert_eq!(r.body["data"]["v"], 1, "{}", r.body);
    }
    // New version: the very next read has it, and ?version=1 still reads the old one.
    app.put_secret("cache/a", json!({"v": 2})).await;
    let r = read_as(&app, "/v1/secrets/cache/a", &tok).await;
    assert_eq!(
        (r.body["data"]["v"].clone(), r.body["version"].clone()),
        (json!(2), json!(2))
    );
    let r = read_as(&app, "/v1/secrets/cache/a?version=1", &tok).await;
    assert_eq!(r.body["data"]["v"], 1, "{}", r.body);
    // Metadata without a new version.
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/cache/a/metadata",
            Some(&app.root_token),
            Some(&json!({"tags": ["fresh"]})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = read_as(&app, "/v1/secrets/cache/a", &tok).await;
    assert_eq!(r.body["metadata"]["tags"], json!(["fresh"]), "{}", r.body);
    // Delete: gone at once; restore: back at once.
    let r = app.delete("/v1/secrets/cache/a").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = read_as(&app, "/v1/secrets/cache/a", &tok).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = read_as(&app, "/v1/secrets/cache/a?version=1", &tok).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app.post("/v1/secrets/cache/a/restore", &json!({})).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = read_as(&app, "/v1/secrets/cache/a", &tok).await;
    assert_eq!(r.body["data"]["v"], 2, "{}", r.body);
}

async fn a_token_revoked_behind_the_servers_back_fails_its_next_read(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, tok) = app
        .create_token("reader", &["secrets:read", "secrets:list"], &[])
        .await;
    app.put_secret("cache/b", json!({"v": "b"})).await;
    for _ in 0..3 {
        let r = read_as(&app, "/v1/secrets/cache/b", &tok).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let (hits, _) = cache_counts(&app).await;
    assert!(
        hits >= 2.0,
        "the token was served from the cache: {hits} hits"
    );
    // Revoked with SQL, as `scaivault tokens revoke` in another process (or another replica)
    // would: this server's cache is not told, on SQLite at all.
    let db = app.db().await;
    sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
        .bind(app.clock_now().timestamp_micros())
        .bind(&id)
        .execute(&db)
        .await
        .unwrap();
    let r = read_as(&app, "/v1/secrets/cache/b", &tok).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.code(), "token_revoked");
    assert!(r.body.get("data").is_none(), "{}", r.body);
    let rid = r.header("x-request-id").expect("request id").to_string();
    let r = read_as(&app, "/v1/secrets?prefix=cache/", &tok).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // The denied read left exactly one row: a failed authentication of that identity.
    let rows = sqlx::query(
        "SELECT action, identity_id, secret_path, success, status_code, extra_data, version \
         FROM audit_log WHERE request_id = $1",
    )
    .bind(&rid)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "one row for the denied read");
    let row = &rows[0];
    assert_eq!(row.get::<String, _>("action"), "auth_failed");
    assert_eq!(row.get::<String, _>("identity_id"), "sa:reader");
    assert_eq!(row.get::<i64, _>("success"), 0);
    assert_eq!(row.get::<i64, _>("status_code"), 401);
    assert_eq!(row.get::<Option<i64>, _>("version"), None);
    assert_eq!(row.get::<Option<String>, _>("secret_path"), None);
    let extra: Value = serde_json::from_str(&row.get::<String, _>("extra_data")).unwrap();
    assert_eq!(
        extra,
        json!({"reason": "token_revoked", "path": "/v1/secrets/cache/b"})
    );
    // And no successful read was recorded for the revoked token after the revocation.
    let reads: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE identity_id = 'sa:reader' AND action = 'read' AND success = 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(reads, 3);
}

async fn repeated_reads_are_served_from_the_cache_unless_it_is_off(kind: StoreKind) {
    for entries in [10_000, 0] {
        let app = TestApp::spawn_with(kind, |c| c.read_cache_entries = entries).await;
        app.put_secret("cache/c", json!({"v": "c"})).await;
        let (hits0, misses0) = cache_counts(&app).await;
        for _ in 0..5 {
            let r = app.get("/v1/secrets/cache/c").await;
            assert_eq!(r.body["data"]["v"], "c", "{}", r.body);
        }
        let (hits, misses) = cache_counts(&app).await;
        if entries > 0 {
            // First read: token and secret miss; the next four hit both.
            assert_eq!(
                (hits - hits0, misses - misses0),
                (8.0, 2.0),
                "entries={entries}"
            );
        } else {
            assert_eq!(
                (hits - hits0, misses - misses0),
                (0.0, 0.0),
                "entries={entries}"
            );
        }
    }
}

async fn a_read_shows_the_rotation_state_after_a_scheduler_tick(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| {
        c.scheduler_tick = scaivault::domain::duration::ApiDuration::parse("1h").unwrap()
    })
    .await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "daily", "interval": "1d", "grace_period": "1h"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = app
        .put(
            "/v1/secrets/cache/rot",
            &json!({"data": {"v": 1}, "options": {"rotation_policy_id": "rot_daily"}}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    // On PostgreSQL the write's own NOTIFY may arrive a little later and empty the cache once,
    // so three reads in a row served from the cache are looked for a few times.
    let mut served = false;
    for _ in 0..10 {
        let (hits0, _) = cache_counts(&app).await;
        for _ in 0..3 {
            let r = app.get("/v1/secrets/cache/rot").await;
            assert_eq!(r.body["rotation"]["status"], "scheduled", "{}", r.body);
        }
        let (hits, _) = cache_counts(&app).await;
        if hits - hits0 >= 6.0 {
            served = true;
            break;
        }
    }
    assert!(served, "token, secret and schedule served from the cache");
    // The scheduler opens the due rotation: the next read shows it.
    app.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let report = scaivault::scheduler::tick(&app.state).await.unwrap();
    assert_eq!(report.opened, 1, "{report:?}");
    let db = app.db().await;
    let stored: String = sqlx::query_scalar(
        "SELECT r.status FROM rotation_schedule r JOIN secrets s ON s.id = r.secret_id \
         WHERE s.path = 'cache/rot'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_ne!(stored, "scheduled");
    let r = app.get("/v1/secrets/cache/rot").await;
    assert_eq!(r.body["rotation"]["status"], stored.as_str(), "{}", r.body);
}

/// Two replicas on one PostgreSQL: a write on one reaches the other's cache through
/// LISTEN/NOTIFY (polled, bounded), and a revocation on one fails the other's next read at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_learn_of_each_others_writes() {
    let a = TestApp::spawn(StoreKind::Postgres).await;
    let b = a.replica().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_base = format!("http://{}", listener.local_addr().unwrap());
    let router = b.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let (id, tok) = a.create_token("reader", &["secrets:read"], &[]).await;
    let read_b = || async {
        let r = a
            .client
            .get(format!("{b_base}/v1/secrets/cache/r"))
            .bearer_auth(&tok)
            .send()
            .await
            .expect("read on b");
        (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    a.put_secret("cache/r", json!({"v": 1})).await;
    for _ in 0..2 {
        let (status, body) = read_b().await;
        assert_eq!(
            (status, body["data"]["v"].clone()),
            (StatusCode::OK, json!(1))
        );
    }
    a.put_secret("cache/r", json!({"v": 2})).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, body) = read_b().await;
        if body["data"]["v"] == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b never saw version 2"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = a.delete(&format!("/v1/auth/tokens/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let (status, body) = read_b().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "token_revoked", "{body}");
}

/// PostgreSQL: while the change listener is disconnected the cache must not serve what it
/// cannot know is current. A change made with SQL right after the listener's connection is
/// killed (its notification is lost) still reaches the next reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_connection_never_leaves_stale_reads() {
    let app = TestApp::spawn(StoreKind::Postgres).await;
    app.put_secret("cache/l", json!({"v": 1})).await;
    for _ in 0..2 {
        let r = app.get("/v1/secrets/cache/l").await;
        assert_eq!(r.body["metadata"]["description"], Value::Null, "{}", r.body);
    }
    // One transaction changes the row and kills the listener's connection before it
    // commits: the notification goes out while nobody listens, so it is lost.
    let db = app.db().await;
    let mut tx = db.begin().await.unwrap();
    sqlx::query(
        "UPDATE secrets SET description = 'changed behind its back' WHERE path = 'cache/l'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%') t",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(killed, 1, "one listener connection per server");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = app.get("/v1/secrets/cache/l").await;
        if r.body["metadata"]["description"] == "changed behind its back" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stale read: {}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // And the listener is back: a later SQL change arrives by notification again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND query LIKE 'LISTEN%'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if n == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listener never reconnected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
