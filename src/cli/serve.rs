//! `scaivault serve`: build the app, listen (TLS or plain), print the first root token once,
//! and drain on SIGTERM/ctrl-c.

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use anyhow::Context;
use secrecy::ExposeSecret;
use std::sync::Arc;

pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    // Checked before the store is opened: a bad certificate or key stops the start at once.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::Tls::load(cert, key)?),
        _ => None,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = crate::App::build(config, clock).await?;
    if let Some(t) = &app.initial_token {
        // Printed to stdout once, never through the logger.
        println!("\n  {}:\n\n    {}\n", t.reason, t.token.expose_secret());
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    match &tls {
        Some(tls) => tls.clone().reload_on_sighup()?,
        None => ignore_sighup()?,
    }
    tracing::info!(listen = %addr, backend = app.state.store.backend().as_str(), tls = tls.is_some(), "scaivault serving");
    app.serve_with(listener, tls, shutdown_signal()).await?;
    tracing::info!("scaivault stopped");
    Ok(())
}

/// Without TLS there is nothing to reload: SIGHUP (which process managers send on "reload")
/// is logged and ignored instead of ending the process, its default action.
#[cfg(unix)]
fn ignore_sighup() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: nothing to reload (no TLS configured)");
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn ignore_sighup() -> std::io::Result<()> {
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; draining requests");
}
