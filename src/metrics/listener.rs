//! The separate, unauthenticated metrics listener (`SCAIVAULT_METRICS_LISTEN`): started with the
//! server, stopped by the same cancellation token. Bind it to a private interface.

use crate::server::AppState;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Binds `addr` and serves `/metrics` and `/v1/metrics` there until `cancel` fires.
pub async fn serve_public(
    state: AppState,
    addr: SocketAddr,
    cancel: CancellationToken,
) -> std::io::Result<JoinHandle<std::io::Result<()>>> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} (SCAIVAULT_METRICS_LISTEN): {e}"),
        )
    })?;
    let addr = listener.local_addr()?;
    tracing::info!(listen = %addr, "metrics listener started (no auth)");
    let header_read_timeout = state.config.header_read_timeout.as_std();
    let app = crate::api::metrics::public_router(state);
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        cancel.cancelled().await;
        stopper.graceful_shutdown(Some(crate::server::DRAIN_LIMIT));
    });
    Ok(tokio::spawn(crate::http::listener::serve(
        listener,
        None,
        header_read_timeout,
        handle,
        app,
    )))
}
