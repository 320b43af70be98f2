//! Serving a router on a TCP listener, plain HTTP or HTTPS, with the connection limits of
//! SPEC §13: a connection must finish sending its request headers within the header read
//! timeout (counted from the connection opening — after the TLS handshake, which the same
//! time bounds — or from the previous response on a kept-alive connection), else it is closed.
//! Without this a client that sends half a request line holds a connection indefinitely.

use axum::Router;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use std::net::SocketAddr;
use std::time::Duration;

/// Serves `app` on `listener` (HTTPS when `tls` is given) until `handle` shuts it down.
/// Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<RustlsConfig>,
    header_read_timeout: Duration,
    handle: Handle<SocketAddr>,
    app: Router,
) -> std::io::Result<()> {
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        // The first request also covers the bytes hyper reads to tell HTTP/1 from HTTP/2,
        // which its own header timeout does not.
        .first_request_timeout(header_read_timeout)
        .handle(handle);
    // Every later request on a kept-alive HTTP/1 connection (axum-server installs the timer).
    server
        .http_builder()
        .http1()
        .header_read_timeout(header_read_timeout);
    match tls {
        None => server.serve(service).await,
        Some(config) => {
            let acceptor = RustlsAcceptor::new(config).handshake_timeout(header_read_timeout);
            server.acceptor(acceptor).serve(service).await
        }
    }
}
