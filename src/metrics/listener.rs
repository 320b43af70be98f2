//! The separate, unauthenticated metrics listener (`SCAIVAULT_METRICS_LISTEN`): started with the
//! server, stopped by the same cancellation token. Bind it to a private interface.

use crate::server::AppState;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Serves `/metrics` and `/v1/metrics` on `listener` until `cancel` fires.
pub fn serve_public(
    state: AppState,
    listener: TcpListener,
    cancel: CancellationToken,
) -> std::io::Result<JoinHandle<std::io::Result<()>>> {
    let addr = listener.local_addr()?;
    tracing::info!(listen = %addr, "metrics listener started (no auth)");
    let app = crate::api::metrics::public_router(state);
    Ok(tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await
    }))
}
