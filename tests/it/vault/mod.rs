//! Vault's KV v2 dialect (SPEC §12), driven by a real Vault client library (`vaultrs`) where
//! one exists for the call, and by raw requests where the test is about the exact wire shape.

mod benchmark_sequence;
mod client_flows;
mod cross_api;
mod error_shapes;

use crate::common::{Resp, TestApp};
use serde_json::Value;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};

/// A `vaultrs` client for this app with `token`.
pub fn vault_client(app: &TestApp, token: &str) -> VaultClient {
    VaultClient::new(
        VaultClientSettingsBuilder::default()
            .address(&app.base)
            .token(token)
            .build()
            .expect("vault client settings"),
    )
    .expect("vault client")
}

/// A raw request with `X-Vault-Token` (method may be `LIST`).
pub async fn vault_call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Resp {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = app
        .client
        .request(method, app.url(path))
        .header("X-Vault-Token", token);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    TestApp::into_resp(rb.send().await.expect("request sent")).await
}

/// The `code` of a vaultrs API error, and its error list.
pub fn api_error(e: vaultrs::error::ClientError) -> (u16, Vec<String>) {
    match e {
        vaultrs::error::ClientError::APIError { code, errors } => (code, errors),
        other => panic!("expected an API error, got {other:?}"),
    }
}
