//! A URL path whose percent-decoding is not UTF-8 (`%FF`) answers 400 `invalid_path` in the
//! JSON error envelope on every route (SPEC §13), not axum's plain-text rejection.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};

both_stores!(undecodable_path_is_invalid_path_in_the_envelope);

async fn undecodable_path_is_invalid_path_in_the_envelope(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let cases = [
        (Method::GET, "/v1/secrets/team/%FF"),
        (Method::PUT, "/v1/secrets/%C3%28/x"),
        (Method::GET, "/v1/secrets/team/%ff/versions"),
        (Method::GET, "/v1/audit/secrets/%FF"),
        (Method::GET, "/v1/audit/identities/user:%FF"),
        (Method::GET, "/v1/webhooks/wh_%FF"),
        (Method::GET, "/v1/webhooks/wh_x/deliveries/%FE"),
        (Method::GET, "/v1/rotation/policies/rot_%FF"),
        (Method::DELETE, "/v1/rotation/policies/rot_a/secrets/%FF"),
        (Method::DELETE, "/v1/auth/tokens/tok_%FF"),
    ];
    for (method, path) in cases {
        for token in [Some(app.root_token.as_str()), None] {
            let r = app.call(method.clone(), path, token, None).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{method} {path}: {:?}",
                r.body
            );
            assert_eq!(r.code(), "invalid_path", "{method} {path}");
            assert!(
                r.body["error"]["request_id"].is_string(),
                "{method} {path}: {}",
                r.body
            );
            assert_eq!(
                r.header("content-type"),
                Some("application/json"),
                "{method} {path}"
            );
        }
    }
}
