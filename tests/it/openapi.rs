//! `/v1/openapi.json` (SPEC §8): an OpenAPI 3.1 document that lists exactly the routes the
//! router serves (both are built from `scaivault::api::routes()`, and no route may be added
//! around that registry), every operation reaches a handler when called, scopes are
//! documented per operation, and every error code the server can produce is in the document.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

both_stores!(
    document_is_openapi_3_1_and_needs_a_token,
    document_lists_exactly_the_served_routes,
    every_documented_operation_reaches_a_handler,
    scopes_and_error_responses_are_documented,
    every_error_code_is_documented,
);

/// The SPEC §0 error table, as written there.
const SPEC_CODES: &[&str] = &[
    "invalid_request",
    "invalid_path",
    "invalid_duration",
    "invalid_cursor",
    "invalid_secret_type",
    "authentication_required",
    "token_invalid",
    "token_expired",
    "token_revoked",
    "insufficient_scope",
    "access_denied",
    "secret_not_found",
    "version_not_found",
    "rotation_policy_not_found",
    "webhook_not_found",
    "delivery_not_found",
    "token_not_found",
    "version_conflict",
    "name_conflict",
    "secret_exists",
    "secret_expired",
    "payload_too_large",
    "validation_error",
    "rate_limited",
    "service_unavailable",
    "internal_error",
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// The document as served, fetched with the root token.
async fn fetch(app: &TestApp) -> Value {
    let r = app.get("/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "content type: {:?}",
        r.header("content-type")
    );
    r.body
}

/// Every (METHOD, path template, operation) of a document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut out = Vec::new();
    for (path, item) in paths {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

async fn document_is_openapi_3_1_and_needs_a_token(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let doc = fetch(&app).await;
    let version = doc["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3.1"), "openapi version {version}");
    assert_eq!(doc["info"]["title"], "ScaiVault API");
    assert!(doc["info"]["version"].is_string());

    // SPEC §0: not public, so a token is needed; any valid token will do (no scope).
    let anon = app.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anon.code(), "authentication_required");
    let (_, narrow) = app.create_token("narrow", &["secrets:read"], &[]).await;
    let r = app
        .call(Method::GET, "/v1/openapi.json", Some(&narrow), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, doc, "every token sees the same document");
}

async fn document_lists_exactly_the_served_routes(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let doc = fetch(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();

    let routes = scaivault::api::routes();
    let mut served = BTreeSet::new();
    for s in routes.served() {
        assert!(
            !s.documented.is_empty(),
            "{} {} is served but not documented",
            s.method,
            s.mount
        );
        if !s.mount.contains("{*") {
            assert_eq!(
                s.documented,
                vec![s.mount.clone()],
                "{} {}: a plain route is documented at its own path",
                s.method,
                s.mount
            );
        }
        for p in &s.documented {
            served.insert((s.method.clone(), p.clone()));
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in the document: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in the document but not served: {unserved:?}"
    );

    // The SPEC's endpoints, so that dropping one from both the router and the document fails.
    for (m, p) in [
        ("GET", "/v1/health"),
        ("GET", "/v1/health/ready"),
        ("GET", "/v1/version"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/auth/whoami"),
        ("POST", "/v1/auth/introspect"),
        ("POST", "/v1/auth/tokens"),
        ("GET", "/v1/auth/tokens"),
        ("DELETE", "/v1/auth/tokens/{id}"),
        ("PUT", "/v1/secrets/{path}"),
        ("GET", "/v1/secrets/{path}"),
        ("DELETE", "/v1/secrets/{path}"),
        ("GET", "/v1/secrets/{path}/versions"),
        ("GET", "/v1/secrets/{path}/metadata"),
        ("PATCH", "/v1/secrets/{path}/metadata"),
        ("POST", "/v1/secrets/{path}/restore"),
        ("GET", "/v1/secrets"),
        ("POST", "/v1/secrets/batch"),
        ("GET", "/v1/rotation/policies"),
        ("POST", "/v1/rotation/policies"),
        ("GET", "/v1/rotation/policies/{id}"),
        ("PATCH", "/v1/rotation/policies/{id}"),
        ("DELETE", "/v1/rotation/policies/{id}"),
        ("POST", "/v1/rotation/policies/{id}/enable"),
        ("POST", "/v1/rotation/policies/{id}/disable"),
        ("POST", "/v1/rotation/policies/{id}/secrets"),
        ("DELETE", "/v1/rotation/policies/{id}/secrets/{secret_path}"),
        ("POST", "/v1/rotation/policies/{id}/rotate"),
        ("GET", "/v1/rotation/policies/{id}/history"),
        ("GET", "/v1/rotation/due"),
        ("GET", "/v1/webhooks"),
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks/{id}"),
        ("PATCH", "/v1/webhooks/{id}"),
        ("DELETE", "/v1/webhooks/{id}"),
        ("POST", "/v1/webhooks/{id}/test"),
        ("GET", "/v1/webhooks/{id}/deliveries"),
        (
            "POST",
            "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        ),
        ("GET", "/v1/events"),
        ("GET", "/v1/audit/logs"),
        ("GET", "/v1/audit/secrets/{path}"),
        ("GET", "/v1/audit/identities/{identity_id}"),
        ("GET", "/v1/audit/summary"),
        ("POST", "/v1/audit/export"),
        ("GET", "/v1/audit/verify"),
        ("GET", "/v1/secret-policies"),
        ("POST", "/v1/secret-policies"),
        ("GET", "/v1/secret-policies/{id}"),
        ("PATCH", "/v1/secret-policies/{id}"),
        ("DELETE", "/v1/secret-policies/{id}"),
        ("POST", "/v1/secret-policies/{id}/preview"),
    ] {
        assert!(
            documented.contains(&(m.to_string(), p.to_string())),
            "{m} {p} (SPEC) is not in the document"
        );
    }
}

/// A value for a path parameter that names things this test created (or a missing id).
fn param_value(path: &str, name: &str, webhook: &str, policy: &str) -> String {
    match name {
        "path" | "secret_path" => "oa/probe".into(),
        "id" if path.starts_with("/v1/webhooks") => webhook.into(),
        "id" if path.starts_with("/v1/rotation") => policy.into(),
        "id" if path.starts_with("/v1/subscriptions") => "sub_missing".into(),
        "id" => "tok_missing".into(),
        "delivery_id" => "del_missing".into(),
        "identity_id" => "user:root".into(),
        other => panic!("no test value for path parameter {other} of {path}"),
    }
}

/// A minimal valid body for the operations that take one.
fn body_for(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "write_secret" => json!({ "data": { "k": "v" } }),
        "patch_secret_metadata" => json!({ "metadata": { "owner": "ops" } }),
        "batch_read" => json!({ "paths": ["oa/probe"] }),
        "introspect" => json!({ "token": "skt_unknown" }),
        "create_token" => json!({ "name": "probe", "scopes": ["secrets:read"] }),
        "create_webhook" => json!({
            "name": "probe2", "url": "https://example.invalid/hook",
            "secret": "0123456789abcdef0123", "events": ["*"]
        }),
        "update_webhook" => json!({ "description": "changed" }),
        "create_policy" => json!({ "name": "probe2", "interval": "30d" }),
        "update_policy" => json!({ "description": "changed" }),
        "attach_secret" => json!({ "secret_path": "oa/probe" }),
        "rotate" => json!({}),
        "audit_export" => json!({ "format": "jsonl" }),
        "create_secret_policy" => json!({
            "name": "probe", "fields": [{ "name": "k", "generator": "uuid" }]
        }),
        "update_secret_policy" => json!({ "description": "changed" }),
        "create_subscription" => json!({
            "name": "probe", "paths": ["oa/**"], "events": ["*"], "delivery": { "type": "polling" }
        }),
        "update_subscription" => json!({ "name": "renamed" }),
        "ack_subscription" => json!({ "event_ids": ["evt_missing"] }),
        _ => return None,
    })
}

async fn every_documented_operation_reaches_a_handler(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let doc = fetch(&app).await;
    app.put_secret("oa/probe", json!({ "k": "v" })).await;
    let wh = app
        .post(
            "/v1/webhooks",
            &json!({ "name": "probe", "url": "https://example.invalid/hook",
                     "secret": "0123456789abcdef0123", "events": ["*"], "enabled": false }),
        )
        .await;
    assert_eq!(wh.status, StatusCode::CREATED, "{}", wh.body);
    let webhook = wh.body["id"].as_str().expect("webhook id").to_string();
    let pol = app
        .post(
            "/v1/rotation/policies",
            &json!({ "name": "probe", "interval": "30d" }),
        )
        .await;
    assert_eq!(pol.status, StatusCode::CREATED, "{}", pol.body);
    let policy = pol.body["id"].as_str().expect("policy id").to_string();

    // The fallbacks this test tells apart from handlers (so it can fail).
    let miss = app.get("/v1/no-such-endpoint").await;
    assert_eq!(
        (miss.status, miss.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let wrong = app
        .call(Method::PUT, "/v1/health", Some(&app.root_token), None)
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);

    // And the methods a documented path does not list are not served there (a catch-all
    // mount serves several templates, so its method router is checked here).
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let mut path = template.clone();
        while let Some(start) = path.find('{') {
            let end = path[start..].find('}').expect("closing brace") + start;
            let name = path[start + 1..end].to_string();
            let value = param_value(template, &name, &webhook, &policy);
            path.replace_range(start..=end, &value);
        }
        for m in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            if item.get(m.to_lowercase()).is_some() {
                continue;
            }
            let method = Method::from_bytes(m.as_bytes()).expect("method");
            let r = app
                .call(method, &path, Some(&app.root_token), Some(&json!({})))
                .await;
            // Under /v1/secrets/ the catch-all answers every method; a sub-resource name is a
            // reserved last segment there, so a write to it is an invalid path.
            let reserved = r.status == StatusCode::BAD_REQUEST && r.code() == "invalid_path";
            assert!(
                r.status == StatusCode::METHOD_NOT_ALLOWED || reserved,
                "{m} {path} is served but not documented: {} {}",
                r.status,
                r.body
            );
            if reserved {
                continue;
            }
            // RFC 9110: a 405 names the methods the resource has, which are the documented ones.
            let allow: BTreeSet<String> = r
                .header("allow")
                .unwrap_or_else(|| panic!("{m} {path}: 405 without Allow"))
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| a != "HEAD")
                .collect();
            let listed: BTreeSet<String> = METHODS
                .iter()
                .filter(|x| item.get(**x).is_some())
                .map(|x| x.to_uppercase())
                .collect();
            assert_eq!(allow, listed, "{m} {path}: Allow");
        }
    }

    let mut ops = operations(&doc);
    // Destructive calls last, so the others still find what they name.
    ops.sort_by_key(|(m, _, _)| m == "DELETE");
    for (method, template, op) in ops {
        let mut path = template.clone();
        while let Some(start) = path.find('{') {
            let end = path[start..].find('}').expect("closing brace") + start;
            let name = path[start + 1..end].to_string();
            let value = param_value(&template, &name, &webhook, &policy);
            path.replace_range(start..=end, &value);
        }
        let op_id = op["operationId"].as_str().unwrap_or_default();
        let body = body_for(op_id);
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let r = app
            .call(m, &path, Some(&app.root_token), body.as_ref())
            .await;
        let what = format!("{method} {path} ({op_id}): {} {}", r.status, r.body);
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
        assert!(
            !(r.status == StatusCode::NOT_FOUND && r.body["error"]["code"] == "not_found"),
            "fell through to the router's fallback: {what}"
        );
        assert!(!r.status.is_server_error(), "{what}");
        let documented = op["responses"]
            .as_object()
            .expect("responses")
            .contains_key(r.status.as_str());
        assert!(documented, "status not documented: {what}");
    }
}

async fn scopes_and_error_responses_are_documented(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let doc = fetch(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let known: BTreeSet<&str> = [
        "secrets:read",
        "secrets:write",
        "secrets:delete",
        "secrets:list",
        "secrets:rotate",
        "audit:read",
        "audit:export",
        "subscriptions:read",
        "subscriptions:write",
        "admin",
    ]
    .into();
    let public: BTreeSet<&str> = ["/v1/health", "/v1/health/ready", "/v1/version"].into();
    for (method, path, op) in operations(&doc) {
        let what = format!("{method} {path}");
        let responses = op["responses"].as_object().expect("responses");
        if public.contains(path.as_str()) {
            assert!(op.get("security").is_none(), "{what} is public");
            assert!(!responses.contains_key("401"), "{what}");
            continue;
        }
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{what} has no security requirement"));
        assert!(!security.is_empty(), "{what}");
        for req in security {
            let scopes = req["bearer"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: requirement {req} is not `bearer`"));
            for s in scopes {
                let s = s.as_str().expect("scope name");
                assert!(known.contains(s), "{what}: unknown scope {s}");
            }
        }
        for status in ["401", "403", "429", "503"] {
            assert!(responses.contains_key(status), "{what} lacks {status}");
        }
        for (status, resp) in responses {
            if status.as_str() >= "400" {
                assert_eq!(
                    resp["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{what} {status}"
                );
            }
        }
    }
    // Links name operations that exist, with parameters those operations have.
    let by_id: std::collections::BTreeMap<String, Value> = operations(&doc)
        .into_iter()
        .filter_map(|(_, _, op)| Some((op["operationId"].as_str()?.to_string(), op)))
        .collect();
    let mut links = 0;
    for (method, path, op) in operations(&doc) {
        for (status, resp) in op["responses"].as_object().expect("responses") {
            for (name, link) in resp["links"].as_object().into_iter().flatten() {
                links += 1;
                let target = link["operationId"].as_str().expect("operationId");
                let t = by_id.get(target).unwrap_or_else(|| {
                    panic!("{method} {path} {status}: link {name} to {target}?")
                });
                for p in link["parameters"].as_object().expect("parameters").keys() {
                    let has = t["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|x| x["name"] == p.as_str()));
                    assert!(has, "link {name} sets {p}, which {target} lacks");
                }
            }
        }
    }
    assert!(links >= 20, "only {links} links");
    assert_eq!(
        doc["paths"]["/v1/webhooks"]["post"]["responses"]["201"]["links"]["get_webhook"]
            ["parameters"]["id"],
        "$response.body#/id"
    );

    // Spot checks against SPEC: the scope each operation needs.
    let scopes_of = |m: &str, p: &str| -> Vec<Value> {
        doc["paths"][p][m]["security"]
            .as_array()
            .map(|a| a.iter().map(|r| r["bearer"].clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        scopes_of("get", "/v1/secrets/{path}"),
        [json!(["secrets:read"])]
    );
    assert_eq!(
        scopes_of("put", "/v1/secrets/{path}"),
        [json!(["secrets:write"])]
    );
    assert_eq!(
        scopes_of("get", "/v1/secrets/{path}/versions"),
        [json!(["secrets:read"]), json!(["secrets:list"])]
    );
    assert_eq!(
        scopes_of("post", "/v1/audit/export"),
        [json!(["audit:export"])]
    );
    assert_eq!(scopes_of("post", "/v1/webhooks"), [json!(["admin"])]);
    assert_eq!(scopes_of("get", "/v1/openapi.json"), [json!([])]);
    // Per-operation codes: a read documents 404 and 410, a write 409.
    let read = &doc["paths"]["/v1/secrets/{path}"]["get"]["responses"];
    assert!(read["410"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("secret_expired")));
    let write = &doc["paths"]["/v1/secrets/{path}"]["put"]["responses"];
    assert!(write["409"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("version_conflict")));
    assert!(write["413"].is_object());
}

async fn every_error_code_is_documented(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let doc = fetch(&app).await;
    let schemas = &doc["components"]["schemas"];
    let listed: BTreeSet<String> = schemas["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    for code in SPEC_CODES {
        assert!(listed.contains(*code), "SPEC code {code} is not documented");
    }
    let used = crate::openapi_source::codes_in_source();
    assert!(
        used.len() >= 20,
        "the source scan found too few codes: {used:?}"
    );
    let missing: Vec<_> = used.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "codes the server produces that the document lacks (add them to ERROR_CODES): {missing:?}"
    );
    // The envelope's shape.
    let body = &schemas["ErrorBody"];
    assert_eq!(
        body["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    let required: BTreeSet<&str> = body["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["code", "message", "request_id"].into());
    assert!(body["properties"]["details"].is_object());
    assert_eq!(
        schemas["ErrorEnvelope"]["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    // A real error body uses a documented code.
    let r = app.get("/v1/secrets/oa/missing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(listed.contains(r.code()));
}
