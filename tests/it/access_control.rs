//! Who may do what: each scope gates its endpoints, path rules confine a token to its prefixes
//! (lists and batch reads included), tenants never see each other, and every denial is audited.

use crate::both_stores;
use crate::common::{Resp, StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

both_stores!(
    each_scope_gates_its_endpoints,
    path_rules_confine_a_token_to_its_prefixes,
    path_rules_filter_lists_and_batch_reads,
    other_tenant_sees_nothing,
    other_tenant_writes_its_own_independent_secret,
    path_restricted_admin_cannot_mint_wider_tokens,
    path_restricted_admin_sees_and_revokes_only_tokens_inside_its_rules,
);

async fn req(app: &TestApp, tok: &str, m: Method, path: &str, body: Option<Value>) -> Resp {
    app.call(m, path, Some(tok), body.as_ref()).await
}

/// Rows of the audit log for one identity: (action, secret_path, success, status_code).
async fn audit_of(app: &TestApp, identity: &str) -> Vec<(String, Option<String>, i64, i64)> {
    let db = app.db().await;
    sqlx::query(
        "SELECT action, secret_path, success, status_code FROM audit_log WHERE identity_id = $1",
    )
    .bind(identity)
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.get::<String, _>("action"),
            r.get::<Option<String>, _>("secret_path"),
            r.get::<i64, _>("success"),
            r.get::<i64, _>("status_code"),
        )
    })
    .collect()
}

/// One secret endpoint and the scope(s) that open it.
struct Op {
    name: &'static str,
    method: Method,
    /// `{p}` is replaced by the secret path.
    url: &'static str,
    body: Option<Value>,
    /// Any of these grants the call (admin grants everything).
    needs: &'static [&'static str],
}

fn ops() -> Vec<Op> {
    let op = |name, method, url, body, needs| Op {
        name,
        method,
        url,
        body,
        needs,
    };
    vec![
        op(
            "read",
            Method::GET,
            "/v1/secrets/{p}",
            None,
            &["secrets:read"],
        ),
        op(
            "read v1",
            Method::GET,
            "/v1/secrets/{p}?version=1",
            None,
            &["secrets:read"],
        ),
        op(
            "versions",
            Method::GET,
            "/v1/secrets/{p}/versions",
            None,
            &["secrets:read", "secrets:list"],
        ),
        op(
            "metadata",
            Method::GET,
            "/v1/secrets/{p}/metadata",
            None,
            &["secrets:list"],
        ),
        op(
            "list",
            Method::GET,
            "/v1/secrets?prefix={p}",
            None,
            &["secrets:list"],
        ),
        op(
            "batch",
            Method::POST,
            "/v1/secrets/batch",
            Some(json!({"paths": ["{p}"]})),
            &["secrets:read"],
        ),
        op(
            "write",
            Method::PUT,
            "/v1/secrets/{p}",
            Some(json!({"data": {"v": "new"}})),
            &["secrets:write"],
        ),
        op(
            "patch metadata",
            Method::PATCH,
            "/v1/secrets/{p}/metadata",
            Some(json!({"description": "patched"})),
            &["secrets:write"],
        ),
        op(
            "delete",
            Method::DELETE,
            "/v1/secrets/{p}",
            None,
            &["secrets:delete"],
        ),
        op(
            "restore",
            Method::POST,
            "/v1/secrets/{p}/restore",
            None,
            &["secrets:delete"],
        ),
    ]
}

fn fill(v: &Value, p: &str) -> Value {
    serde_json::from_str(&v.to_string().replace("{p}", p)).unwrap()
}

async fn each_scope_gates_its_endpoints(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let scope_sets: &[&[&str]] = &[
        &["secrets:read"],
        &["secrets:list"],
        &["secrets:write"],
        &["secrets:delete"],
        &["secrets:rotate"],
        &["audit:read", "audit:export"],
        &["secrets:read", "secrets:list"],
        &["admin"],
    ];
    for (i, scopes) in scope_sets.iter().enumerate() {
        let name = format!("scope-{i}");
        let (_, tok) = app.create_token(&name, scopes, &[]).await;
        let path = format!("gate/{i}/s");
        app.put_secret(&path, json!({"v": "one"})).await;
        app.put_secret(&path, json!({"v": "two"})).await;
        let mut denied = 0i64;
        for op in ops() {
            let allowed = scopes.contains(&"admin") || op.needs.iter().any(|n| scopes.contains(n));
            let url = op.url.replace("{p}", &path);
            let body = op.body.as_ref().map(|b| fill(b, &path));
            let r = req(&app, &tok, op.method.clone(), &url, body).await;
            let what = format!("{scopes:?} {}", op.name);
            if allowed {
                assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
                match op.name {
                    "read" => assert_eq!(r.body["data"]["v"], "two", "{what}"),
                    "read v1" => assert_eq!(r.body["data"]["v"], "one", "{what}"),
                    "batch" => assert_eq!(r.body["secrets"][&path]["data"]["v"], "two"),
                    "list" => {
                        assert_eq!(r.body["secrets"][0]["path"], path.as_str(), "{what}");
                        assert!(r.body["secrets"][0].get("data").is_none(), "{what}");
                    }
                    "metadata" => {
                        assert_eq!(r.body["path"], path.as_str());
                        assert!(r.body.get("data").is_none(), "{what}: {}", r.body);
                    }
                    _ => {}
                }
            } else {
                denied += 1;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.body);
                assert_eq!(r.code(), "insufficient_scope", "{what}");
                assert_eq!(
                    r.body["error"]["details"]["required_scope"],
                    op.needs.join(" or "),
                    "{what}"
                );
                let text = r.body.to_string();
                assert!(
                    !text.contains("\"one\"") && !text.contains("\"two\""),
                    "{what}"
                );
            }
        }
        // Denied writes and deletes changed nothing.
        let now = app.get(&format!("/v1/secrets/{path}")).await;
        assert_eq!(now.status, StatusCode::OK, "{scopes:?}: {}", now.body);
        let wrote = scopes.contains(&"admin") || scopes.contains(&"secrets:write");
        assert_eq!(now.body["version"], if wrote { 3 } else { 2 }, "{scopes:?}");
        // Every denial is audited: identical ones (same action and code) collapse into one
        // row plus a summary with `repeated`, so the rows count each denial once.
        let refused = app.refusals_of(&format!("sa:{name}")).await;
        let total: i64 = refused.iter().map(|r| r.2).sum();
        assert_eq!(total, denied, "{scopes:?}: {refused:?}");
        assert!(refused.iter().all(|r| r.1 == 403), "{refused:?}");
    }
}

async fn path_rules_confine_a_token_to_its_prefixes(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("team-a/x", json!({"v": "a"})).await;
    app.put_secret("team-b/x", json!({"v": "b"})).await;
    app.put_secret("team-a-evil/x", json!({"v": "evil"})).await;
    let all = [
        "secrets:read",
        "secrets:write",
        "secrets:delete",
        "secrets:list",
    ];
    let (_, tok) = app.create_token("team-a", &all, &["team-a/"]).await;

    // Inside: read, write (create and update), versions, metadata, delete and restore.
    let r = req(&app, &tok, Method::GET, "/v1/secrets/team-a/x", None).await;
    assert_eq!(
        (r.status, &r.body["data"]),
        (StatusCode::OK, &json!({"v": "a"}))
    );
    let r = req(
        &app,
        &tok,
        Method::PUT,
        "/v1/secrets/team-a/x",
        Some(json!({"data": {"v": "a2"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = req(
        &app,
        &tok,
        Method::PUT,
        "/v1/secrets/team-a/deep/new",
        Some(json!({"data": {"v": 1}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for url in [
        "/v1/secrets/team-a/x/versions",
        "/v1/secrets/team-a/x/metadata",
    ] {
        assert_eq!(
            req(&app, &tok, Method::GET, url, None).await.status,
            StatusCode::OK,
            "{url}"
        );
    }
    let r = req(
        &app,
        &tok,
        Method::DELETE,
        "/v1/secrets/team-a/deep/new",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = req(
        &app,
        &tok,
        Method::POST,
        "/v1/secrets/team-a/deep/new/restore",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Rules are whole segments: the rule `team-a/` covers the path `team-a` itself (so a read
    // of it is a plain 404), never the look-alike `team-a-evil/…`.
    let r = req(&app, &tok, Method::GET, "/v1/secrets/team-a", None).await;
    assert_eq!(r.code(), "secret_not_found", "{}", r.body);

    // Outside: 403 access_denied for every operation — also on paths that do not exist (no
    // existence oracle) and on a look-alike prefix.
    let mut denied = 0i64;
    for target in ["team-b/x", "team-b/missing", "team-a-evil/x"] {
        for op in ops() {
            if matches!(op.name, "list" | "batch") {
                continue; // filtered rather than refused; see the next test
            }
            let url = op.url.replace("{p}", target);
            let body = op.body.as_ref().map(|b| fill(b, target));
            let r = req(&app, &tok, op.method.clone(), &url, body).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{target} {}: {}",
                op.name,
                r.body
            );
            assert_eq!(r.code(), "access_denied", "{target} {}", op.name);
            assert!(!r.body.to_string().contains("\"b\""), "{}", r.body);
            denied += 1;
        }
    }
    // Permanent delete too.
    let r = req(
        &app,
        &tok,
        Method::DELETE,
        "/v1/secrets/team-b/x?permanent=true",
        None,
    )
    .await;
    assert_eq!(r.code(), "access_denied");
    denied += 1;

    // Nothing outside changed.
    let r = app.get("/v1/secrets/team-b/x").await;
    assert_eq!(
        (r.status, &r.body["version"], &r.body["data"]),
        (StatusCode::OK, &json!(1), &json!({"v": "b"}))
    );
    assert_eq!(
        app.get("/v1/secrets/team-a-evil/x").await.body["version"],
        1
    );
    assert_eq!(
        app.get("/v1/secrets/team-b/missing").await.status,
        StatusCode::NOT_FOUND
    );

    // Each denial is audited with its path, success 0 and status 403 (identical ones
    // collapsed into a row with `repeated`).
    let refused = app.refusals_of("sa:team-a").await;
    let forbidden: i64 = refused.iter().filter(|r| r.1 == 403).map(|r| r.2).sum();
    assert_eq!(forbidden, denied, "{refused:?}");
    let rows = audit_of(&app, "sa:team-a").await;
    let failed: Vec<_> = rows.iter().filter(|r| r.2 == 0 && r.3 != 404).collect();
    assert!(failed.iter().all(|r| r.3 == 403), "{failed:?}");
    assert!(failed
        .iter()
        .all(|r| r.1.as_deref().is_some_and(|p| !p.starts_with("team-a/"))));
    let reads: Vec<_> = failed.iter().filter(|r| r.0 == "read").collect();
    assert!(
        reads.iter().any(|r| r.1.as_deref() == Some("team-b/x")),
        "{reads:?}"
    );
    for action in ["write", "delete", "destroy", "restore", "read_metadata"] {
        assert!(failed.iter().any(|r| r.0 == action), "{action}: {failed:?}");
    }
}

async fn path_rules_filter_lists_and_batch_reads(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for p in [
        "team-a/one",
        "team-a/two",
        "team-a/sub/three",
        "team-b/one",
        "team-b/two",
        "team-a-evil/x",
        "zeta/z",
    ] {
        app.put_secret(p, json!({"v": p})).await;
    }
    let (_, tok) = app
        .create_token("lister", &["secrets:read", "secrets:list"], &["team-a/"])
        .await;
    let paths_of = |r: &Resp| -> Vec<String> {
        r.body["secrets"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.body))
            .iter()
            .map(|s| s["path"].as_str().unwrap().to_string())
            .collect()
    };
    let mine = vec!["team-a/one", "team-a/sub/three", "team-a/two"];
    for url in [
        "/v1/secrets",
        "/v1/secrets?prefix=team",
        "/v1/secrets?prefix=team-a/",
        "/v1/secrets?limit=1000",
    ] {
        let r = req(&app, &tok, Method::GET, url, None).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        assert_eq!(paths_of(&r), mine, "{url}");
        assert_eq!(r.body["has_more"], false);
    }
    for url in [
        "/v1/secrets?prefix=team-b/",
        "/v1/secrets?prefix=zeta",
        "/v1/secrets?prefix=team-a-",
    ] {
        let r = req(&app, &tok, Method::GET, url, None).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        assert_eq!(paths_of(&r), Vec::<String>::new(), "{url}");
    }
    // Paging one at a time still never steps outside.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let url = match &cursor {
            Some(c) => format!(
                "/v1/secrets?limit=1&cursor={}",
                form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            ),
            None => "/v1/secrets?limit=1".to_string(),
        };
        let r = req(&app, &tok, Method::GET, &url, None).await;
        seen.extend(paths_of(&r));
        match r.body["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, mine);
    // The root token sees everything (the filter is the token's, not the data's).
    let r = app.get("/v1/secrets").await;
    assert_eq!(paths_of(&r).len(), 7);

    // Batch: inside paths are read, outside ones land in errors as access_denied.
    let r = req(
        &app,
        &tok,
        Method::POST,
        "/v1/secrets/batch",
        Some(json!({"paths": ["team-a/one", "team-b/one", "team-b/none", "team-a-evil/x", "team-a/none"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["secrets"].as_object().unwrap().len(),
        1,
        "{}",
        r.body
    );
    assert_eq!(r.body["secrets"]["team-a/one"]["data"]["v"], "team-a/one");
    let errors = r.body["errors"].as_object().unwrap();
    assert_eq!(errors.len(), 4, "{}", r.body);
    for p in ["team-b/one", "team-b/none", "team-a-evil/x"] {
        assert_eq!(errors[p]["code"], "access_denied", "{p}: {}", r.body);
    }
    assert_eq!(errors["team-a/none"]["code"], "secret_not_found");
    let text = r.body.to_string();
    assert!(!text.contains("\"v\":\"team-b/one\""), "{text}");
    // Each path was audited on its own.
    let rows = audit_of(&app, "sa:lister").await;
    let batch_denied: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "read" && r.2 == 0 && r.3 == 403)
        .map(|r| r.1.clone().unwrap())
        .collect();
    assert_eq!(batch_denied.len(), 3, "{rows:?}");
    assert!(batch_denied.contains(&"team-b/one".to_string()));
    assert!(rows
        .iter()
        .any(|r| r.0 == "read" && r.1.as_deref() == Some("team-a/one") && r.2 == 1));
}

async fn other_tenant_sees_nothing(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("shared/db", json!({"password": "tenant-a-only"}))
        .await;
    app.put_secret("shared/db", json!({"password": "tenant-a-only-2"}))
        .await;
    let b = app.token_in_tenant("tnt_b", &["admin"]).await;

    let not_found = |r: &Resp, what: &str| {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{what}: {}", r.body);
        assert_eq!(r.code(), "secret_not_found", "{what}");
        assert!(!r.body.to_string().contains("tenant-a-only"), "{what}");
    };
    for url in [
        "/v1/secrets/shared/db",
        "/v1/secrets/shared/db?version=1",
        "/v1/secrets/shared/db/versions",
        "/v1/secrets/shared/db/metadata",
    ] {
        not_found(&req(&app, &b, Method::GET, url, None).await, url);
    }
    not_found(
        &req(&app, &b, Method::DELETE, "/v1/secrets/shared/db", None).await,
        "delete",
    );
    not_found(
        &req(
            &app,
            &b,
            Method::DELETE,
            "/v1/secrets/shared/db?permanent=true",
            None,
        )
        .await,
        "destroy",
    );
    not_found(
        &req(
            &app,
            &b,
            Method::PATCH,
            "/v1/secrets/shared/db/metadata",
            Some(json!({"description": "x"})),
        )
        .await,
        "patch",
    );
    not_found(
        &req(
            &app,
            &b,
            Method::POST,
            "/v1/secrets/shared/db/restore",
            None,
        )
        .await,
        "restore",
    );

    // A check-and-set write against A's current version fails exactly as it would on a path
    // that exists nowhere: B learns nothing about A (current version 0 from B's side).
    for cas in [1, 2] {
        let body = json!({"data": {"x": 1}, "options": {"cas": cas}});
        let there = req(
            &app,
            &b,
            Method::PUT,
            "/v1/secrets/shared/db",
            Some(body.clone()),
        )
        .await;
        let nowhere = req(&app, &b, Method::PUT, "/v1/secrets/never/was", Some(body)).await;
        assert!(!there.status.is_success(), "{}", there.body);
        assert_eq!(
            there.status, nowhere.status,
            "{} vs {}",
            there.body, nowhere.body
        );
        assert_eq!(there.code(), nowhere.code());
        assert_eq!(
            there.body["error"]["details"],
            nowhere.body["error"]["details"]
        );
        if there.status == StatusCode::CONFLICT {
            assert_eq!(there.body["error"]["details"]["current_version"], 0);
        } else {
            assert_eq!(there.code(), "secret_not_found");
        }
    }

    // Lists and batch reads show nothing of A.
    for url in ["/v1/secrets", "/v1/secrets?prefix=shared/"] {
        let r = req(&app, &b, Method::GET, url, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["secrets"], json!([]), "{url}");
    }
    let r = req(
        &app,
        &b,
        Method::POST,
        "/v1/secrets/batch",
        Some(json!({"paths": ["shared/db"]})),
    )
    .await;
    assert_eq!(r.body["secrets"], json!({}));
    assert_eq!(r.body["errors"]["shared/db"]["code"], "secret_not_found");

    // A's secret is untouched.
    let r = app.get("/v1/secrets/shared/db").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["data"]["password"], "tenant-a-only-2");
    // B's attempts are audited under B's tenant, never A's.
    let db = app.db().await;
    let rows = sqlx::query("SELECT tenant_id FROM audit_log WHERE identity_id = 'sa:other'")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r.get::<String, _>("tenant_id") == "tnt_b"));
}

async fn other_tenant_writes_its_own_independent_secret(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("svc/api", json!({"k": "A1"})).await;
    app.put_secret("svc/api", json!({"k": "A2"})).await;
    let b = app.token_in_tenant("tnt_b", &["admin"]).await;

    let r = req(
        &app,
        &b,
        Method::PUT,
        "/v1/secrets/svc/api",
        Some(json!({"data": {"k": "B1"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    let r = req(&app, &b, Method::GET, "/v1/secrets/svc/api", None).await;
    assert_eq!(
        (r.body["version"].clone(), r.body["data"]["k"].clone()),
        (json!(1), json!("B1"))
    );
    let r = app.get("/v1/secrets/svc/api").await;
    assert_eq!(
        (r.body["version"].clone(), r.body["data"]["k"].clone()),
        (json!(2), json!("A2"))
    );

    // Each sees only its own secret in lists.
    let r = req(&app, &b, Method::GET, "/v1/secrets", None).await;
    assert_eq!(r.body["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["secrets"][0]["version"], 1, "{}", r.body);

    // B deletes its secret; A's is unaffected, and vice versa.
    let r = req(&app, &b, Method::DELETE, "/v1/secrets/svc/api", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.get("/v1/secrets/svc/api").await.body["data"]["k"], "A2");
    assert_eq!(
        req(&app, &b, Method::GET, "/v1/secrets/svc/api", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = req(&app, &b, Method::POST, "/v1/secrets/svc/api/restore", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.delete("/v1/secrets/svc/api?permanent=true")
            .await
            .status,
        StatusCode::OK
    );
    let r = req(&app, &b, Method::GET, "/v1/secrets/svc/api", None).await;
    assert_eq!(r.body["data"]["k"], "B1");

    // Stored as two rows, one per tenant (A's destroyed row aside).
    let db = app.db().await;
    let rows =
        sqlx::query("SELECT tenant_id FROM secrets WHERE path = 'svc/api' ORDER BY tenant_id")
            .fetch_all(&db)
            .await
            .unwrap();
    let tenants: Vec<String> = rows.iter().map(|r| r.get("tenant_id")).collect();
    assert!(tenants.contains(&"tnt_b".to_string()), "{tenants:?}");
}

async fn path_restricted_admin_cannot_mint_wider_tokens(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, admin_a) = app.create_token("admin-a", &["admin"], &["team-a/"]).await;
    let mint = |prefixes: Value| {
        let app = &app;
        let admin_a = admin_a.clone();
        async move {
            req(
                app,
                &admin_a,
                Method::POST,
                "/v1/auth/tokens",
                Some(json!({"name": "minted", "scopes": ["admin"], "path_prefixes": prefixes})),
            )
            .await
        }
    };
    let before: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tokens")
        .fetch_one(&app.db().await)
        .await
        .unwrap()
        .get("n");
    for prefixes in [
        json!(null),
        json!([]),
        json!(["team-b/"]),
        json!(["team-"]),
        json!(["team-a/", "team-b/"]),
    ] {
        let r = mint(prefixes.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{prefixes}: {}", r.body);
        assert_eq!(r.code(), "access_denied", "{prefixes}");
        assert!(r.body.get("token").is_none());
    }
    let after: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tokens")
        .fetch_one(&app.db().await)
        .await
        .unwrap()
        .get("n");
    assert_eq!(before, after);
    // Inside its own rules it may mint.
    for prefixes in [json!(["team-a/"]), json!(["team-a/sub/"])] {
        let r = mint(prefixes.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{prefixes}: {}", r.body);
        assert_eq!(r.body["path_prefixes"], prefixes);
    }
    // Even as admin it cannot touch secrets outside its rules.
    app.put_secret("team-b/x", json!({"v": 1})).await;
    let r = req(&app, &admin_a, Method::GET, "/v1/secrets/team-b/x", None).await;
    assert_eq!(r.code(), "access_denied");
    // The refused mints are audited: one row, and one summary counting the 4 repeats.
    let rows = app.refusals_of("sa:admin-a").await;
    let mints: Vec<i64> = rows
        .iter()
        .filter(|r| r.0 == "token_create" && r.1 == 403)
        .map(|r| r.2)
        .collect();
    assert_eq!(mints, [1, 4], "{rows:?}");
}

async fn path_restricted_admin_sees_and_revokes_only_tokens_inside_its_rules(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (wide_id, wide) = app.create_token("wide", &["secrets:read"], &[]).await;
    let (team_b_id, _) = app
        .create_token("team-b", &["secrets:read"], &["team-b/"])
        .await;
    let (sub_id, sub) = app
        .create_token("team-a-sub", &["secrets:read"], &["team-a/x/"])
        .await;
    let (_, admin_a) = app.create_token("admin-a", &["admin"], &["team-a/"]).await;
    app.put_secret("team-a/x/s", json!({"v": 1})).await;

    // Its list holds only the tokens inside team-a/, page after page.
    let mut seen = Vec::new();
    let mut path = "/v1/auth/tokens?limit=1".to_string();
    loop {
        let page = req(&app, &admin_a, Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let tokens = page.body["tokens"].as_array().unwrap();
        assert!(tokens.len() <= 1);
        seen.extend(
            tokens
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string()),
        );
        if page.body["has_more"] != true {
            break;
        }
        path = format!(
            "/v1/auth/tokens?limit=1&cursor={}",
            page.body["cursor"].as_str().unwrap()
        );
    }
    seen.sort();
    assert_eq!(seen, ["admin-a", "team-a-sub"]);
    // The root token still sees all of them.
    let all = app.get("/v1/auth/tokens?limit=100").await;
    assert!(
        all.body["tokens"].as_array().unwrap().len() >= 5,
        "{}",
        all.body
    );

    // Revoking a token that reaches beyond team-a/ answers as for a missing one (its
    // existence is not revealed) and changes nothing.
    for id in [&wide_id, &team_b_id] {
        let r = req(
            &app,
            &admin_a,
            Method::DELETE,
            &format!("/v1/auth/tokens/{id}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {}", r.body);
        assert_eq!(r.code(), "token_not_found");
    }
    let r = req(&app, &wide, Method::GET, "/v1/secrets/team-a/x/s", None).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the wide token still works: {}",
        r.body
    );
    // Inside its rules it may revoke; an unknown id is still 404.
    let r = req(
        &app,
        &admin_a,
        Method::DELETE,
        &format!("/v1/auth/tokens/{sub_id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = req(&app, &sub, Method::GET, "/v1/secrets/team-a/x/s", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = req(
        &app,
        &admin_a,
        Method::DELETE,
        "/v1/auth/tokens/tok_nope",
        None,
    )
    .await;
    assert_eq!(r.code(), "token_not_found");
    // The refused revocations are audited (as 404s), with the unknown id's 404 beside them.
    let rows = app.refusals_of("sa:admin-a").await;
    let refused: i64 = rows
        .iter()
        .filter(|r| r.0 == "token_revoke" && r.1 == 404)
        .map(|r| r.2)
        .sum();
    assert_eq!(refused, 3, "{rows:?}");
}
