//! In-process wake-ups after commits: the delivery worker when deliveries were queued, and
//! long-polling feed readers when events were stored. Pure signals — the data is in the store.

use tokio::sync::{watch, Notify};

/// Signals between request handlers and background loops.
pub struct EventBus {
    /// Wakes the delivery worker.
    pub deliveries: Notify,
    events: watch::Sender<u64>,
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

    /// A receiver that changes whenever events are stored.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }
}
