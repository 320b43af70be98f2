//! Creating, listing, changing and deleting subscriptions: validation, scopes, globs inside
//! the creator's path rules, and ownership (another token gets 404, an admin without rules
//! sees everything).

use super::{create, poll, polling, CONSUMER};
use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    create_shows_the_subscription_and_validates_the_body,
    globs_must_lie_inside_the_creators_path_rules,
    only_the_owner_or_an_unrestricted_admin_sees_a_subscription,
    patch_and_delete_change_what_is_routed,
    scopes_gate_every_subscription_endpoint,
);

async fn create_shows_the_subscription_and_validates_the_body(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("reporting", CONSUMER, &[]).await;
    let s = create(
        &app,
        &token,
        polling(
            "cache",
            &["integrations/**", "db/*/primary"],
            &["secret.rotated"],
        ),
    )
    .await;
    assert!(s["id"].as_str().unwrap().starts_with("sub_"), "{s}");
    assert_eq!(s["status"], "active");
    assert_eq!(s["identity_id"], "sa:reporting");
    assert_eq!(s["paths"], json!(["integrations/**", "db/*/primary"]));
    assert_eq!(s["events"], json!(["secret.rotated"]));
    assert_eq!(
        s["delivery"],
        json!({"type": "polling", "buffer_size": 1000})
    );
    assert_eq!(s["dropped_events"], 0);
    assert_eq!(s["pending_events"], 0);

    let same_name = app
        .call(
            Method::POST,
            "/v1/subscriptions",
            Some(&token),
            Some(&polling("cache", &["x"], &["*"])),
        )
        .await;
    assert_eq!(same_name.status, StatusCode::CONFLICT, "{}", same_name.body);
    assert_eq!(same_name.body["error"]["code"], "name_conflict");

    let bad: &[(Value, StatusCode, &str)] = &[
        (
            polling("g", &["db-*"], &["*"]),
            StatusCode::BAD_REQUEST,
            "invalid_glob",
        ),
        (
            polling("g", &["a//b"], &["*"]),
            StatusCode::BAD_REQUEST,
            "invalid_glob",
        ),
        (
            polling("g", &["/a"], &["*"]),
            StatusCode::BAD_REQUEST,
            "invalid_glob",
        ),
        (
            polling("g", &["a"], &["secret.nope"]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            polling("g", &[], &["*"]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            json!({"name": "g", "paths": ["a"], "events": ["*"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            json!({"name": "g", "paths": ["a"], "events": ["*"], "delivery": {"type": "carrier-pigeon"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            json!({"name": "g", "paths": ["a"], "events": ["*"], "delivery": {"type": "polling", "buffer_size": 0}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            json!({"name": "g", "paths": ["a"], "events": ["*"], "delivery": {"type": "webhook"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            json!({"name": "g", "paths": ["a"], "events": ["*"], "delivery": {"type": "polling", "url": "http://127.0.0.1:1/x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            json!({"name": "g", "paths": "a", "events": ["*"], "delivery": {"type": "polling"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
    ];
    for (body, status, code) in bad {
        let r = app
            .call(Method::POST, "/v1/subscriptions", Some(&token), Some(body))
            .await;
        assert_eq!(r.status, *status, "{body} -> {}", r.body);
        assert_eq!(r.body["error"]["code"], *code, "{body} -> {}", r.body);
    }
    let missing = app
        .call(
            Method::POST,
            "/v1/subscriptions",
            Some(&token),
            Some(&json!({"name": "g", "paths": ["a"], "events": ["*"], "delivery": {"type": "webhook"}})),
        )
        .await;
    let fields = missing.body["error"]["details"]["fields"].to_string();
    assert!(
        fields.contains("delivery.url") && fields.contains("delivery.secret"),
        "{fields}"
    );
    // Nothing was stored by the refused requests.
    let list = app
        .call(Method::GET, "/v1/subscriptions", Some(&token), None)
        .await;
    assert_eq!(
        list.body["subscriptions"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
}

async fn globs_must_lie_inside_the_creators_path_rules(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("team-a", CONSUMER, &["team-a"]).await;
    for glob in ["team-a/**", "team-a", "team-a/*/db"] {
        create(
            &app,
            &token,
            polling(glob.replace(['/', '*'], "_").as_str(), &[glob], &["*"]),
        )
        .await;
    }
    for glob in ["**", "*/db", "team-a-prod/**", "team-b/**"] {
        let r = app
            .call(
                Method::POST,
                "/v1/subscriptions",
                Some(&token),
                Some(&polling("outside", &["team-a/**", glob], &["*"])),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{glob}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "access_denied", "{glob}");
    }
    // The refusal is audited.
    let rows = app
        .get("/v1/audit/logs?action=subscription_create&success=false")
        .await;
    assert!(
        !rows.body["logs"].as_array().unwrap().is_empty(),
        "{}",
        rows.body
    );
    // A PATCH may not widen them either.
    let s = create(&app, &token, polling("narrow", &["team-a/x"], &["*"])).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/subscriptions/{}", s["id"].as_str().unwrap()),
            Some(&token),
            Some(&json!({"paths": ["**"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

async fn only_the_owner_or_an_unrestricted_admin_sees_a_subscription(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, owner) = app.create_token("owner", CONSUMER, &[]).await;
    let (_, other) = app.create_token("other", CONSUMER, &[]).await;
    let (_, team_admin) = app
        .create_token("team-admin", &["admin"], &["team-a"])
        .await;
    let s = create(&app, &owner, polling("mine", &["**"], &["*"])).await;
    let id = s["id"].as_str().unwrap();
    create(&app, &other, polling("theirs", &["**"], &["*"])).await;

    for token in [&other, &team_admin] {
        for (method, path, body) in [
            (Method::GET, format!("/v1/subscriptions/{id}"), None),
            (
                Method::PATCH,
                format!("/v1/subscriptions/{id}"),
                Some(json!({"name": "x"})),
            ),
            (
                Method::GET,
                format!("/v1/subscriptions/{id}/poll?timeout=0"),
                None,
            ),
            (
                Method::POST,
                format!("/v1/subscriptions/{id}/ack"),
                Some(json!({"event_ids": ["evt_x"]})),
            ),
            (Method::DELETE, format!("/v1/subscriptions/{id}"), None),
        ] {
            let r = app
                .call(method.clone(), &path, Some(token), body.as_ref())
                .await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["code"], "subscription_not_found");
        }
    }
    let names = |r: &crate::common::Resp| -> Vec<String> {
        r.body["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mine = app
        .call(Method::GET, "/v1/subscriptions", Some(&owner), None)
        .await;
    assert_eq!(names(&mine), ["mine"]);
    let restricted = app
        .call(Method::GET, "/v1/subscriptions", Some(&team_admin), None)
        .await;
    assert!(names(&restricted).is_empty(), "{}", restricted.body);
    let mut all = names(&app.get("/v1/subscriptions").await);
    all.sort();
    assert_eq!(all, ["mine", "theirs"]);
    // The unrestricted admin reaches it; the subscription is still the owner's.
    let r = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["identity_id"], "sa:owner");
    assert_eq!(
        poll(&app, &app.root_token, id, "timeout=0").await.status,
        StatusCode::OK
    );
}

async fn patch_and_delete_change_what_is_routed(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let s = create(&app, &token, polling("p", &["a/*"], &["secret.created"])).await;
    let id = s["id"].as_str().unwrap().to_string();
    let url = format!("/v1/subscriptions/{id}");
    let patch = |body: Value| {
        let (app, token, url) = (&app, &token, &url);
        async move { app.call(Method::PATCH, url, Some(token), Some(&body)).await }
    };
    let r =
        patch(json!({"paths": ["b/**"], "events": ["*"], "delivery": {"buffer_size": 5}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["paths"], json!(["b/**"]));
    assert_eq!(r.body["delivery"]["buffer_size"], 5);
    app.put_secret("a/x", json!({"v": 1})).await;
    app.put_secret("b/x/y", json!({"v": 1})).await;
    let events = super::poll_now(&app, &token, &id).await;
    assert_eq!(
        super::kinds(&events),
        [("secret.created".into(), "b/x/y".into())]
    );

    let r = patch(json!({"status": "paused"})).await;
    assert_eq!(r.body["status"], "paused");
    app.put_secret("b/z", json!({"v": 1})).await;
    assert_eq!(
        super::poll_now(&app, &token, &id).await.len(),
        1,
        "paused: nothing new"
    );
    assert_eq!(
        patch(json!({"status": "active"})).await.status,
        StatusCode::OK
    );
    app.put_secret("b/w", json!({"v": 1})).await;
    assert_eq!(super::poll_now(&app, &token, &id).await.len(), 2);

    for (body, field) in [
        (json!({"status": "sleeping"}), "status"),
        (json!({"delivery": {"type": "webhook"}}), "delivery.type"),
        (
            json!({"delivery": {"secret": "0123456789abcdef0123"}}),
            "delivery.secret",
        ),
    ] {
        let r = patch(body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert!(
            r.body["error"]["details"]["fields"]
                .to_string()
                .contains(field),
            "{}",
            r.body
        );
    }
    let r = patch(json!({"paths": ["b/**x"]})).await;
    assert_eq!(r.body["error"]["code"], "invalid_glob");

    let r = app.call(Method::DELETE, &url, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.call(Method::GET, &url, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Its queue went with it.
    let pool = app.db().await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscription_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let audit = app
        .get("/v1/audit/logs?action=subscription_update,subscription_delete&success=true")
        .await;
    assert!(
        audit.body["logs"].as_array().unwrap().len() >= 4,
        "{}",
        audit.body
    );
}

async fn scopes_gate_every_subscription_endpoint(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, reader) = app
        .create_token("reader", &["subscriptions:read"], &[])
        .await;
    let (_, nobody) = app.create_token("nobody", &["secrets:read"], &[]).await;
    let r = app
        .call(
            Method::POST,
            "/v1/subscriptions",
            Some(&reader),
            Some(&polling("x", &["a"], &["*"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["error"]["code"], "insufficient_scope");
    let r = app
        .call(Method::GET, "/v1/subscriptions", Some(&nobody), None)
        .await;
    assert_eq!(r.body["error"]["code"], "insufficient_scope");
    let r = app
        .call(Method::GET, "/v1/subscriptions", Some(&reader), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // admin implies the subscription scopes.
    let r = app
        .post("/v1/subscriptions", &polling("root", &["**"], &["*"]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let whoami = app
        .call(
            Method::POST,
            "/v1/auth/tokens",
            Some(&app.root_token),
            Some(&json!({"name": "s", "scopes": ["subscriptions:write"]})),
        )
        .await;
    assert_eq!(
        whoami.status,
        StatusCode::CREATED,
        "the new scopes are known: {}",
        whoami.body
    );
}
