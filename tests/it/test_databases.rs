//! The harness's PostgreSQL databases go when their test ends, also when it fails: nothing is
//! left for the next run to clean up.

use crate::common::{fresh_pg_database, pg_admin_url};
use sqlx::Connection;

async fn exists(name: &str) -> bool {
    let mut conn = sqlx::postgres::PgConnection::connect(&pg_admin_url())
        .await
        .expect("PostgreSQL reachable");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("query pg_database");
    let _ = conn.close().await;
    n > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_test_drops_its_postgres_database() {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    // A "test" on a runtime of its own that fails (panics) while holding its database.
    let failed = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let db = fresh_pg_database().await;
            let name = db.rsplit('/').next().unwrap_or_default().to_string();
            tx.send(name).expect("send name");
            panic!("this test fails on purpose");
        })
    })
    .join();
    assert!(failed.is_err(), "the inner test did not fail");
    let name = rx.recv().expect("the inner test made a database");
    assert!(name.starts_with("svt_"), "{name}");
    assert!(!exists(&name).await, "{name} outlived its failed test");
    // And one that passes: gone as soon as the guard is.
    let db = fresh_pg_database().await;
    let name = db.rsplit('/').next().unwrap_or_default().to_string();
    assert!(exists(&name).await);
    drop(db);
    assert!(!exists(&name).await, "{name} outlived its test");
}
