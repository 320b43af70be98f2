//! `/v1/secrets` refusals (SPEC §0, §3): malformed bodies, invalid paths, durations, sizes, the
//! error envelope and request ids — and that a refused write changes nothing.

use crate::both_stores;
use crate::common::{Resp, StoreKind, TestApp};
use crate::secrets_api::{
    assert_envelope, audit_for, count, failing_fields, one_audit, request_id, send, stored_versions,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_stores!(
    malformed_and_misshapen_bodies_are_refused,
    invalid_paths_are_refused,
    durations_are_checked,
    oversize_bodies_and_values_are_413,
    error_envelope_carries_the_request_id,
    client_request_id_is_echoed,
    refused_writes_change_nothing,
    wrong_methods_and_missing_auth,
);

/// Sends one request over a plain socket, exactly as written (no URL normalization, so
/// `a/../b` reaches the server as is), the body with a Content-Length or chunked.
/// Returns the status, the X-Request-ID and the JSON body.
async fn raw_request(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    chunked: bool,
) -> (u16, Option<String>, Value) {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n",
        app.root_token
    );
    let mut bytes = Vec::new();
    match body {
        None => req.push_str("\r\n"),
        Some(b) if chunked => {
            req.push_str("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            for c in b.chunks(64 * 1024) {
                bytes.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                bytes.extend_from_slice(c);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
        Some(b) => {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                b.len()
            ));
            bytes.extend_from_slice(b);
        }
    }
    let mut all = req.into_bytes();
    all.extend_from_slice(&bytes);
    // The server may answer (and stop reading) before the whole body is sent.
    let _ = stream.write_all(&all).await;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read response");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let mut body = out[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut rid = None;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "x-request-id" {
                rid = Some(v.to_string());
            }
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    if chunked {
        let mut plain = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size");
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..eol])
                    .split(';')
                    .next()
                    .unwrap_or("0")
                    .trim(),
                16,
            )
            .expect("hex chunk size");
            rest = &rest[eol + 2..];
            if size == 0 {
                break;
            }
            plain.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = plain;
    }
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, rid, json)
}

async fn put_raw(app: &TestApp, path: &str, body: &[u8]) -> Resp {
    send(
        app,
        Method::PUT,
        &format!("/v1/secrets/{path}"),
        &[],
        Some(body.to_vec()),
    )
    .await
}

async fn malformed_and_misshapen_bodies_are_refused(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;

    // 400 invalid_request: not JSON, or JSON that is not an object.
    for body in [
        &b"{not json"[..],
        b"{\"data\": {\"a\": 1}",
        b"[1, 2]",
        b"[{\"data\": {}}]",
        b"\"data\"",
        b"42",
        b"null",
    ] {
        let r = put_raw(&app, "m/s", body).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // 422 validation_error with the failing fields.
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["data"]),
        (json!({"data": null}), vec!["data"]),
        (json!({"metadata": {"tags": ["a"]}}), vec!["data"]),
        (json!({"data": "a string"}), vec!["data"]),
        (json!({"data": [1, 2]}), vec!["data"]),
        (json!({"data": 7}), vec!["data"]),
        (json!({"data": true}), vec!["data"]),
        (json!({"data": {}, "secret_type": 5}), vec!["secret_type"]),
        (json!({"data": {}, "metadata": "x"}), vec!["metadata"]),
        (
            json!({"data": {}, "metadata": {"tags": "x"}}),
            vec!["metadata.tags"],
        ),
        (
            json!({"data": {}, "metadata": {"tags": [""]}}),
            vec!["metadata.tags"],
        ),
        (
            json!({"data": {}, "metadata": {"description": 1}}),
            vec!["metadata.description"],
        ),
        (json!({"data": {}, "options": 3}), vec!["options"]),
        (
            json!({"data": {}, "options": {"max_versions": 0}}),
            vec!["options.max_versions"],
        ),
        (
            json!({"data": {}, "options": {"max_versions": 101}}),
            vec!["options.max_versions"],
        ),
        (
            json!({"data": {}, "options": {"cas": -1}}),
            vec!["options.cas"],
        ),
        (
            json!({"data": {}, "options": {"cas": "1"}}),
            vec!["options.cas"],
        ),
        (
            json!({"data": 1, "metadata": "x"}),
            vec!["data", "metadata"],
        ),
    ];
    for (body, fields) in cases {
        let r = app.put("/v1/secrets/m/s", &body).await;
        assert_envelope(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");
        let mut got = failing_fields(&r);
        got.sort();
        assert_eq!(got, fields, "{body}: {}", r.body);
        for f in r.body["error"]["details"]["fields"].as_array().unwrap() {
            assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()), "{f}");
        }
    }
    // 400 invalid_secret_type for a string that names no type.
    for ty in ["blob", "JSON", "", "ssh-key"] {
        let r = app
            .put("/v1/secrets/m/s", &json!({"data": {}, "secret_type": ty}))
            .await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_secret_type");
    }
    // Nothing was created by any of them.
    let r = app.get("/v1/secrets/m/s").await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "secret_not_found");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM secrets WHERE path = $1", "m/s").await,
        0
    );
    // Every type name the API lists is accepted.
    for (i, ty) in ["kv", "json", "certificate", "ssh_key", "api_key"]
        .iter()
        .enumerate()
    {
        let r = app
            .put(
                &format!("/v1/secrets/m/t{i}"),
                &json!({"data": {}, "secret_type": ty}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{ty}: {}", r.body);
        assert_eq!(r.body["secret_type"], *ty);
    }
}

async fn invalid_paths_are_refused(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let eleven = (1..=11)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join("/");
    let long = "a".repeat(513);
    // Too long, with a multi-byte character straddling byte 512 (the audit row truncates there).
    let long_utf8 = format!("{}%C3%A4", "a".repeat(511));
    let body = br#"{"data": {"k": "v"}}"#;
    let bad_paths = [
        "a//b",
        "a/../b",
        "a/./b",
        "..",
        "x/versions",
        "x/metadata",
        "x/restore",
        eleven.as_str(),
        "bad$char",
        "a/b%20c",
        "%C3%A4",
        "a/",
        long.as_str(),
        long_utf8.as_str(),
    ];
    for p in bad_paths {
        let (status, rid, json) =
            raw_request(&app, "PUT", &format!("/v1/secrets/{p}"), Some(body), false).await;
        assert_eq!(status, 400, "PUT {p}: {json}");
        assert_eq!(json["error"]["code"], "invalid_path", "PUT {p}: {json}");
        assert_eq!(json["error"]["request_id"].as_str(), rid.as_deref(), "{p}");
    }
    // Reads of such paths are refused the same way (sub-resource suffixes aside).
    for p in [
        "a//b",
        "a/../b",
        "bad$char",
        eleven.as_str(),
        "versions",
        long_utf8.as_str(),
    ] {
        let (status, _, json) =
            raw_request(&app, "GET", &format!("/v1/secrets/{p}"), None, false).await;
        assert_eq!(status, 400, "GET {p}: {json}");
        assert_eq!(json["error"]["code"], "invalid_path", "GET {p}");
    }
    for p in ["a//b/versions", "a/../b/metadata"] {
        let (status, _, json) =
            raw_request(&app, "GET", &format!("/v1/secrets/{p}"), None, false).await;
        assert_eq!(status, 400, "GET {p}: {json}");
        assert_eq!(json["error"]["code"], "invalid_path", "GET {p}");
    }
    let (status, _, json) = raw_request(&app, "DELETE", "/v1/secrets/a/../b", None, false).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (400, Some("invalid_path"))
    );
    let (status, _, json) =
        raw_request(&app, "POST", "/v1/secrets/a//b/restore", None, false).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (400, Some("invalid_path"))
    );

    // No secret was created, and each refusal was audited as a failed write.
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM secrets")
            .fetch_one(&db)
            .await
            .unwrap(),
        0
    );
    let failed_writes = count(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND success = 0 AND status_code = 400",
        "write",
    )
    .await;
    assert_eq!(failed_writes, bad_paths.len() as i64);

    // Boundaries that are valid.
    let ten = (1..=10)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join("/");
    let max = "b".repeat(512);
    for p in [ten.as_str(), "A.b_c-d/9", "x/versions-old", max.as_str()] {
        let r = app
            .put(&format!("/v1/secrets/{p}"), &json!({"data": {}}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{p}: {}", r.body);
        assert_eq!(r.body["path"], p);
    }
    // `batch` is a reserved top-level name: it is never a secret.
    let r = app.put("/v1/secrets/batch", &json!({"data": {}})).await;
    assert_envelope(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let (status, _, json) = raw_request(&app, "DELETE", "/v1/secrets/batch", None, false).await;
    assert_eq!(status, 405, "{json}");
}

async fn durations_are_checked(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put_secret("dur/s", json!({"v": 1})).await;
    let put = |options: Value| json!({"data": {"v": 2}, "options": options});

    for bad in ["10 days", "10", "d", "ten d", "1.5d", "10y", "10D", ""] {
        let r = app
            .put("/v1/secrets/dur/s", &put(json!({"expires_in": bad})))
            .await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_duration");
    }
    for bad in ["0d", "0s", "-5d", "-1h"] {
        let r = app
            .put("/v1/secrets/dur/s", &put(json!({"expires_in": bad})))
            .await;
        assert_envelope(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");
        assert_eq!(
            failing_fields(&r),
            vec!["options.expires_in"],
            "{bad}: {}",
            r.body
        );
    }
    let r = app
        .put(
            "/v1/secrets/dur/s",
            &put(json!({"notify_before": "30d,soon"})),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_duration");
    let r = app
        .put(
            "/v1/secrets/dur/s",
            &put(json!({"notify_before": "30d,0d"})),
        )
        .await;
    assert_envelope(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");
    assert_eq!(
        failing_fields(&r),
        vec!["options.notify_before"],
        "{}",
        r.body
    );
    for (options, field) in [
        (json!({"expires_in": 10}), "options.expires_in"),
        (json!({"expires_at": "yesterday"}), "options.expires_at"),
        (
            json!({"expires_at": "2025-12-31T00:00:00Z"}),
            "options.expires_at",
        ),
        (
            json!({"expires_in": "1d", "expires_at": "2026-06-01T00:00:00Z"}),
            "options.expires_at",
        ),
    ] {
        let r = app.put("/v1/secrets/dur/s", &put(options.clone())).await;
        assert_envelope(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");
        assert_eq!(failing_fields(&r), vec![field], "{options}: {}", r.body);
    }
    assert_eq!(stored_versions(&db, "dur/s").await, 1);
    let g = app.get("/v1/secrets/dur/s").await;
    assert_eq!(g.body["version"], 1);
    assert_eq!(g.body["expires_at"], Value::Null);

    // Valid ones are applied (relative to the server clock).
    let r = app
        .put(
            "/v1/secrets/dur/s",
            &put(json!({"expires_in": "90d", "notify_before": "30d,7d,1d"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let m = app.get("/v1/secrets/dur/s/metadata").await;
    assert_eq!(m.body["expires_at"], "2026-04-01T12:00:00Z");
    assert_eq!(m.body["notify_before"], "30d,7d,1d");
    let r = app
        .put(
            "/v1/secrets/dur/s",
            &put(json!({"expires_at": "2026-06-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = app.get("/v1/secrets/dur/s").await;
    assert_eq!(g.body["expires_at"], "2026-06-01T00:00:00Z");
    // Omitted options keep the expiry; null clears it.
    app.put_secret("dur/s", json!({"v": 4})).await;
    let g = app.get("/v1/secrets/dur/s").await;
    assert_eq!(g.body["expires_at"], "2026-06-01T00:00:00Z");
    let r = app
        .put("/v1/secrets/dur/s", &put(json!({"expires_at": null})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = app.get("/v1/secrets/dur/s").await;
    assert_eq!(g.body["expires_at"], Value::Null);
}

async fn oversize_bodies_and_values_are_413(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put_secret("big/s", json!({"v": 1})).await;

    // A body over 1 MiB (the value alone is too big as well; the body limit answers first).
    let huge = "x".repeat(1024 * 1024 + 10);
    let body = serde_json::to_vec(&json!({"data": {"blob": huge}})).unwrap();
    let r = put_raw(&app, "big/s", &body).await;
    assert_envelope(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let r = put_raw(&app, "big/new", &body).await;
    assert_envelope(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // The same without a Content-Length (chunked): the limit still holds.
    let (status, _, json) = raw_request(&app, "PUT", "/v1/secrets/big/s", Some(&body), true).await;
    assert_eq!(status, 413, "{json}");
    assert_eq!(json["error"]["code"], "payload_too_large");

    // A value over 512 KiB in a body under 1 MiB.
    let value = "y".repeat(600 * 1024);
    let body = serde_json::to_vec(&json!({"data": {"blob": value}})).unwrap();
    assert!(body.len() < 1024 * 1024);
    let r = put_raw(&app, "big/s", &body).await;
    assert_envelope(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let r = put_raw(&app, "big/new", &body).await;
    assert_envelope(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Just under the value limit is fine.
    let value = "z".repeat(500 * 1024);
    let r = app
        .put("/v1/secrets/big/ok", &json!({"data": {"blob": value}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.status);
    let g = app.get("/v1/secrets/big/ok").await;
    assert_eq!(
        g.body["data"]["blob"].as_str().map(str::len),
        Some(500 * 1024)
    );

    assert_eq!(stored_versions(&db, "big/s").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM secrets WHERE path = $1",
            "big/new"
        )
        .await,
        0
    );
    assert_eq!(
        app.get("/v1/secrets/big/s").await.body["data"],
        json!({"v": 1})
    );
}

async fn error_envelope_carries_the_request_id(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("env/s", json!({"v": 1})).await;
    app.put_secret("env/gone", json!({"v": 1})).await;
    app.delete("/v1/secrets/env/gone").await;
    let cases: Vec<(Resp, StatusCode, &str)> = vec![
        (
            app.get("/v1/secrets/env/none").await,
            StatusCode::NOT_FOUND,
            "secret_not_found",
        ),
        (
            app.get("/v1/secrets/env/s?version=5").await,
            StatusCode::NOT_FOUND,
            "version_not_found",
        ),
        (
            app.get("/v1/secrets/env/s?version=x").await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            app.get("/v1/secrets?cursor=nope").await,
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            app.get("/v1/secrets?limit=0").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            app.put(
                "/v1/secrets/env/s",
                &json!({"data": {}, "options": {"cas": 9}}),
            )
            .await,
            StatusCode::CONFLICT,
            "version_conflict",
        ),
        (
            app.put("/v1/secrets/env/gone", &json!({"data": {}})).await,
            StatusCode::CONFLICT,
            "secret_exists",
        ),
        (
            app.put(
                "/v1/secrets/env/s",
                &json!({"data": {}, "secret_type": "x"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_secret_type",
        ),
        (
            app.put(
                "/v1/secrets/env/s",
                &json!({"data": {}, "options": {"expires_in": "1 day"}}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_duration",
        ),
        (
            put_raw(&app, "env/s", b"{oops").await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            app.put("/v1/secrets/bad$char", &json!({"data": {}})).await,
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            app.post("/v1/secrets/batch", &json!({"paths": []})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            app.call(Method::GET, "/v1/secrets/env/s", None, None).await,
            StatusCode::UNAUTHORIZED,
            "authentication_required",
        ),
    ];
    let mut ids = std::collections::HashSet::new();
    for (r, status, code) in &cases {
        assert_envelope(r, *status, code);
        let rid = request_id(r);
        assert!(rid.starts_with("req_"), "{rid}");
        assert!(ids.insert(rid.clone()), "request id reused: {rid}");
    }
}

async fn client_request_id_is_echoed(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let body = serde_json::to_vec(&json!({"data": {"k": "v"}})).unwrap();
    let r = send(
        &app,
        Method::PUT,
        "/v1/secrets/rid/s",
        &[("x-request-id", "my-req-1")],
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.header("x-request-id"), Some("my-req-1"));
    let a = one_audit(&db, &r).await;
    assert_eq!(
        (a.action.as_str(), a.success, a.status_code),
        ("write", 1, 201)
    );

    let r = send(
        &app,
        Method::GET,
        "/v1/secrets/rid/none",
        &[("x-request-id", "my-req-2")],
        None,
    )
    .await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "secret_not_found");
    assert_eq!(r.body["error"]["request_id"], "my-req-2");
    let rows = audit_for(&db, "my-req-2").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].success, rows[0].status_code), (0, 404));

    let r = send(
        &app,
        Method::GET,
        "/v1/secrets/rid/s",
        &[("x-request-id", "my-req-3")],
        None,
    )
    .await;
    assert_eq!(r.header("x-request-id"), Some("my-req-3"));
    assert_eq!(audit_for(&db, "my-req-3").await[0].action, "read");

    // An id that is not plain is replaced by a fresh one.
    let long = "x".repeat(300);
    for insane in ["has space", "semi;colon", long.as_str()] {
        let r = send(
            &app,
            Method::GET,
            "/v1/secrets/rid/none",
            &[("x-request-id", insane)],
            None,
        )
        .await;
        let rid = request_id(&r);
        assert!(rid.starts_with("req_"), "{insane} → {rid}");
        assert_envelope(&r, StatusCode::NOT_FOUND, "secret_not_found");
    }
}

async fn refused_writes_change_nothing(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put(
        "/v1/secrets/keep/s",
        &json!({"data": {"v": 1}, "metadata": {"description": "orig", "tags": ["t"]},
                "options": {"max_versions": 5}}),
    )
    .await;
    let events_before = count(&db, "SELECT COUNT(*) FROM events WHERE path = $1", "keep/s").await;
    let before = app.get("/v1/secrets/keep/s/metadata").await.body;

    let big = "q".repeat(600 * 1024);
    let bodies: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"{broken".to_vec(), StatusCode::BAD_REQUEST, "invalid_request"),
        (b"[]".to_vec(), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            br#"{"data": "s", "metadata": {"tags": ["x"]}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            br#"{"metadata": {"description": "changed"}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            br#"{"data": {"v": 2}, "secret_type": "nope", "metadata": {"tags": ["x"]}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_secret_type",
        ),
        (
            br#"{"data": {"v": 2}, "metadata": {"tags": ["x"]}, "options": {"expires_in": "soon"}}"#
                .to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_duration",
        ),
        (
            br#"{"data": {"v": 2}, "options": {"expires_in": "0d", "max_versions": 2}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            br#"{"data": {"v": 2}, "metadata": {"tags": ["x"]}, "options": {"cas": 3}}"#.to_vec(),
            StatusCode::CONFLICT,
            "version_conflict",
        ),
        (
            br#"{"data": {"v": 2}, "options": {"rotation_policy_id": "rot_none"}}"#.to_vec(),
            StatusCode::NOT_FOUND,
            "rotation_policy_not_found",
        ),
        (
            serde_json::to_vec(&json!({"data": {"v": big}, "metadata": {"tags": ["x"]}})).unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (body, status, code) in bodies {
        let r = put_raw(&app, "keep/s", &body).await;
        assert_envelope(&r, status, code);
        let a = one_audit(&db, &r).await;
        assert_eq!(a.action, "write");
        assert_eq!(a.success, 0);
        assert_eq!(a.status_code, i64::from(status.as_u16()));
        assert_eq!(a.secret_path.as_deref(), Some("keep/s"));
    }
    let after = app.get("/v1/secrets/keep/s/metadata").await.body;
    assert_eq!(before, after);
    assert_eq!(after["version"], 1);
    assert_eq!(after["max_versions"], 5);
    assert_eq!(stored_versions(&db, "keep/s").await, 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE path = $1", "keep/s").await,
        events_before
    );
    let g = app.get("/v1/secrets/keep/s").await;
    assert_eq!(g.body["data"], json!({"v": 1}));
}

async fn wrong_methods_and_missing_auth(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put_secret("w/s", json!({"v": 1})).await;
    let r = app.post("/v1/secrets/w/s", &json!({"data": {}})).await;
    assert_envelope(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/w/s",
            Some(&app.root_token),
            Some(&json!({"tags": ["x"]})),
        )
        .await;
    assert_envelope(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    for (m, path) in [
        (Method::GET, "/v1/secrets/w/s"),
        (Method::PUT, "/v1/secrets/w/s"),
        (Method::DELETE, "/v1/secrets/w/s"),
        (Method::GET, "/v1/secrets"),
        (Method::POST, "/v1/secrets/batch"),
    ] {
        let r = app
            .call(m.clone(), path, None, Some(&json!({"data": {"v": 2}})))
            .await;
        assert_envelope(&r, StatusCode::UNAUTHORIZED, "authentication_required");
        let r = app
            .call(
                m.clone(),
                path,
                Some("skt_not_a_real_token_000000000000000"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {path}: {}", r.body);
    }
    // A token without the scope: 403, audited, nothing changed.
    let (_, lister) = app.create_token("lister", &["secrets:list"], &[]).await;
    let r = app
        .call(Method::GET, "/v1/secrets/w/s", Some(&lister), None)
        .await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "insufficient_scope");
    let a = one_audit(&db, &r).await;
    assert_eq!(
        (a.action.as_str(), a.success, a.status_code),
        ("read", 0, 403)
    );
    let r = app
        .call(
            Method::POST,
            "/v1/secrets/batch",
            Some(&lister),
            Some(&json!({"paths": ["w/s"]})),
        )
        .await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "insufficient_scope");
    let r = app
        .call(Method::GET, "/v1/secrets/w/s/metadata", Some(&lister), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(Method::GET, "/v1/secrets/w/s/versions", Some(&lister), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(
            Method::PUT,
            "/v1/secrets/w/s",
            Some(&lister),
            Some(&json!({"data": {"v": 9}})),
        )
        .await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(stored_versions(&db, "w/s").await, 1);
}
