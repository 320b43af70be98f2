//! `/v1/auth`: whoami, the 401 codes, token create/list/revoke, introspect, admin-only token
//! management, hash-only storage of tokens, and the audit rows all of that leaves.

use crate::both_stores;
use crate::common::{t0, StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

both_stores!(
    whoami_describes_the_caller,
    missing_or_malformed_credentials_get_authentication_required,
    unknown_revoked_and_expired_tokens_get_their_own_codes,
    created_token_is_shown_once_and_works,
    token_create_validation,
    revoke_takes_effect_on_the_next_request,
    introspect_reports_active_only_for_live_tokens_of_own_tenant,
    token_endpoints_need_admin,
    tokens_are_stored_as_sha256_only,
    token_actions_and_auth_failures_are_audited,
);

/// Sends a request with an arbitrary `Authorization` header value (or none).
async fn with_auth(app: &TestApp, path: &str, auth: Option<&str>) -> crate::common::Resp {
    let mut rb = app.client.get(app.url(path));
    if let Some(a) = auth {
        rb = rb.header("Authorization", a);
    }
    TestApp::into_resp(rb.send().await.expect("request sent")).await
}

async fn whoami(app: &TestApp, token: &str) -> crate::common::Resp {
    app.call(Method::GET, "/v1/auth/whoami", Some(token), None)
        .await
}

/// Creates a token with a ttl through the API; returns the whole 201 body.
async fn create_with(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/auth/tokens", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

async fn token_count(app: &TestApp) -> i64 {
    let db = app.db().await;
    sqlx::query("SELECT COUNT(*) AS n FROM tokens")
        .fetch_one(&db)
        .await
        .unwrap()
        .get::<i64, _>("n")
}

/// Audit rows of one action as (identity_id, success, status_code, extra_data, tenant_id).
async fn audit_rows(app: &TestApp, action: &str) -> Vec<(String, i64, i64, Value, String)> {
    let db = app.db().await;
    sqlx::query(
        "SELECT identity_id, success, status_code, extra_data, tenant_id FROM audit_log \
         WHERE action = $1 ORDER BY ts, id",
    )
    .bind(action)
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.get::<String, _>("identity_id"),
            r.get::<i64, _>("success"),
            r.get::<i64, _>("status_code"),
            serde_json::from_str(&r.get::<String, _>("extra_data")).unwrap(),
            r.get::<String, _>("tenant_id"),
        )
    })
    .collect()
}

async fn whoami_describes_the_caller(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = whoami(&app, &app.root_token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["identity_id"], "user:root");
    assert_eq!(r.body["identity_type"], "user");
    assert_eq!(r.body["tenant_id"], "tnt_default");
    assert_eq!(r.body["scopes"], json!(["admin"]));
    assert_eq!(r.body["path_prefixes"], json!([]));
    assert!(r.body["token_expires_at"].is_null(), "{}", r.body);
    assert!(r.body.get("token").is_none());

    let created = create_with(
        &app,
        json!({"name": "ci-runner", "scopes": ["secrets:read", "secrets:list"],
               "ttl": "1h", "path_prefixes": ["team-a/"]}),
    )
    .await;
    let tok = created["token"].as_str().unwrap();
    let r = whoami(&app, tok).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["identity_id"], "sa:ci-runner");
    assert_eq!(r.body["identity_type"], "service_account");
    assert_eq!(r.body["tenant_id"], "tnt_default");
    assert_eq!(r.body["scopes"], json!(["secrets:read", "secrets:list"]));
    assert_eq!(r.body["path_prefixes"], json!(["team-a/"]));
    assert_eq!(r.body["token_expires_at"], "2026-01-01T13:00:00Z");
    assert_eq!(r.body["token_id"], created["id"]);
    assert!(!r.body.to_string().contains(tok), "whoami echoes the token");

    // whoami needs no particular scope, and reports the token's own tenant.
    let other = app.token_in_tenant("tnt_b", &["audit:read"]).await;
    let r = whoami(&app, &other).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tenant_id"], "tnt_b");
    assert_eq!(r.body["scopes"], json!(["audit:read"]));
}

async fn missing_or_malformed_credentials_get_authentication_required(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for auth in [
        None,
        Some("Basic x"),
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer "),
        Some("Token skt_abc"),
        Some(app.root_token.as_str()), // the bare token without the scheme
    ] {
        for path in ["/v1/auth/whoami", "/v1/secrets/a/b", "/v1/auth/tokens"] {
            let r = with_auth(&app, path, auth).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?} {path}");
            assert_eq!(r.code(), "authentication_required", "{auth:?} {path}");
            // The envelope carries the same request id as the header.
            let rid = r.header("x-request-id").expect("x-request-id").to_string();
            assert!(rid.starts_with("req_"), "{rid}");
            assert_eq!(r.body["error"]["request_id"], rid.as_str());
        }
    }
    // Health stays public.
    assert_eq!(
        with_auth(&app, "/v1/health", None).await.status,
        StatusCode::OK
    );
}

async fn unknown_revoked_and_expired_tokens_get_their_own_codes(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("svc/db", json!({"p": "x"})).await;

    // Unknown: well-formed but never issued, and a near-miss of a real token.
    for t in [
        "skt_0123456789abcdefghijklmnopqrstuvwxyzABCD".to_string(),
        format!("{}x", app.root_token),
        app.root_token[..app.root_token.len() - 1].to_string(),
    ] {
        let r = whoami(&app, &t).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), "token_invalid");
        assert!(!r.body.to_string().contains(&t));
    }

    // Revoked.
    let (id, tok) = app.create_token("gone", &["secrets:read"], &[]).await;
    assert_eq!(
        app.delete(&format!("/v1/auth/tokens/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    for path in ["/v1/auth/whoami", "/v1/secrets/svc/db"] {
        let r = app.call(Method::GET, path, Some(&tok), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.code(), "token_revoked", "{path}");
    }

    // Expired: valid through its lifetime, refused once it is over.
    let created = create_with(
        &app,
        json!({"name": "short", "scopes": ["secrets:read"], "ttl": "1h"}),
    )
    .await;
    let tok = created["token"].as_str().unwrap().to_string();
    assert_eq!(created["expires_at"], "2026-01-01T13:00:00Z");
    app.clock.advance(chrono::Duration::minutes(59));
    let r = app
        .call(Method::GET, "/v1/secrets/svc/db", Some(&tok), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.clock.advance(chrono::Duration::minutes(61)); // t0 + 2h
    for path in ["/v1/auth/whoami", "/v1/secrets/svc/db"] {
        let r = app.call(Method::GET, path, Some(&tok), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.code(), "token_expired", "{path}");
    }
    // The root token (no ttl) still works.
    assert_eq!(whoami(&app, &app.root_token).await.status, StatusCode::OK);
    // The listing reports it as expired.
    let list = app.get("/v1/auth/tokens").await;
    let entry = list.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == created["id"])
        .expect("listed")
        .clone();
    assert_eq!(entry["status"], "expired");
}

async fn created_token_is_shown_once_and_works(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app
        .post(
            "/v1/auth/tokens",
            &json!({"name": "deploy-bot", "scopes": ["secrets:read", "secrets:write"],
                    "ttl": "90d", "path_prefixes": ["apps/"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let tok = r.body["token"].as_str().unwrap().to_string();
    assert!(id.starts_with("tok_"), "{id}");
    let rest = tok.strip_prefix("skt_").expect("skt_ prefix");
    assert!(rest.len() >= 32, "{tok}");
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "not URL-safe: {tok}"
    );
    assert_eq!(r.body["name"], "deploy-bot");
    assert_eq!(r.body["scopes"], json!(["secrets:read", "secrets:write"]));
    assert_eq!(r.body["path_prefixes"], json!(["apps/"]));
    assert_eq!(r.body["identity_id"], "sa:deploy-bot");
    assert_eq!(r.body["tenant_id"], "tnt_default");
    assert_eq!(r.body["created_at"], "2026-01-01T12:00:00Z");
    assert_eq!(r.body["created_by"], "user:root");
    let expires = t0() + chrono::Duration::days(90);
    assert_eq!(
        r.body["expires_at"],
        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(r.body["status"], "active");
    assert!(r.body.get("token_hash").is_none());

    // The token works at once, within its rules.
    let w = app
        .call(
            Method::PUT,
            "/v1/secrets/apps/web",
            Some(&tok),
            Some(&json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);

    // A second token is different.
    let (_, tok2) = app
        .create_token("deploy-bot-2", &["secrets:read"], &[])
        .await;
    assert_ne!(tok, tok2);

    // The listing never carries the value (or its hash).
    let list = app.get("/v1/auth/tokens").await;
    assert_eq!(list.status, StatusCode::OK);
    let text = list.body.to_string();
    assert!(!text.contains(&tok) && !text.contains(&tok2), "{text}");
    assert!(!text.contains(&sha256_hex(&tok)), "{text}");
    assert!(!text.contains(&app.root_token), "{text}");
    let tokens = list.body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3, "{text}"); // root + 2
    assert_eq!(list.body["has_more"], false);
    assert!(list.body["cursor"].is_null());
    for t in tokens {
        assert!(t.get("token").is_none(), "{t}");
        assert!(t.get("token_hash").is_none(), "{t}");
        assert!(t["id"].as_str().unwrap().starts_with("tok_"));
    }
    let mine = tokens.iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert_eq!(mine["name"], "deploy-bot");
    assert_eq!(mine["status"], "active");
    assert_eq!(mine["path_prefixes"], json!(["apps/"]));

    // Paging with limit=1 walks all three without repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!(
                "/v1/auth/tokens?limit=1&cursor={}",
                form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            ),
            None => "/v1/auth/tokens?limit=1".to_string(),
        };
        let page = app.get(&q).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for t in page.body["tokens"].as_array().unwrap() {
            seen.push(t["id"].as_str().unwrap().to_string());
        }
        match page.body["cursor"].as_str() {
            Some(c) => {
                assert_eq!(page.body["has_more"], true);
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);

    // Another tenant's admin does not see these tokens.
    let other = app.token_in_tenant("tnt_b", &["admin"]).await;
    let r = app
        .call(Method::GET, "/v1/auth/tokens", Some(&other), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<&str> = r.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&id.as_str()), "{ids:?}");
    assert!(r.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["tenant_id"] == "tnt_b"));
}

async fn token_create_validation(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let before = token_count(&app).await;
    let field_of = |r: &crate::common::Resp| -> Vec<String> {
        r.body["error"]["details"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("no fields: {}", r.body))
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect()
    };
    let cases = [
        (json!({"name": "x", "scopes": ["secrets:fly"]}), "scopes"),
        (json!({"name": "x", "scopes": ["admin", "root"]}), "scopes"),
        (json!({"scopes": ["secrets:read"]}), "name"),
        (json!({"name": "", "scopes": ["secrets:read"]}), "name"),
        (
            json!({"name": "has space", "scopes": ["secrets:read"]}),
            "name",
        ),
        (json!({"name": 7, "scopes": ["secrets:read"]}), "name"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x"}), "scopes"),
        (json!({"name": "x", "scopes": "secrets:read"}), "scopes"),
        (json!({"name": "x", "scopes": [1]}), "scopes"),
        (
            json!({"name": "x", "scopes": ["secrets:read"], "ttl": 3600}),
            "ttl",
        ),
        (
            json!({"name": "x", "scopes": ["secrets:read"], "path_prefixes": "a/"}),
            "path_prefixes",
        ),
        (
            json!({"name": "x", "scopes": ["secrets:read"], "path_prefixes": [""]}),
            "path_prefixes",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/v1/auth/tokens", &body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_error", "{body}");
        assert!(
            field_of(&r).contains(&field.to_string()),
            "{body}: {}",
            r.body
        );
        assert!(r.body.get("token").is_none());
    }
    // Both fields wrong: both reported.
    let r = app.post("/v1/auth/tokens", &json!({"scopes": []})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let f = field_of(&r);
    assert!(
        f.contains(&"name".into()) && f.contains(&"scopes".into()),
        "{f:?}"
    );

    // Malformed durations are 400 invalid_duration; zero or negative are 422 on `ttl`.
    for ttl in ["forever", "1y", "90", "d", "1.5h", "", "1h30m"] {
        let r = app
            .post(
                "/v1/auth/tokens",
                &json!({"name": "x", "scopes": ["secrets:read"], "ttl": ttl}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ttl}: {}", r.body);
        assert_eq!(r.code(), "invalid_duration", "{ttl}");
    }
    for ttl in ["0d", "-1h"] {
        let r = app
            .post(
                "/v1/auth/tokens",
                &json!({"name": "x", "scopes": ["secrets:read"], "ttl": ttl}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{ttl}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_error");
        assert_eq!(field_of(&r), vec!["ttl".to_string()], "{}", r.body);
    }
    // A malformed path prefix is 400 invalid_path.
    for prefix in ["/etc", "a//b", "bad prefix", "/"] {
        let r = app
            .post(
                "/v1/auth/tokens",
                &json!({"name": "x", "scopes": ["secrets:read"], "path_prefixes": [prefix]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{prefix}: {}", r.body);
        assert_eq!(r.code(), "invalid_path", "{prefix}");
    }
    // Not JSON, or not an object: 400 invalid_request.
    let res = app
        .client
        .post(app.url("/v1/auth/tokens"))
        .bearer_auth(&app.root_token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let r = TestApp::into_resp(res).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_request");
    let r = app.post("/v1/auth/tokens", &json!(["x"])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_request");

    assert_eq!(
        token_count(&app).await,
        before,
        "a refused create stored a token"
    );
}

async fn revoke_takes_effect_on_the_next_request(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, tok) = app
        .create_token("worker", &["secrets:read", "secrets:write"], &[])
        .await;
    assert_eq!(whoami(&app, &tok).await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(5));
    let r = app.delete(&format!("/v1/auth/tokens/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(r.body.is_null(), "204 has no body: {}", r.body);
    // The very next request with it.
    let r = app
        .call(
            Method::PUT,
            "/v1/secrets/after/revoke",
            Some(&tok),
            Some(&json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "token_revoked");
    assert_eq!(
        app.get("/v1/secrets/after/revoke").await.status,
        StatusCode::NOT_FOUND
    );

    // Stored: revoked_at is the revocation time; the row is kept.
    let db = app.db().await;
    let row = sqlx::query("SELECT revoked_at FROM tokens WHERE id = $1")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        row.get::<Option<i64>, _>("revoked_at"),
        Some((t0() + chrono::Duration::seconds(5)).timestamp_micros())
    );
    // Listed as revoked.
    let list = app.get("/v1/auth/tokens").await;
    let entry = list.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["status"], "revoked");
    assert_eq!(entry["revoked_at"], "2026-01-01T12:00:05Z");

    // Revoking again, an unknown id, or another tenant's token: 404 token_not_found.
    let r = app.delete(&format!("/v1/auth/tokens/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "token_not_found");
    let r = app.delete("/v1/auth/tokens/tok_doesnotexist000000").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "token_not_found");
    let other = app.token_in_tenant("tnt_b", &["secrets:read"]).await;
    let other_id: String = sqlx::query("SELECT id FROM tokens WHERE tenant_id = 'tnt_b'")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("id");
    let r = app.delete(&format!("/v1/auth/tokens/{other_id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "token_not_found");
    assert_eq!(whoami(&app, &other).await.status, StatusCode::OK);

    // A token can revoke itself; its next request is refused.
    let (self_id, self_tok) = app.create_token("self-revoker", &["admin"], &[]).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/auth/tokens/{self_id}"),
            Some(&self_tok),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = whoami(&app, &self_tok).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "token_revoked");
}

async fn introspect_reports_active_only_for_live_tokens_of_own_tenant(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let introspect = |token: Value| {
        let app = &app;
        async move {
            app.post("/v1/auth/introspect", &json!({ "token": token }))
                .await
        }
    };
    let created = create_with(
        &app,
        json!({"name": "probe", "scopes": ["secrets:list"], "ttl": "1h", "path_prefixes": ["p/"]}),
    )
    .await;
    let tok = created["token"].as_str().unwrap().to_string();
    let r = introspect(json!(tok)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["id"], created["id"]);
    assert_eq!(r.body["scopes"], json!(["secrets:list"]));
    assert_eq!(r.body["path_prefixes"], json!(["p/"]));
    assert_eq!(r.body["identity_id"], "sa:probe");
    assert_eq!(r.body["expires_at"], "2026-01-01T13:00:00Z");
    assert!(
        !r.body.to_string().contains(&tok),
        "introspect echoes the token"
    );

    // Unknown and non-token strings.
    for t in ["skt_nope", "", "x"] {
        let r = introspect(json!(t)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, json!({"active": false}), "{t}");
    }
    // Another tenant's live token: inactive here (nothing of another tenant is visible).
    let other = app.token_in_tenant("tnt_b", &["admin"]).await;
    let r = introspect(json!(other)).await;
    assert_eq!(r.body, json!({"active": false}));
    // ... but active for its own tenant's admin.
    let r = app
        .call(
            Method::POST,
            "/v1/auth/introspect",
            Some(&other),
            Some(&json!({ "token": other })),
        )
        .await;
    assert_eq!(r.body["active"], true, "{}", r.body);
    assert_eq!(r.body["tenant_id"], "tnt_b");

    // Expired.
    app.clock.advance(chrono::Duration::hours(2));
    let r = introspect(json!(tok)).await;
    assert_eq!(r.body, json!({"active": false}));
    // Revoked.
    let (id2, tok2) = app.create_token("probe2", &["secrets:read"], &[]).await;
    assert_eq!(introspect(json!(tok2)).await.body["active"], true);
    assert_eq!(
        app.delete(&format!("/v1/auth/tokens/{id2}")).await.status,
        StatusCode::NO_CONTENT
    );
    let r = introspect(json!(tok2)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"active": false}));

    // A missing or non-string token is a validation error.
    for body in [json!({}), json!({"token": 5})] {
        let r = app.post("/v1/auth/introspect", &body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.code(), "validation_error");
    }
}

async fn token_endpoints_need_admin(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let all_but_admin = [
        "secrets:read",
        "secrets:write",
        "secrets:delete",
        "secrets:list",
        "secrets:rotate",
        "audit:read",
        "audit:export",
    ];
    let (victim_id, victim) = app.create_token("victim", &["secrets:read"], &[]).await;
    let (_, tok) = app.create_token("almost", &all_but_admin, &[]).await;
    let before = token_count(&app).await;
    let create = json!({"name": "escalate", "scopes": ["admin"]});
    let introspect = json!({ "token": victim });
    let calls: [(Method, String, Option<&Value>); 4] = [
        (Method::POST, "/v1/auth/tokens".into(), Some(&create)),
        (Method::GET, "/v1/auth/tokens".into(), None),
        (Method::DELETE, format!("/v1/auth/tokens/{victim_id}"), None),
        (
            Method::POST,
            "/v1/auth/introspect".into(),
            Some(&introspect),
        ),
    ];
    for (m, path, body) in calls {
        let r = app.call(m.clone(), &path, Some(&tok), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {path}: {}", r.body);
        assert_eq!(r.code(), "insufficient_scope", "{m} {path}");
        assert_eq!(r.body["error"]["details"]["required_scope"], "admin");
        assert!(r.body.get("tokens").is_none());
    }
    // Nothing changed: no new token, the victim still works.
    assert_eq!(token_count(&app).await, before);
    assert_eq!(whoami(&app, &victim).await.status, StatusCode::OK);
    // The denied create and revoke are audited as failures.
    for action in ["token_create", "token_revoke"] {
        let rows = audit_rows(&app, action).await;
        let denied: Vec<_> = rows.iter().filter(|r| r.0 == "sa:almost").collect();
        assert_eq!(denied.len(), 1, "{action}: {rows:?}");
        assert_eq!((denied[0].1, denied[0].2), (0, 403), "{action}");
    }
}

async fn tokens_are_stored_as_sha256_only(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, tok) = app.create_token("stored", &["secrets:read"], &["x/"]).await;
    let db = app.db().await;
    let rows = sqlx::query(
        "SELECT id, tenant_id, name, token_hash, identity_id, identity_type, scopes, \
         path_prefixes, kind, created_by FROM tokens",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let mut hashes = Vec::new();
    for row in &rows {
        let cols: Vec<String> = (0..10).map(|i| row.get::<String, _>(i)).collect();
        for c in &cols {
            assert!(!c.contains(&tok), "token stored in plaintext: {cols:?}");
            assert!(
                !c.contains(&app.root_token),
                "root token stored in plaintext: {cols:?}"
            );
            assert!(
                !c.contains(&tok["skt_".len()..]),
                "token body stored: {cols:?}"
            );
        }
        let hash = cols[3].clone();
        assert_eq!(hash.len(), 64);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        hashes.push((cols[0].clone(), hash));
    }
    let mine = hashes.iter().find(|(i, _)| *i == id).unwrap();
    assert_eq!(mine.1, sha256_hex(&tok));
    assert!(hashes
        .iter()
        .any(|(_, h)| *h == sha256_hex(&app.root_token)));
    // Timestamps are BIGINT microseconds.
    let row = sqlx::query("SELECT created_at, expires_at, revoked_at FROM tokens WHERE id = $1")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>("created_at"), t0().timestamp_micros());
    assert_eq!(row.get::<Option<i64>, _>("expires_at"), None);
    assert_eq!(row.get::<Option<i64>, _>("revoked_at"), None);
}

async fn token_actions_and_auth_failures_are_audited(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, tok) = app.create_token("audited", &["secrets:read"], &[]).await;
    assert_eq!(
        app.delete(&format!("/v1/auth/tokens/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    // One second apart, so the rows sort by time.
    let tick = || app.clock.advance(chrono::Duration::seconds(1));
    let bogus = "skt_bogus_token_value_that_was_never_issued_000";
    tick();
    assert_eq!(whoami(&app, bogus).await.status, StatusCode::UNAUTHORIZED);
    tick();
    assert_eq!(whoami(&app, &tok).await.status, StatusCode::UNAUTHORIZED);
    tick();
    assert_eq!(
        with_auth(&app, "/v1/auth/whoami", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    tick();
    let expiring = create_with(
        &app,
        json!({"name": "expiring", "scopes": ["secrets:read"], "ttl": "30m"}),
    )
    .await;
    app.clock.advance(chrono::Duration::hours(1));
    let etok = expiring["token"].as_str().unwrap();
    assert_eq!(
        app.call(Method::GET, "/v1/secrets/a/b", Some(etok), None)
            .await
            .code(),
        "token_expired"
    );

    let created = audit_rows(&app, "token_create").await;
    assert_eq!(created.len(), 2, "{created:?}");
    let c = created.iter().find(|r| r.3["name"] == "audited").unwrap();
    assert_eq!((c.0.as_str(), c.1, c.2), ("user:root", 1, 201));
    assert_eq!(c.3["token_id"], id.as_str());
    assert_eq!(c.3["name"], "audited");
    assert_eq!(c.4, "tnt_default");

    let revoked = audit_rows(&app, "token_revoke").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(
        (revoked[0].0.as_str(), revoked[0].1, revoked[0].2),
        ("user:root", 1, 204)
    );
    assert_eq!(revoked[0].3["token_id"], id.as_str());

    let failed = audit_rows(&app, "auth_failed").await;
    let reasons: Vec<&str> = failed
        .iter()
        .map(|r| r.3["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "token_invalid",
            "token_revoked",
            "authentication_required",
            "token_expired"
        ],
        "{failed:?}"
    );
    for r in &failed {
        assert_eq!((r.1, r.2), (0, 401), "{r:?}");
    }
    assert_eq!(failed[3].3["path"], "/v1/secrets/a/b");
    // No audit row carries a token value.
    let db = app.db().await;
    let all: Vec<String> = sqlx::query(
        "SELECT action || ' ' || identity_id || ' ' || COALESCE(secret_path, '') || ' ' || extra_data \
         AS line FROM audit_log",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get::<String, _>("line"))
    .collect();
    for line in &all {
        for secret in [bogus, tok.as_str(), etok, app.root_token.as_str()] {
            assert!(!line.contains(secret), "audit row carries a token: {line}");
        }
    }
}
