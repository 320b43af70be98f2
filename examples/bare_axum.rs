//! The HTTP ceiling for benchmarks: bare axum answering a JSON body shaped like a secret read.
//! `cargo run --release --example bare_axum -- 127.0.0.1:8299`

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

async fn secret() -> Json<Value> {
    Json(json!({
        "path": "bench/s", "version": 1, "secret_type": "json",
        "data": {"client_id": "3MVG9-bench", "client_secret": "0123456789abcdef0123456789abcdef"},
        "metadata": {"description": null, "tags": [], "owner": null, "custom": {}},
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "expires_at": null, "rotation_policy_id": null, "rotation": null
    }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8299".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(
        listener,
        Router::new().route("/v1/secrets/bench/s", get(secret)),
    )
    .await
}
