//! PostgreSQL: wakes this replica's long-polls (the events feed, subscription polls) when
//! any process stores events. A trigger (migration 0014) runs `NOTIFY scaivault_events` once
//! per inserting statement; this task listens and calls `wake`. While disconnected, waiting
//! polls still look again every second, and a reconnect wakes them once in case a
//! notification was missed.

use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The channel the trigger notifies.
pub const CHANNEL: &str = "scaivault_events";

/// Listens until `cancel`, reconnecting with a backoff of up to 5 s.
pub async fn run(url: String, wake: impl Fn() + Send + 'static, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut listener = match connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error.cause = %e, "cannot listen for other replicas' events");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        wake();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                note = listener.try_recv() => match note {
                    Ok(Some(_)) => wake(),
                    Ok(None) | Err(_) => {
                        tracing::warn!("the event listener lost its connection; reconnecting");
                        break;
                    }
                },
            }
        }
    }
}

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
