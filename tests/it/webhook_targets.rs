//! Where webhooks may go (SPEC §5a): with the default lists a server refuses loopback, private,
//! unspecified and embedded-IPv4 (mapped, NAT64) targets when a webhook is created or changed,
//! and its test endpoint answers `target_denied` without opening a connection (a listener on
//! the target port sees none). An allowed target that fails answers one generic
//! `connection_failed`, whether the port is closed, hangs up or never answers. Proxies set in
//! the server's environment are not used.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SECRET: &str = "whsec_0123456789abcdef";

both_stores!(
    default_lists_refuse_internal_targets_on_create_and_update,
    test_endpoint_refuses_denied_targets_without_connecting,
    transport_failures_read_alike,
);

/// Targets the default deny list refuses, all on `port` (where a listener may be waiting).
fn denied_urls(port: u16) -> Vec<String> {
    [
        "127.0.0.1",
        "10.0.0.1",
        "[::ffff:127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "0.0.0.0",
    ]
    .iter()
    .map(|h| format!("http://{h}:{port}/hook"))
    .collect()
}

/// A listener that never accepts: whatever connects waits in its backlog.
fn silent_listener() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// Asserts nothing connected to `l` (the kernel queues a completed handshake even unaccepted).
fn assert_no_connection(l: &std::net::TcpListener, what: &str) {
    match l.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("{what}: a connection was made from {from}"),
        Err(e) => panic!("{what}: accept failed: {e}"),
    }
}

async fn create(app: &TestApp, name: &str, url: &str) -> crate::common::Resp {
    app.post(
        "/v1/webhooks",
        &json!({"name": name, "url": url, "secret": SECRET, "events": ["rotation.due"]}),
    )
    .await
}

fn assert_denied_field(r: &crate::common::Resp, url: &str) {
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{url}: {}",
        r.body
    );
    assert_eq!(r.code(), "validation_error", "{url}");
    let field = &r.body["error"]["details"]["fields"][0];
    assert_eq!(field["field"], "url", "{url}: {}", r.body);
    assert!(
        field["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("target_denied"),
        "{url}: {}",
        r.body
    );
}

async fn default_lists_refuse_internal_targets_on_create_and_update(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| c.webhook_allow_cidrs.clear()).await;
    let (listener, port) = silent_listener();
    for (i, url) in denied_urls(port).iter().enumerate() {
        let r = create(&app, &format!("d{i}"), url).await;
        assert_denied_field(&r, url);
    }
    // Other spellings of loopback and the cloud metadata address.
    for url in [
        "http://2130706433/hook",
        "http://127.1/hook",
        "http://[::1]/hook",
        "http://[::127.0.0.1]/hook",
        "http://169.254.169.254/latest",
        "http://192.168.1.10/hook",
        "http://100.64.1.1/hook",
        "http://[fd00::1]/hook",
    ] {
        assert_denied_field(&create(&app, "other", url).await, url);
    }
    // A name is checked when it is resolved, at each attempt: it may be created.
    let ok = create(&app, "by-name", &format!("http://localhost:{port}/hook")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let id = ok.body["id"].as_str().unwrap().to_string();
    for url in denied_urls(port) {
        let r = app
            .call(
                Method::PATCH,
                &format!("/v1/webhooks/{id}"),
                Some(&app.root_token),
                Some(&json!({ "url": url })),
            )
            .await;
        assert_denied_field(&r, &url);
    }
    let listed = app.get("/v1/webhooks").await;
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1);
    assert_no_connection(&listener, "create/update");
}

async fn test_endpoint_refuses_denied_targets_without_connecting(kind: StoreKind) {
    // Webhooks stored while everything was allowed (as if the lists changed since)...
    let app = TestApp::spawn_with(kind, |c| {
        c.webhook_allow_cidrs = vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]
    })
    .await;
    let (listener, port) = silent_listener();
    let mut urls = denied_urls(port);
    // ...and a name that resolves to loopback: refused by the resolver at connect time.
    urls.push(format!("http://localhost:{port}/hook"));
    let mut ids = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let r = create(&app, &format!("t{i}"), url).await;
        assert_eq!(r.status, StatusCode::CREATED, "{url}: {}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    // ...tested on a server with the default lists.
    let strict = app.serve_replica(|c| c.webhook_allow_cidrs.clear()).await;
    for (id, url) in ids.iter().zip(&urls) {
        let res = app
            .client
            .post(format!("{}/v1/webhooks/{id}/test", strict.base))
            .bearer_auth(&app.root_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let r = TestApp::into_resp(res).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        assert_eq!(r.body["status"], "failed", "{url}: {}", r.body);
        assert_eq!(r.body["response_code"], Value::Null, "{url}");
        assert_eq!(r.body["error"], "target_denied", "{url}: {}", r.body);
        assert_no_connection(&listener, url);
        let d = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
        assert_eq!(d.body["deliveries"][0]["last_error"], "target_denied");
    }
}

async fn transport_failures_read_alike(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| {
        c.webhook_timeout = scaivault::domain::duration::ApiDuration::parse("1s").unwrap()
    })
    .await;
    // A closed port: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    // An open port that hangs up at once.
    let hangup = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hangup_port = hangup.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = hangup.accept().await {
            drop(s);
        }
    });
    // An open port that never answers (the attempt times out).
    let (_mute, mute_port) = silent_listener();
    let mut errors = Vec::new();
    for (name, port) in [
        ("closed", closed_port),
        ("hangup", hangup_port),
        ("mute", mute_port),
    ] {
        let r = create(&app, name, &format!("http://127.0.0.1:{port}/hook")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap();
        let t = app
            .post(&format!("/v1/webhooks/{id}/test"), &json!({}))
            .await;
        assert_eq!(t.body["status"], "failed", "{name}: {}", t.body);
        assert_eq!(t.body["response_code"], Value::Null);
        let d = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
        errors.push((
            name,
            t.body["error"].clone(),
            d.body["deliveries"][0]["last_error"].clone(),
        ));
    }
    for (name, answered, stored) in &errors {
        assert_eq!(answered, "connection_failed", "{name}: {errors:?}");
        assert_eq!(stored, "connection_failed", "{name}: {errors:?}");
    }
}

/// `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` in the server's environment are ignored: through
/// a proxy the target's name would be resolved by the proxy, past the deny list. The real
/// binary runs with them set (the variables stay out of this shared test process); a name
/// resolving to loopback is still refused, and neither the proxy nor the target sees a
/// connection. The store plays no part: SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_proxies_are_ignored() {
    use crate::binary::{command, drain, free_port, master_key, root_token, START_DEADLINE};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("sv.db").display());
    let (key, root) = (master_key(), root_token());
    let listen = format!("127.0.0.1:{}", free_port());
    let (proxy, proxy_port) = silent_listener();
    let (target, target_port) = silent_listener();
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    let mut env = vec![
        ("SCAIVAULT_LISTEN", listen.as_str()),
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_WEBHOOK_ALLOW_HTTP", "true"),
        ("SCAIVAULT_WEBHOOK_TIMEOUT", "2s"),
        ("SCAIVAULT_LOG_FORMAT", "json"),
    ];
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        env.push((name, proxy_url.as_str()));
    }
    let mut child = command(dir.path(), &["serve"], &env)
        .spawn()
        .expect("spawn scaivault");
    let (_out, err) = (
        drain(child.stdout.take().unwrap()),
        drain(child.stderr.take().unwrap()),
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = format!("http://{listen}");
    let deadline = Instant::now() + START_DEADLINE;
    while !client
        .get(format!("{base}/v1/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "scaivault exited: {}",
            String::from_utf8_lossy(&err.lock().unwrap())
        );
        assert!(Instant::now() < deadline, "scaivault did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let created: Value = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&root)
        .json(
            &json!({"name": "via-name", "url": format!("http://localhost:{target_port}/hook"),
                      "secret": SECRET, "events": ["rotation.due"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));
    let tested: Value = client
        .post(format!("{base}/v1/webhooks/{id}/test"))
        .bearer_auth(&root)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tested["error"], "target_denied", "{tested}");
    assert_no_connection(&proxy, "the environment's proxy");
    assert_no_connection(&target, "the target");
    child.start_kill().unwrap();
    let _ = child.wait().await;
}
