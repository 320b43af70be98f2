//! Per-token rate limits (SPEC §8): off by default (no `X-RateLimit-*` headers); with a budget,
//! every response of the category carries the headers, the request over the budget gets 429
//! `rate_limited` with `Retry-After` and has no effect, other tokens and categories are
//! unaffected, and the budget comes back as the (test) clock moves.

use crate::both_stores;
use crate::common::{Resp, StoreKind, TestApp};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;

both_stores!(
    reads_over_the_budget_are_refused,
    writes_and_admin_have_their_own_budgets,
    no_setting_no_limit
);

fn rl(r: &Resp) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        r.header("x-ratelimit-limit"),
        r.header("x-ratelimit-remaining"),
        r.header("x-ratelimit-reset"),
    )
}

async fn reads_over_the_budget_are_refused(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| c.rate_limits.reads = 3).await;
    app.put_secret("rl/a", json!({"v": 1})).await;
    let (_, t1) = app.create_token("one", &["secrets:read"], &[]).await;
    let (_, t2) = app.create_token("two", &["secrets:read"], &[]).await;
    let read = |t: &str| {
        let t = t.to_string();
        let app = &app;
        async move {
            app.call(Method::GET, "/v1/secrets/rl/a", Some(&t), None)
                .await
        }
    };
    for (remaining, reset) in [("2", "20"), ("1", "40"), ("0", "60")] {
        let r = read(&t1).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(rl(&r), (Some("3"), Some(remaining), Some(reset)));
    }
    let r = read(&t1).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.header("retry-after"), Some("20"));
    assert_eq!(rl(&r), (Some("3"), Some("0"), Some("60")));
    assert_eq!(r.body["error"]["details"]["category"], "reads");
    assert!(r.body["error"]["request_id"].is_string());
    assert!(r.header("x-request-id").is_some());
    // A denial of another kind (a 404) spends budget and carries the headers too.
    let r = app
        .call(Method::GET, "/v1/secrets/rl/missing", Some(&t2), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(rl(&r), (Some("3"), Some("2"), Some("20")));
    // Another token has its own bucket.
    let r = read(&t2).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("1"));
    // Never limited: health, version; an unauthenticated request gets its 401, no headers.
    for path in ["/v1/health", "/v1/version"] {
        let r = app.call(Method::GET, path, Some(&t1), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(rl(&r), (None, None, None));
    }
    let r = app.call(Method::GET, "/v1/secrets/rl/a", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Still limited until the clock moves; a minute later the bucket is full again.
    assert_eq!(read(&t1).await.status, StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(Duration::seconds(60));
    let r = read(&t1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(rl(&r), (Some("3"), Some("2"), Some("20")));
    // Writes have no budget here: no headers.
    let r = app
        .put("/v1/secrets/rl/a", &json!({"data": {"v": 2}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(rl(&r), (None, None, None));
}

async fn writes_and_admin_have_their_own_budgets(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| {
        c.rate_limits.reads = 5;
        c.rate_limits.writes = 2;
        c.rate_limits.admin = 1;
    })
    .await;
    // The root token's single admin request per minute creates the writer's token.
    let (_, w) = app
        .create_token("writer", &["secrets:read", "secrets:write"], &[])
        .await;
    let r = app.get("/v1/webhooks").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(r.body["error"]["details"]["category"], "admin");
    let put = |v: i64| {
        let w = w.clone();
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                "/v1/secrets/rl/x",
                Some(&w),
                Some(&json!({"data": {"v": v}})),
            )
            .await
        }
    };
    let r = put(1).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(rl(&r), (Some("2"), Some("1"), Some("30")));
    assert_eq!(put(2).await.status, StatusCode::OK);
    let r = put(3).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.header("retry-after"), Some("30"));
    // The refused write changed nothing; reads spend their own budget.
    let r = app
        .call(Method::GET, "/v1/secrets/rl/x", Some(&w), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (r.body["data"]["v"].as_i64(), r.body["version"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(rl(&r), (Some("5"), Some("4"), Some("12")));
    let r = app
        .call(Method::DELETE, "/v1/secrets/rl/x", Some(&w), None)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.get("/v1/secrets/rl/x").await.status,
        StatusCode::OK,
        "the refused delete changed nothing"
    );
    // One write comes back every 30 s.
    app.clock.advance(Duration::seconds(30));
    let r = put(4).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 3);
    assert_eq!(put(5).await.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn no_setting_no_limit(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("rl/free", json!({"v": 1})).await;
    for _ in 0..20 {
        let r = app.get("/v1/secrets/rl/free").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(rl(&r), (None, None, None));
        assert_eq!(r.header("retry-after"), None);
    }
    let r = app
        .put("/v1/secrets/rl/free", &json!({"data": {"v": 2}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(rl(&r), (None, None, None));
    let r = app.get("/v1/auth/tokens").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(rl(&r), (None, None, None));
}
