//! In-process wake-ups after commits: the delivery worker when deliveries were queued, and
//! long-polling feed readers when events were stored; and the end of long polls when the
//! server stops. Pure signals — the data is in the store.

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

/// Signals between request handlers and background loops.
pub struct EventBus {
    /// Wakes the delivery worker.
    pub deliveries: Notify,
    events: watch::Sender<u64>,
    /// Cancelled when the server starts shutting down: waiting long polls answer at once
    /// instead of holding the shutdown's drain for up to a minute.
    stopping: CancellationToken,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self {
            deliveries: Notify::new(),
            events: watch::channel(0).0,
            stopping: CancellationToken::new(),
        }
    }

    /// Call after a commit that stored events (and `deliveries` deliveries).
    pub fn published(&self, events: usize, deliveries: usize) {
        if deliveries > 0 {
            self.deliveries.notify_one();
        }
        if events > 0 {
            self.events.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The server is shutting down: long polls end now.
    pub fn stop(&self) {
        self.stopping.cancel();
    }

    /// Resolves once [`EventBus::stop`] was called.
    pub async fn stopped(&self) {
        self.stopping.cancelled().await
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// A receiver that changes whenever events are stored.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }
}
