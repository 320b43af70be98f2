//! The store goes away and comes back: requests get 503 `service_unavailable` (never 500,
//! never a hang), and the server recovers by itself. PostgreSQL through a TCP proxy the test
//! can cut; SQLite has no server to lose.

use crate::common::{fresh_pg_database, StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP forwarder to PostgreSQL that can drop every connection and refuse new ones.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_then_recovers() {
    let db_url = fresh_pg_database().await;
    let (head, db_name) = db_url.rsplit_once('/').expect("db url");
    let host_port = head.rsplit('@').next().expect("host").to_string();
    let proxy = Proxy::start(host_port.clone()).await;
    let proxied = format!(
        "{}@127.0.0.1:{}/{db_name}",
        head.rsplit_once('@')
            .map(|(u, _)| u)
            .unwrap_or("postgres://postgres"),
        proxy.port
    );
    let app = TestApp::spawn_with(StoreKind::Postgres, |c| c.database_url = proxied.clone()).await;
    app.put_secret("svc/db", json!({"password": "p1"})).await;

    proxy.down();
    let started = Instant::now();
    let r = app.get("/v1/secrets/svc/db").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.code(), "service_unavailable");
    assert_eq!(
        r.header("retry-after"),
        Some("1"),
        "a 503 says when to retry"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "an outage must not hang requests"
    );
    let w = app
        .put("/v1/secrets/svc/db", &json!({"data": {"password": "p2"}}))
        .await;
    assert_eq!(w.status, StatusCode::SERVICE_UNAVAILABLE);
    let ready = app
        .call(reqwest::Method::GET, "/v1/health/ready", None, None)
        .await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["status"], "not_ready");
    assert_eq!(ready.body["checks"]["database"], "error");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.get("/v1/secrets/svc/db").await;
        if r.status == StatusCode::OK {
            // The write attempted during the outage changed nothing.
            assert_eq!(r.body["data"]["password"], "p1");
            assert_eq!(r.body["version"], 1);
            break;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "server did not recover after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = app
        .call(reqwest::Method::GET, "/v1/health/ready", None, None)
        .await;
    assert_eq!(ready.status, StatusCode::OK);
}
