//! PostgreSQL: tells a replica about every other process's commits, on one connection.
//! Triggers (migration 0008) run `NOTIFY scaivault_cache, 'secrets' | 'tokens'` on any change
//! to the cached tables, whoever makes it (another replica, a CLI command, an operator's SQL);
//! this task listens and bumps the matching generation of the read cache. The cache is on only
//! while the listener is connected: a lost connection turns it off (and empties it) until
//! LISTEN is back. A trigger on `events` (migration 0014) runs `NOTIFY scaivault_events`: the
//! task calls `wake`, so long-polls (event feed, subscriptions) answer at once whichever
//! replica stored the event; they also look again every second, and a reconnect wakes them.

use super::read_cache::{Group, ReadCache};
use sqlx::postgres::{PgListener, PgPoolOptions};
use std::sync::Weak;
use std::time::Duration;

/// The channel the cache triggers notify.
pub const CHANNEL: &str = "scaivault_cache";
/// The channel the `events` trigger notifies.
pub const EVENTS_CHANNEL: &str = "scaivault_events";

/// What to run when another process stored events.
pub type Wake = std::sync::Arc<dyn Fn() + Send + Sync>;

/// How often an idle listener checks that its cache still exists.
const OWNER_CHECK: Duration = Duration::from_secs(1);

/// The longest pause between two attempts to listen again. It bounds how long the cache stays
/// off after PostgreSQL is back: at 5 s the chaos harness measured 5.1 s after an outage of
/// a few seconds; one connection attempt a second while the database is down costs nothing.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Connects once now (so a healthy start has the cache on at once), then keeps listening in
/// the background for as long as the cache exists (the store is open). `cache_on`: the
/// cache was configured on (else it stays off and only `wake` is served).
pub async fn start(url: String, cache: Weak<ReadCache>, cache_on: bool, wake: Wake) {
    let first = connect(&url).await;
    tokio::spawn(run(url, cache, cache_on, wake, Some(first)));
}

/// How long one attempt to connect the listener may take. `PgListener::connect` makes a pool
/// with sqlx's default 30 s acquire timeout, whose connect retries back off up to a fifth of it:
/// after an outage the listener came back about 5 s after PostgreSQL did (measured by the chaos
/// harness). With 1 s the retries run every 200 ms at most.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    // The pool only reconnects the listener's one connection: no lifetime or idle limits (as
    // in `PgListener::connect`), a short acquire timeout.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen_all([CHANNEL, EVENTS_CHANNEL]).await?;
    Ok(listener)
}

async fn run(
    url: String,
    cache: Weak<ReadCache>,
    cache_on: bool,
    wake: Wake,
    mut first: Option<Result<PgListener, sqlx::Error>>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = match first.take() {
            Some(a) => a,
            None => connect(&url).await,
        };
        let mut listener = match attempt {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error.cause = %e, "read cache off: cannot listen for changes");
                if cache.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        match cache.upgrade() {
            Some(c) => c.set_enabled(cache_on),
            None => return,
        }
        // Events stored while disconnected were not announced.
        wake();
        loop {
            match tokio::time::timeout(OWNER_CHECK, listener.try_recv()).await {
                Err(_idle) if cache.strong_count() == 0 => return,
                Err(_idle) => {}
                Ok(Ok(Some(note))) if note.channel() == EVENTS_CHANNEL => wake(),
                Ok(Ok(Some(note))) => {
                    let Some(c) = cache.upgrade() else { return };
                    match note.payload() {
                        "tokens" => c.invalidate(Group::Tokens),
                        "secrets" => c.invalidate(Group::Secrets),
                        _ => {
                            c.invalidate(Group::Tokens);
                            c.invalidate(Group::Secrets);
                        }
                    }
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    // Notifications sent while disconnected are lost: stop serving from cache.
                    let Some(c) = cache.upgrade() else { return };
                    c.set_enabled(false);
                    tracing::warn!("read cache off: the change listener lost its connection");
                    break;
                }
            }
        }
    }
}
