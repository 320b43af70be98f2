//! The authorization matrix (SPEC §2): every route the registry serves × every kind of caller ×
//! a target inside `team-a/`, inside `team-b/` and without a path, with the status a user sees
//! in one table. Each cell runs on fresh objects made by the root token, so cells never see
//! each other's effects. A route served without a row (or a row for no route) fails the test.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

both_stores!(every_route_answers_every_caller_as_the_table_says);

/// The callers, in the table's column order.
const CALLERS: [&str; 11] = [
    "read",
    "write",
    "delete",
    "list",
    "rotate",
    "audit:read",
    "audit:export",
    "admin",
    "admin@a",
    "read@a",
    "other-admin",
];

/// One row per documented route. Each of the 11 groups is one caller (the order of
/// [`CALLERS`]); its three characters are the targets A (inside `team-a/`), B (inside
/// `team-b/`) and N (no path). `o` 200, `c` 201, `a` 202, `n` 204, `3` 403, `4` 404, `-` the
/// target does not apply to the route.
///
///                                                  read wri del lis rot aur aux adm a@a r@a oth
#[rustfmt::skip]
const TABLE: &[(&str, &str)] = &[
    ("PUT /v1/secrets/{path}",                        "33- oo- 33- 33- 33- 33- 33- oo- o3- 33- cc-"),
    ("GET /v1/secrets/{path}",                        "oo- 33- 33- 33- 33- 33- 33- oo- o3- o3- 44-"),
    ("GET /v1/secrets/{path}/versions",               "oo- 33- 33- oo- 33- 33- 33- oo- o3- o3- 44-"),
    ("GET /v1/secrets/{path}/metadata",               "33- 33- 33- oo- 33- 33- 33- oo- o3- 33- 44-"),
    ("PATCH /v1/secrets/{path}/metadata",             "33- oo- 33- 33- 33- 33- 33- oo- o3- 33- 44-"),
    ("POST /v1/secrets/{path}/restore",               "33- 33- oo- 33- 33- 33- 33- oo- o3- 33- 44-"),
    ("DELETE /v1/secrets/{path}",                     "33- 33- oo- 33- 33- 33- 33- oo- o3- 33- 44-"),
    ("GET /v1/secrets",                               "333 333 333 ooo 333 333 333 ooo ooo 333 ooo"),
    ("POST /v1/secrets/batch",                        "oo- 33- 33- 33- 33- 33- 33- oo- oo- oo- oo-"),
    ("GET /v1/audit/logs",                            "--3 --3 --3 --3 --3 --o --3 --o --o --3 --o"),
    ("GET /v1/audit/secrets/{path}",                  "33- 33- 33- 33- 33- oo- 33- oo- o3- 33- oo-"),
    ("GET /v1/audit/identities/{identity_id}",        "--3 --3 --3 --3 --3 --o --3 --o --o --3 --o"),
    ("GET /v1/audit/summary",                         "--3 --3 --3 --3 --3 --o --3 --o --o --3 --o"),
    ("GET /v1/audit/verify",                          "--3 --3 --3 --3 --3 --o --3 --o --o --3 --o"),
    ("POST /v1/audit/export",                         "--3 --3 --3 --3 --3 --3 --o --o --o --3 --o"),
    ("GET /v1/auth/whoami",                           "--o --o --o --o --o --o --o --o --o --o --o"),
    ("POST /v1/auth/introspect",                      "333 333 333 333 333 333 333 ooo ooo 333 ooo"),
    ("POST /v1/auth/tokens",                          "333 333 333 333 333 333 333 ccc c33 333 ccc"),
    ("GET /v1/auth/tokens",                           "--3 --3 --3 --3 --3 --3 --3 --o --o --3 --o"),
    ("DELETE /v1/auth/tokens/{id}",                   "333 333 333 333 333 333 333 nnn n44 333 444"),
    ("GET /v1/events",                                "--3 --3 --3 --3 --3 --o --3 --o --o --3 --o"),
    ("GET /v1/health",                                "--o --o --o --o --o --o --o --o --o --o --o"),
    ("GET /v1/health/ready",                          "--o --o --o --o --o --o --o --o --o --o --o"),
    ("GET /v1/version",                               "--o --o --o --o --o --o --o --o --o --o --o"),
    ("GET /v1/openapi.json",                          "--o --o --o --o --o --o --o --o --o --o --o"),
    ("GET /v1/metrics",                               "--3 --3 --3 --3 --3 --3 --3 --o --3 --3 --o"),
    ("POST /v1/rotation/policies",                    "--3 --3 --3 --3 --3 --3 --3 --c --c --3 --c"),
    ("GET /v1/rotation/policies",                     "--3 --3 --3 --3 --3 --3 --3 --o --o --3 --o"),
    ("GET /v1/rotation/policies/{id}",                "333 333 333 333 333 333 333 ooo ooo 333 444"),
    ("PATCH /v1/rotation/policies/{id}",              "333 333 333 333 333 333 333 ooo o3o 333 444"),
    ("POST /v1/rotation/policies/{id}/enable",        "333 333 333 333 333 333 333 ooo o3o 333 444"),
    ("POST /v1/rotation/policies/{id}/disable",       "333 333 333 333 333 333 333 ooo o3o 333 444"),
    ("DELETE /v1/rotation/policies/{id}",             "333 333 333 333 333 333 333 nnn n3n 333 444"),
    ("POST /v1/rotation/policies/{id}/secrets",       "33- 33- 33- 33- 33- 33- 33- cc- c3- 33- 44-"),
    ("DELETE /v1/rotation/policies/{id}/secrets/{secret_path}",
                                                      "33- 33- 33- 33- 33- 33- 33- nn- n3- 33- 44-"),
    ("POST /v1/rotation/policies/{id}/rotate",        "333 333 333 333 ooo 333 333 ooo o3o 333 444"),
    ("GET /v1/rotation/policies/{id}/history",        "--3 --3 --3 --3 --3 --o --3 --o --o --3 --4"),
    ("GET /v1/rotation/due",                          "--3 --3 --3 --3 --o --3 --3 --o --o --3 --o"),
    ("GET /v1/secret-policies",                       "--3 --3 --3 --3 --3 --3 --3 --o --o --3 --o"),
    ("POST /v1/secret-policies",                      "--3 --3 --3 --3 --3 --3 --3 --c --3 --3 --c"),
    ("GET /v1/secret-policies/{id}",                  "--3 --3 --3 --3 --3 --3 --3 --o --o --3 --4"),
    ("PATCH /v1/secret-policies/{id}",                "--3 --3 --3 --3 --3 --3 --3 --o --3 --3 --4"),
    ("DELETE /v1/secret-policies/{id}",               "--3 --3 --3 --3 --3 --3 --3 --n --3 --3 --4"),
    ("POST /v1/secret-policies/{id}/preview",         "--3 --3 --3 --3 --3 --3 --3 --o --o --3 --4"),
    ("POST /v1/subscriptions",                        "333 333 333 333 333 333 333 ccc c33 333 ccc"),
    ("GET /v1/subscriptions",                         "--3 --3 --3 --3 --3 --3 --3 --o --o --3 --o"),
    ("GET /v1/subscriptions/{id}",                    "333 333 333 333 333 333 333 ooo 444 333 444"),
    ("PATCH /v1/subscriptions/{id}",                  "333 333 333 333 333 333 333 ooo 444 333 444"),
    ("DELETE /v1/subscriptions/{id}",                 "333 333 333 333 333 333 333 nnn 444 333 444"),
    ("GET /v1/subscriptions/{id}/poll",               "333 333 333 333 333 333 333 ooo 444 333 444"),
    ("POST /v1/subscriptions/{id}/ack",               "333 333 333 333 333 333 333 ooo 444 333 444"),
    ("POST /v1/webhooks",                             "333 333 333 333 333 333 333 ccc c33 333 ccc"),
    ("GET /v1/webhooks",                              "--3 --3 --3 --3 --3 --3 --3 --o --o --3 --o"),
    ("GET /v1/webhooks/{id}",                         "333 333 333 333 333 333 333 ooo o44 333 444"),
    ("PATCH /v1/webhooks/{id}",                       "333 333 333 333 333 333 333 ooo o44 333 444"),
    ("DELETE /v1/webhooks/{id}",                      "333 333 333 333 333 333 333 nnn n44 333 444"),
    ("POST /v1/webhooks/{id}/test",                   "333 333 333 333 333 333 333 ooo o44 333 444"),
    ("GET /v1/webhooks/{id}/deliveries",              "333 333 333 333 333 333 333 ooo o44 333 444"),
    ("POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
                                                      "333 333 333 333 333 333 333 aaa a44 333 444"),
];

fn status_of(c: char) -> Option<StatusCode> {
    Some(match c {
        'o' => StatusCode::OK,
        'c' => StatusCode::CREATED,
        'a' => StatusCode::ACCEPTED,
        'n' => StatusCode::NO_CONTENT,
        '3' => StatusCode::FORBIDDEN,
        '4' => StatusCode::NOT_FOUND,
        '-' => return None,
        other => panic!("unknown cell '{other}'"),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    A,
    B,
    N,
}

/// What one cell's request needs: the URL with its parameters filled in, and a body.
struct Cell {
    url: String,
    body: Option<Value>,
}

/// Makes, with the root token, the objects one cell's request touches, all new.
async fn prepare(app: &TestApp, route: &str, target: Target, n: usize) -> Cell {
    let team = match target {
        Target::A => "team-a",
        Target::B => "team-b",
        Target::N => "none",
    };
    let path = format!("{team}/c{n}/s");
    let (method, template) = route.split_once(' ').expect("METHOD /path");
    let mut url = template.to_string();
    let mut body = None;
    let filter = match target {
        Target::N => Value::Null,
        _ => json!(format!("{team}/")),
    };
    let rules = match target {
        Target::N => json!([]),
        _ => json!([format!("{team}/")]),
    };
    if template.starts_with("/v1/secrets/{path}")
        || template == "/v1/audit/secrets/{path}"
        || template == "/v1/secrets/batch"
    {
        app.put_secret(&path, json!({"v": n})).await;
        if template.ends_with("/restore") {
            let r = app.delete(&format!("/v1/secrets/{path}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        url = url.replace("{path}", &path);
        body = match (method, template) {
            ("PUT", _) => Some(json!({"data": {"v": "new"}})),
            ("PATCH", _) => Some(json!({"metadata": {"description": "changed"}})),
            (_, "/v1/secrets/batch") => Some(json!({"paths": [path]})),
            _ => None,
        };
    } else if template == "/v1/secrets" {
        if target != Target::N {
            url = format!("{url}?prefix={team}/");
        }
    } else if template.starts_with("/v1/auth/tokens") || template == "/v1/auth/introspect" {
        match method {
            "POST" if template == "/v1/auth/tokens" => {
                body = Some(
                    json!({"name": format!("m{n}"), "scopes": ["secrets:read"], "path_prefixes": rules}),
                );
            }
            _ => {
                let r = app
                    .post(
                        "/v1/auth/tokens",
                        &json!({"name": format!("t{n}"), "scopes": ["secrets:read"], "path_prefixes": rules}),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
                url = url.replace("{id}", r.body["id"].as_str().expect("id"));
                body =
                    (template == "/v1/auth/introspect").then(|| json!({"token": r.body["token"]}));
            }
        }
    } else if template.starts_with("/v1/rotation/policies") {
        if template == "/v1/rotation/policies" {
            body = (method == "POST").then(|| json!({"name": format!("p{n}"), "interval": "30d"}));
        } else {
            let r = app
                .post(
                    "/v1/rotation/policies",
                    &json!({"name": format!("p{n}"), "interval": "30d"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            let id = r.body["id"].as_str().expect("id").to_string();
            url = url.replace("{id}", &id);
            if target != Target::N {
                app.put_secret(&path, json!({"v": n})).await;
                if !template.ends_with("/secrets") {
                    let r = app
                        .post(
                            &format!("/v1/rotation/policies/{id}/secrets"),
                            &json!({"secret_path": path}),
                        )
                        .await;
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
                }
            }
            url = url.replace("{secret_path}", &path);
            body = match template {
                t if t.ends_with("/secrets") => Some(json!({"secret_path": path})),
                t if t.ends_with("/rotate") && target != Target::N => {
                    Some(json!({"secret_paths": [path]}))
                }
                "/v1/rotation/policies/{id}" if method == "PATCH" => {
                    Some(json!({"description": "changed"}))
                }
                _ => None,
            };
        }
    } else if template.starts_with("/v1/secret-policies") {
        let policy =
            json!({"name": format!("sp{n}"), "fields": [{"name": "k", "generator": "uuid"}]});
        if template == "/v1/secret-policies" {
            body = (method == "POST").then_some(policy);
        } else {
            let r = app.post("/v1/secret-policies", &policy).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            url = url.replace("{id}", r.body["id"].as_str().expect("id"));
            body = (method == "PATCH").then(|| json!({"description": "changed"}));
        }
    } else if template.starts_with("/v1/subscriptions") {
        // Made by the root token (an admin without rules): no other token owns them.
        let glob = match target {
            Target::N => "**".to_string(),
            _ => format!("{team}/**"),
        };
        let sub = json!({"name": format!("s{n}"), "paths": [glob], "events": ["*"], "delivery": {"type": "polling"}});
        if template == "/v1/subscriptions" {
            body = (method == "POST").then_some(sub);
        } else {
            let r = app.post("/v1/subscriptions", &sub).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            url = url.replace("{id}", r.body["id"].as_str().expect("id"));
            body = match method {
                "PATCH" => Some(json!({"name": format!("renamed{n}")})),
                "POST" => Some(json!({"event_ids": ["evt_none"]})),
                _ => None,
            };
            if template.ends_with("/poll") {
                url.push_str("?timeout=0");
            }
        }
    } else if template.starts_with("/v1/webhooks") {
        let hook = json!({"name": format!("h{n}"), "url": "http://127.0.0.1:9/hook", "secret": "whsec_0123456789abcdef0123456789", "events": ["*"], "filters": {"path_prefix": filter}});
        if template == "/v1/webhooks" {
            body = (method == "POST").then_some(hook);
        } else {
            let r = app.post("/v1/webhooks", &hook).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            let id = r.body["id"].as_str().expect("id").to_string();
            url = url.replace("{id}", &id);
            if template.contains("{delivery_id}") {
                let r = app
                    .post(&format!("/v1/webhooks/{id}/test"), &json!({}))
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                url = url.replace("{delivery_id}", r.body["delivery_id"].as_str().expect("id"));
            }
            body = (method == "PATCH").then(|| json!({"description": "changed"}));
        }
    } else if template == "/v1/audit/identities/{identity_id}" {
        url = url.replace("{identity_id}", "sa:admin");
    } else if template == "/v1/audit/export" {
        body = Some(json!({"format": "jsonl"}));
    }
    Cell { url, body }
}

async fn every_route_answers_every_caller_as_the_table_says(kind: StoreKind) {
    // The table covers exactly what the registry serves.
    let served: BTreeSet<String> = scaivault::api::routes()
        .served()
        .iter()
        .flat_map(|s| {
            s.documented
                .iter()
                .map(move |d| format!("{} {d}", s.method))
        })
        .collect();
    let rows: BTreeSet<String> = TABLE.iter().map(|(r, _)| r.to_string()).collect();
    let missing: Vec<_> = served.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in TABLE: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for routes that are not served: {stale:?}"
    );

    let app = TestApp::spawn(kind).await;
    let mut tokens = Vec::new();
    for caller in CALLERS {
        let tok = match caller {
            "admin@a" => {
                app.create_token("admin-a", &["admin"], &["team-a/"])
                    .await
                    .1
            }
            "read@a" => {
                app.create_token("read-a", &["secrets:read"], &["team-a/"])
                    .await
                    .1
            }
            "other-admin" => app.token_in_tenant("tnt_other", &["admin"]).await,
            "read" | "write" | "delete" | "list" | "rotate" => {
                let scope = format!("secrets:{caller}");
                app.create_token(caller, &[scope.as_str()], &[]).await.1
            }
            scope => {
                let name = scope.replace(':', "-");
                app.create_token(&name, &[scope], &[]).await.1
            }
        };
        tokens.push(tok);
    }

    let mut n = 0;
    let mut wrong = Vec::new();
    for (route, expected) in TABLE {
        let groups: Vec<&str> = expected.split_whitespace().collect();
        assert_eq!(groups.len(), CALLERS.len(), "{route}: one group per caller");
        let method =
            Method::from_bytes(route.split(' ').next().unwrap_or("").as_bytes()).expect("method");
        for (caller, (group, tok)) in CALLERS.iter().zip(groups.iter().zip(&tokens)) {
            for (target, cell) in [Target::A, Target::B, Target::N]
                .into_iter()
                .zip(group.chars())
            {
                let Some(want) = status_of(cell) else {
                    continue;
                };
                n += 1;
                if std::env::var_os("MATRIX_TRACE").is_some() {
                    eprintln!("cell {n}: {route} as {caller} on {target:?}");
                }
                let c = prepare(&app, route, target, n).await;
                let r = app
                    .call(method.clone(), &c.url, Some(tok), c.body.as_ref())
                    .await;
                if r.status != want {
                    wrong.push(format!(
                        "{route} as {caller} on {target:?}: got {} want {want}: {}",
                        r.status, r.body
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {n} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
