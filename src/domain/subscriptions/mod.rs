//! Subscriptions (SPEC §10): a token's own glob-scoped stream of events, polled and
//! acknowledged (for consumers behind a firewall) or pushed to a webhook of its own.
//!
//! Events are routed when they are stored (`domain::outbox`, in the transaction of the change
//! that caused them): a polling subscription gets a queue entry, a webhook subscription a
//! delivery. What the owner may see is checked again when an event leaves: at each poll and
//! before each delivery attempt, so a token revoked, expired or narrowed later stops receiving.

pub mod glob;
pub mod ops;

use crate::domain::access;
use crate::store::SubscriptionRow;
use glob::Glob;

/// `buffer_size` when none is given.
pub const DEFAULT_BUFFER: i64 = 1000;
/// Largest `buffer_size` accepted.
pub const MAX_BUFFER: i64 = 100_000;
/// Most globs in one subscription.
pub const MAX_GLOBS: usize = 100;
/// Longest poll, in seconds.
pub const MAX_POLL_SECONDS: u64 = 60;

/// `delivery.type` of a subscription that is polled.
pub const POLLING: &str = "polling";
/// `delivery.type` of a subscription pushed to a webhook.
pub const WEBHOOK: &str = "webhook";
pub const ACTIVE: &str = "active";
pub const PAUSED: &str = "paused";

/// A subscription ready for routing: its globs and event types parsed once.
pub struct Route<'a> {
    pub row: &'a SubscriptionRow,
    globs: Vec<Glob>,
    events: Vec<String>,
}

impl<'a> Route<'a> {
    /// Parses a stored subscription (stored globs were checked when saved; an unreadable
    /// one matches nothing).
    pub fn new(row: &'a SubscriptionRow) -> Self {
        let globs: Vec<String> = serde_json::from_str(&row.paths).unwrap_or_default();
        Self {
            row,
            globs: globs.iter().filter_map(|g| Glob::parse(g).ok()).collect(),
            events: serde_json::from_str(&row.events).unwrap_or_default(),
        }
    }

    /// True when an event of `event_type` about `path` belongs to this subscription and its
    /// owner may read `path` now. Events without a path are never routed to subscriptions.
    pub fn wants(&self, event_type: &str, path: Option<&str>, now_us: i64) -> bool {
        let Some(path) = path else { return false };
        self.events.iter().any(|t| t == "*" || t == event_type)
            && self.globs.iter().any(|g| g.matches(path))
            && owner_may_read(self.row, path, now_us)
    }
}

/// True when the subscription's owner token exists, is neither revoked nor expired at
/// `now_us`, and its path rules cover `path`.
pub fn owner_may_read(s: &SubscriptionRow, path: &str, now_us: i64) -> bool {
    let Some(rules) = &s.owner_rules else {
        return false;
    };
    if s.owner_revoked_at.is_some() || s.owner_expires_at.is_some_and(|e| e <= now_us) {
        return false;
    }
    match serde_json::from_str::<Vec<String>>(rules) {
        Ok(rules) => access::inside(&rules, path),
        Err(_) => false,
    }
}

/// True when the owner token can no longer receive anything (gone, revoked or expired).
pub fn owner_gone(s: &SubscriptionRow, now_us: i64) -> bool {
    s.owner_rules.is_none()
        || s.owner_revoked_at.is_some()
        || s.owner_expires_at.is_some_and(|e| e <= now_us)
}
