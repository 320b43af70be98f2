//! `scaivault serve`: listen first (so a second server on a busy port stops before it touches
//! the store or its tokens), build the app, log one start-up line, print a minted token once on
//! stdout, and drain on SIGTERM/ctrl-c.

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
    // Bound before the store is opened: `serve --dev` revokes the previous dev root token, so a
    // second server that cannot listen must stop before it revokes the live one.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (is another scaivault running?)"))?;
    let addr = listener.local_addr()?;
    let key_source = master_key_source(&config);
    let store = super::store_label(&config.database_url);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = crate::App::build(config, clock).await?;
    match &tls {
        Some(tls) => tls.clone().reload_on_sighup()?,
        None => ignore_sighup()?,
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        listen = %addr,
        url = %format!("{scheme}://{addr}"),
        store = %store,
        master_key = %key_source,
        token = app.initial_token.as_ref().map_or("none minted at this start", |_| "printed on stdout"),
        "scaivault serving on {scheme}://{addr} (store {store}, master key from {key_source})"
    );
    if let Some(t) = &app.initial_token {
        // Printed to stdout once, never through the logger.
        println!(
            "\n  {}:\n\n    {}\n\n  export SCAIVAULT_ADDR={scheme}://{addr} SCAIVAULT_TOKEN=<the token above>\n",
            t.reason,
            t.token.expose_secret()
        );
    }
    app.serve_with(listener, tls, shutdown_signal()).await?;
    tracing::info!("scaivault stopped");
    Ok(())
}

/// Where the master key comes from, for the start-up line (never the key itself).
fn master_key_source(config: &Config) -> String {
    if config.master_key.is_some() {
        "SCAIVAULT_MASTER_KEY".into()
    } else if let Some(f) = &config.master_key_file {
        format!("file {}", f.display())
    } else if config.dev {
        let f = config.data_dir.join("master.key");
        if f.exists() {
            format!("dev key file {}", f.display())
        } else {
            format!("dev key file {} (generated now: back it up)", f.display())
        }
    } else {
        "nowhere (start fails)".into()
    }
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
