//! The real binary, configured only through its environment: `SCAIVAULT_METRICS_LISTEN` opens
//! the unauthenticated metrics listener and `SCAIVAULT_RATE_LIMIT_READS` limits reads per token.
//! The child runs with a cleared environment in a temporary directory and is killed on drop.

use crate::both_stores;
use crate::common::{fresh_pg_database, StoreKind, TestDb};
use base64::Engine;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

both_stores!(binary_reads_metrics_and_rate_limit_settings);

const BIN: &str = env!("CARGO_BIN_EXE_scaivault");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn binary_reads_metrics_and_rate_limit_settings(kind: StoreKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = match kind {
        StoreKind::Postgres => fresh_pg_database().await,
        StoreKind::Sqlite => {
            TestDb::file(format!("sqlite://{}", dir.path().join("sv.db").display()))
        }
    };
    let key =
        base64::engine::general_purpose::STANDARD.encode(scaivault::domain::ids::random_bytes(32));
    let root = format!("skt_root_{}", uuid::Uuid::new_v4().simple());
    let (api, metrics) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .envs([
            ("SCAIVAULT_LISTEN", api.as_str()),
            ("SCAIVAULT_DATABASE_URL", db.as_str()),
            ("SCAIVAULT_MASTER_KEY", key.as_str()),
            ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
            ("SCAIVAULT_METRICS_LISTEN", metrics.as_str()),
            ("SCAIVAULT_RATE_LIMIT_READS", "2"),
            ("SCAIVAULT_LOG_FORMAT", "json"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn scaivault");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("http://{api}/v1/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "scaivault exited during start"
        );
        assert!(Instant::now() < deadline, "scaivault did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let r = client
        .put(format!("http://{api}/v1/secrets/bin/a"))
        .bearer_auth(&root)
        .json(&serde_json::json!({"data": {"v": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert!(
        r.headers().get("x-ratelimit-limit").is_none(),
        "writes are not limited"
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = client
            .get(format!("http://{api}/v1/secrets/bin/a"))
            .bearer_auth(&root)
            .send()
            .await
            .unwrap();
        let limit = r.headers().get("x-ratelimit-limit").cloned();
        statuses.push((
            r.status().as_u16(),
            limit.and_then(|v| v.to_str().ok().map(String::from)),
        ));
    }
    let two = Some("2".to_string());
    assert_eq!(
        statuses,
        vec![(200, two.clone()), (200, two.clone()), (429, two)]
    );
    let text = client
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .expect("the metrics listener answers without a token")
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("\nscaivault_secret_reads_total 2\n"),
        "{text}"
    );
    assert!(
        text.contains("\nscaivault_secret_writes_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"scaivault_requests_total{method="GET",path_category="secrets",status="429"} 1"#
        ),
        "{text}"
    );
    child.kill().await.expect("stop scaivault");
}
