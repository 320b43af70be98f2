//! HTTPS through the real binary: a certificate made in the test, trusted by the client, serves
//! the API; after the files are replaced and SIGHUP sent, new connections get the new certificate
//! while a connection opened before keeps working, and bad replacement files keep the old one;
//! bad certificate/key combinations stop the start with one line naming the setting; SIGTERM
//! during a slow request (over HTTPS and plain HTTP) lets it finish with 200 and exits 0.
//!
//! These run on SQLite only: TLS termination and draining sit in front of the store and do not
//! depend on which one it is (the store-specific paths are covered by `binary.rs`).

use crate::binary::{
    command, drain, free_port, master_key, root_token, Buf, EXIT_DEADLINE, START_DEADLINE,
};
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Child;

/// A self-signed certificate for `localhost` and its key, as PEM, plus the DER certificate.
struct Cert {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn new_cert() -> Cert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    Cert {
        cert_pem: ck.cert.pem(),
        key_pem: ck.key_pair.serialize_pem(),
        der: ck.cert.der().clone(),
    }
}

/// Writes `cert` to `dir/tls.crt` and `dir/tls.key` (replacing what is there).
fn install(dir: &Path, cert: &Cert) -> (PathBuf, PathBuf) {
    let (c, k) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&c, &cert.cert_pem).unwrap();
    std::fs::write(&k, &cert.key_pem).unwrap();
    (c, k)
}

/// A reqwest client that trusts only `certs` and reaches `localhost` at `addr`.
fn client_trusting(certs: &[&Cert], addr: SocketAddr) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .tls_info(true)
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(10));
    for c in certs {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(c.cert_pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// A running `scaivault serve` on SQLite.
struct Proc {
    child: Child,
    addr: SocketAddr,
    token: String,
    stderr: Buf,
    _stdout: Buf,
}

impl Proc {
    /// Starts the server with `extra` settings and waits until `ready` (a client) gets a 200
    /// from `/v1/health`; `scheme` is `https` or `http`.
    async fn start(dir: &Path, scheme: &str, extra: &[(&str, &str)]) -> Proc {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let db = format!("sqlite://{}", dir.join("sv.db").display());
        let (key, token) = (master_key(), root_token());
        let mut env = vec![
            ("SCAIVAULT_LISTEN", listen.as_str()),
            ("SCAIVAULT_DATABASE_URL", db.as_str()),
            ("SCAIVAULT_MASTER_KEY", key.as_str()),
            ("SCAIVAULT_ROOT_TOKEN", token.as_str()),
            ("SCAIVAULT_LOG_FORMAT", "json"),
        ];
        env.extend_from_slice(extra);
        let mut child = command(dir, &["serve"], &env).spawn().unwrap();
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let addr: SocketAddr = listen.parse().unwrap();
        let mut p = Proc {
            child,
            addr,
            token,
            stderr,
            _stdout: stdout,
        };
        let probe = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let url = format!("{scheme}://127.0.0.1:{port}/v1/health");
            if let Ok(r) = probe.get(url).send().await {
                if r.status().is_success() {
                    return p;
                }
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("scaivault exited during start ({status}):\n{}", p.logs());
            }
            assert!(Instant::now() < deadline, "no answer:\n{}", p.logs());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn logs(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().unwrap().to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Polls the log until `needle` appears `times` times.
    async fn wait_log(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + START_DEADLINE;
        while self.logs().matches(needle).count() < times {
            assert!(
                Instant::now() < deadline,
                "never logged {needle:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (bounded) for the process to exit; returns whether it exited 0.
    async fn wait_exit(&mut self) -> bool {
        match tokio::time::timeout(EXIT_DEADLINE, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.start_kill();
                false
            }
        }
    }
}

/// The curl equivalent: an HTTPS request that verifies the server against the test's own CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_request_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = new_cert();
    let (c, k) = install(dir.path(), &cert);
    let (c, k) = (c.display().to_string(), k.display().to_string());
    let mut srv = Proc::start(
        dir.path(),
        "https",
        &[("SCAIVAULT_TLS_CERT", &c), ("SCAIVAULT_TLS_KEY", &k)],
    )
    .await;
    let client = client_trusting(&[&cert], srv.addr);
    let base = format!("https://localhost:{}", srv.addr.port());
    let r = client
        .put(format!("{base}/v1/secrets/tls/demo"))
        .bearer_auth(&srv.token)
        .json(&serde_json::json!({"data": {"k": "over-tls"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = client
        .get(format!("{base}/v1/secrets/tls/demo"))
        .bearer_auth(&srv.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["k"], "over-tls");
    // Its log line: route template, status, latency, request id, identity; no value, no token.
    srv.wait_log(&request_id, 1).await;
    let line: serde_json::Value = srv
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["request_id"] == request_id.as_str() && l["message"] == "request")
        .unwrap_or_else(|| panic!("no request line for {request_id}:\n{}", srv.logs()));
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["path"], "/v1/secrets/tls/demo", "{line}");
    assert_eq!(line["route"], "/v1/secrets/{*rest}", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    assert_eq!(line["identity"], "user:root", "{line}");
    let logs = srv.logs();
    assert!(
        !logs.contains("over-tls") && !logs.contains(&srv.token),
        "{logs}"
    );
    let r = client
        .get(format!("{base}/v1/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Plain HTTP on the HTTPS port gets no API answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{}/v1/health", srv.addr.port())).await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP was answered on the HTTPS port"
    );
    // A client that does not trust the certificate is refused (no silent fallback).
    let stranger = client_trusting(&[&new_cert()], srv.addr);
    assert!(stranger
        .get(format!("{base}/v1/health"))
        .send()
        .await
        .is_err());
    // The `health` subcommand honours the TLS settings (HTTPS, self-signed on loopback).
    let listen = srv.addr.to_string();
    let env = [
        ("SCAIVAULT_LISTEN", listen.as_str()),
        ("SCAIVAULT_TLS_CERT", c.as_str()),
        ("SCAIVAULT_TLS_KEY", k.as_str()),
    ];
    let (code, out, err) = run_code(dir.path(), &["health"], &env).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.trim(), "ready");
    // With --ca and a name the certificate holds, it verifies for real.
    let url = format!("https://localhost:{}", srv.addr.port());
    let (code, out, err) = run_code(dir.path(), &["health", "--url", &url, "--ca", &c], &[]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    srv.signal("-TERM");
    assert!(srv.wait_exit().await, "{}", srv.logs());
}

/// Runs the binary to completion; returns (exit code, stdout, stderr).
pub(crate) async fn run_code(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(EXIT_DEADLINE, command(cwd, args, env).output())
        .await
        .expect("exits in time")
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn peer_cert(r: &reqwest::Response) -> Vec<u8> {
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("TLS info")
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_keeps_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (new_cert(), new_cert());
    let (c, k) = install(dir.path(), &first);
    let (c, k) = (c.display().to_string(), k.display().to_string());
    let mut srv = Proc::start(
        dir.path(),
        "https",
        &[("SCAIVAULT_TLS_CERT", &c), ("SCAIVAULT_TLS_KEY", &k)],
    )
    .await;
    let url = format!("https://localhost:{}/v1/health", srv.addr.port());
    // A connection opened before the reload, by a client that trusts only the first cert.
    let old = client_trusting(&[&first], srv.addr);
    let r = old.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(peer_cert(&r), first.der.to_vec());

    install(dir.path(), &second);
    srv.signal("-HUP");
    srv.wait_log("TLS certificate reloaded", 1).await;
    // New connections see the second certificate.
    let both = client_trusting(&[&first, &second], srv.addr);
    let r = both.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        peer_cert(&r),
        second.der.to_vec(),
        "new handshake, old cert"
    );
    let fresh_old = client_trusting(&[&first], srv.addr);
    assert!(
        fresh_old.get(&url).send().await.is_err(),
        "a new connection still got the first certificate"
    );
    // The connection opened before still works (a new one from `old` would fail: see above).
    let r = old.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(peer_cert(&r), first.der.to_vec());

    // Bad replacement files: logged, and the second certificate stays in use.
    std::fs::write(dir.path().join("tls.crt"), "not a certificate").unwrap();
    srv.signal("-HUP");
    srv.wait_log("TLS reload failed", 1).await;
    let mismatched = new_cert();
    std::fs::write(dir.path().join("tls.crt"), &second.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &mismatched.key_pem).unwrap();
    srv.signal("-HUP");
    srv.wait_log("TLS reload failed", 2).await;
    let logs = srv.logs();
    assert!(logs.contains("does not match the certificate"), "{logs}");
    assert!(logs.contains("SCAIVAULT_TLS_CERT"), "{logs}");
    let key_body: String = mismatched
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!logs.contains(&key_body[..40]), "key material logged");
    let r = client_trusting(&[&second], srv.addr)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(peer_cert(&r), second.der.to_vec());
    srv.signal("-TERM");
    assert!(srv.wait_exit().await, "{}", srv.logs());
}

type Env<'a> = Vec<(&'a str, &'a str)>;

/// Plain HTTP: SIGHUP (a process manager's "reload") is logged and ignored; the server keeps
/// serving instead of dying of the signal's default action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_without_tls_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Proc::start(dir.path(), "http", &[]).await;
    srv.signal("-HUP");
    srv.wait_log("nothing to reload", 1).await;
    srv.signal("-HUP");
    srv.wait_log("nothing to reload", 2).await;
    assert!(
        srv.child.try_wait().unwrap().is_none(),
        "the server exited on SIGHUP"
    );
    let r = reqwest::get(format!("http://{}/v1/health", srv.addr))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    srv.signal("-TERM");
    assert!(srv.wait_exit().await, "clean exit after SIGTERM");
}

#[tokio::test]
async fn bad_certificate_or_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (good, other) = (new_cert(), new_cert());
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cert = write("good.crt", &good.cert_pem);
    let key = write("good.key", &good.key_pem);
    let other_key = write("other.key", &other.key_pem);
    let junk = write("junk.pem", "hello, not PEM\n");
    let missing = d.join("missing.pem").display().to_string();
    let db = format!("sqlite://{}", d.join("sv.db").display());
    let mk = master_key();
    let listen = format!("127.0.0.1:{}", free_port());
    let cases: Vec<(Env, &str, &str)> = vec![
        (
            vec![
                ("SCAIVAULT_TLS_CERT", &missing),
                ("SCAIVAULT_TLS_KEY", &key),
            ],
            "SCAIVAULT_TLS_CERT",
            "cannot read",
        ),
        (
            vec![
                ("SCAIVAULT_TLS_CERT", &cert),
                ("SCAIVAULT_TLS_KEY", &missing),
            ],
            "SCAIVAULT_TLS_KEY",
            "cannot read",
        ),
        (
            vec![("SCAIVAULT_TLS_CERT", &junk), ("SCAIVAULT_TLS_KEY", &key)],
            "SCAIVAULT_TLS_CERT",
            "no PEM certificate",
        ),
        (
            vec![("SCAIVAULT_TLS_CERT", &cert), ("SCAIVAULT_TLS_KEY", &junk)],
            "SCAIVAULT_TLS_KEY",
            "no PEM private key",
        ),
        (
            // The certificate file given as the key: PEM, but no private key in it.
            vec![("SCAIVAULT_TLS_CERT", &cert), ("SCAIVAULT_TLS_KEY", &cert)],
            "SCAIVAULT_TLS_KEY",
            "no PEM private key",
        ),
        (
            vec![
                ("SCAIVAULT_TLS_CERT", &cert),
                ("SCAIVAULT_TLS_KEY", &other_key),
            ],
            "SCAIVAULT_TLS_KEY",
            "does not match the certificate",
        ),
        (
            vec![("SCAIVAULT_TLS_CERT", &cert)],
            "SCAIVAULT_TLS_KEY",
            "needs both",
        ),
        (
            vec![("SCAIVAULT_TLS_KEY", &key)],
            "SCAIVAULT_TLS_CERT",
            "needs both",
        ),
        (
            // Empty is unset: never a silent fallback to plain HTTP.
            vec![("SCAIVAULT_TLS_CERT", &cert), ("SCAIVAULT_TLS_KEY", "")],
            "SCAIVAULT_TLS_KEY",
            "needs both",
        ),
    ];
    for (tls_env, names, says) in cases {
        let mut env = vec![
            ("SCAIVAULT_DATABASE_URL", db.as_str()),
            ("SCAIVAULT_MASTER_KEY", mk.as_str()),
            ("SCAIVAULT_LISTEN", listen.as_str()),
        ];
        env.extend(tls_env.iter().copied());
        let (code, out, err) = run_code(d, &["serve"], &env).await;
        assert_eq!(code, Some(1), "{tls_env:?} started or crashed:\n{out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{tls_env:?}: {err}");
        assert!(
            err.starts_with(&format!("scaivault: invalid setting {names}")),
            "{tls_env:?}: {err}"
        );
        assert!(err.contains(says), "{tls_env:?}: {err}");
        assert!(!err.contains("PRIVATE KEY-----"), "{err}");
        assert!(!out.contains("skt_"), "printed a token: {out}");
    }
    // Checked before the store is opened: no database file was created.
    assert!(!d.join("sv.db").exists());
}

/// Sends a PUT with `Expect: 100-continue` over `io`, waits for `100 Continue` (the handler is
/// reading the body: the request is in flight), then lets `hold` run, then sends the body and
/// returns the raw response.
async fn slow_put<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    token: &str,
    hold: impl std::future::Future<Output = ()>,
) -> String {
    let body = r#"{"data":{"k":"finished during shutdown"}}"#;
    let head = format!(
        "PUT /v1/secrets/drain/slow HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    io.write_all(head.as_bytes()).await.unwrap();
    io.flush().await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("100 Continue\r\n\r\n") {
        let n = tokio::time::timeout(EXIT_DEADLINE, io.read(&mut buf))
            .await
            .expect("100 Continue in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before 100 Continue: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    hold.await;
    io.write_all(body.as_bytes()).await.unwrap();
    io.flush().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(EXIT_DEADLINE, io.read_to_end(&mut rest)).await;
    String::from_utf8_lossy(&rest).into_owned()
}

async fn sigterm_during_a_slow_request(tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let cert = new_cert();
    let (c, k) = install(dir.path(), &cert);
    let (c, k) = (c.display().to_string(), k.display().to_string());
    let tls_env = [
        ("SCAIVAULT_TLS_CERT", c.as_str()),
        ("SCAIVAULT_TLS_KEY", k.as_str()),
    ];
    let (scheme, env): (_, &[(&str, &str)]) = if tls {
        ("https", &tls_env)
    } else {
        ("http", &[])
    };
    let mut srv = Proc::start(dir.path(), scheme, env).await;
    // Version 1 exists, so the slow PUT is an update answering 200.
    let pre = client_trusting(&[&cert], srv.addr);
    let r = pre
        .put(format!(
            "{scheme}://localhost:{}/v1/secrets/drain/slow",
            srv.addr.port()
        ))
        .bearer_auth(&srv.token)
        .json(&serde_json::json!({"data": {"k": "v1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let hold = async {
        srv.signal("-TERM");
        srv.wait_log("shutdown signal received", 1).await;
        // Shutting down: new connections are no longer served.
        let deadline = Instant::now() + EXIT_DEADLINE;
        while pre
            .get(format!(
                "{scheme}://localhost:{}/v1/health",
                srv.addr.port()
            ))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "still accepting after SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let response = if tls {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = ServerName::try_from("localhost").unwrap();
        let io = connector.connect(name, tcp).await.unwrap();
        slow_put(io, &srv.token, hold).await
    } else {
        slow_put(tcp, &srv.token, hold).await
    };
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "the in-flight request did not finish with 200: {response:?}\n{}",
        srv.logs()
    );
    assert!(response.contains(r#""version":2"#), "{response}");
    assert!(
        srv.wait_exit().await,
        "not exit 0 after SIGTERM:\n{}",
        srv.logs()
    );
    // The pipe is drained by a task that may read the last line just after the exit.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !srv.logs().contains("scaivault stopped") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(srv.logs().contains("scaivault stopped"), "{}", srv.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_slow_request_finish_https() {
    sigterm_during_a_slow_request(true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_slow_request_finish_http() {
    sigterm_during_a_slow_request(false).await
}
