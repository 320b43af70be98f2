//! A client that hangs up mid-request cannot cut the request short: the write it started
//! commits whole (with its audit row and event), and no connection is left inside a
//! transaction. Each request runs on its own task (`http::run_to_completion`).

use crate::common::{pg_admin_url, StoreKind, TestApp};
use serde_json::json;
use sqlx::Connection;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_survives_client_disconnect_postgres() {
    let app = TestApp::spawn(StoreKind::Postgres).await;
    app.put_secret("dc/x", json!({"v": 1})).await;
    let db_name = app.database_url.rsplit('/').next().unwrap().to_string();

    // Hold a lock that makes the server's write wait inside its transaction.
    let mut blocker = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let mut tx = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE secret_versions IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();

    // Send a PUT over a raw socket, then hang up while the server waits on the lock.
    let body = json!({"data": {"v": 2}}).to_string();
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "PUT /v1/secrets/dc/x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        app.root_token,
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let admin = sqlx::PgPool::connect(&pg_admin_url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&db_name)
        .fetch_one(&admin)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the write never reached the lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(sock);
    // Give the server a moment to notice the hang-up before the lock goes.
    let r = app.get("/v1/health").await;
    assert!(r.status.is_success());
    tx.rollback().await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get("/v1/secrets/dc/x").await;
        if r.body["version"] == 2 {
            assert_eq!(r.body["data"]["v"], 2);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the disconnected client's write was lost: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stuck: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(&db_name)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(stuck, 0, "connections left inside a transaction");
}
