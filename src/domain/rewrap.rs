//! `scaivault keys rewrap`: re-wraps every stored data key (secret versions, webhook signing
//! secrets, the encryption probe) under the active master key, and re-seals every secret
//! version still sealed with an older binding format (`crypto::binding`) under the current
//! one. Only those re-sealed versions are decrypted (into a buffer zeroed on drop, sealed
//! afresh at once); every other row has only its data key re-wrapped. Online: each row is
//! swapped on its own and only while it still holds what was read. Resumable: it works on
//! whatever is not yet under the active key and binding, so a stopped run is finished by
//! running it again. A row that does not open is reported (never its value) and left as it
//! is; the run goes on with the rest.

use crate::crypto::envelope::{rewrap_key, OpenError};
use crate::crypto::KeyRing;
use crate::domain::master_keys::{refresh, KeyLoadError};
use crate::store::{KeySwap, Store, StoreError, WebhookSecretSlot};

mod versions;

/// At most this many unopenable rows are listed in a report (all are counted).
pub const MAX_LISTED: usize = 100;

/// Why a rewrap stopped.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    #[error(transparent)]
    Keys(#[from] KeyLoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored row that could not be opened, so was left as it is.
#[derive(Debug)]
pub struct Unopenable {
    /// Which row: ids and path, never a value.
    pub what: String,
    pub cause: OpenError,
}

/// Where a rewrap is; passed to the progress callback after every batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapProgress {
    /// Rows to re-wrap when the run started (plus the probe).
    pub total: i64,
    /// Re-wrapped so far.
    pub rewrapped: i64,
    /// Of those, secret versions re-sealed under the current binding format.
    pub resealed: i64,
    /// Changed by someone else while being re-wrapped (left for the next run).
    pub skipped: i64,
    /// Could not be opened (altered, moved, or under a key that is not loaded): left as is.
    pub unopenable: i64,
}

/// What a finished run did.
#[derive(Debug)]
pub struct RewrapReport {
    pub active_key_id: String,
    pub progress: RewrapProgress,
    /// Rows still not under the active key and binding after the run (written meanwhile by a
    /// replica that had not yet seen the rotation, skipped, or unopenable); run again to
    /// finish the first two.
    pub remaining: i64,
    /// The first [`MAX_LISTED`] unopenable rows.
    pub unopenable: Vec<Unopenable>,
}

/// The state one run carries through its batches.
pub(crate) struct Run<'a> {
    pub store: &'a dyn Store,
    pub ring: &'a KeyRing,
    pub active: String,
    pub p: RewrapProgress,
    pub unopenable: Vec<Unopenable>,
}

impl Run<'_> {
    /// Counts a swap's outcome.
    pub fn swapped(&mut self, done: bool) {
        if done {
            self.p.rewrapped += 1;
        } else {
            self.p.skipped += 1;
        }
    }

    /// Records a row that did not open.
    pub fn failed(&mut self, what: String, cause: OpenError) {
        tracing::warn!(row = %what, error.cause = %cause, "stored row does not open; left as it is");
        self.p.unopenable += 1;
        if self.unopenable.len() < MAX_LISTED {
            self.unopenable.push(Unopenable { what, cause });
        }
    }
}

/// Re-wraps everything not under the active key and binding, `batch` secret versions at a time.
pub async fn rewrap_all(
    store: &dyn Store,
    ring: &KeyRing,
    batch: i64,
    mut on_progress: impl FnMut(&RewrapProgress),
) -> Result<RewrapReport, RewrapError> {
    refresh(store, ring).await?;
    let active = ring.active().id().to_string();
    let (versions, webhooks) = store.count_stale_keys(&active).await?;
    let mut run = Run {
        store,
        ring,
        active,
        p: RewrapProgress {
            total: versions + webhooks + 1,
            ..RewrapProgress::default()
        },
        unopenable: Vec::new(),
    };
    on_progress(&run.p);
    versions::rewrap_versions(&mut run, batch.max(1), &mut on_progress).await?;
    rewrap_webhooks(&mut run).await?;
    if crate::domain::key_probe::rewrap_probe(store, ring).await? {
        run.p.rewrapped += 1;
    }
    let p = &mut run.p;
    p.total = p.total.max(p.rewrapped + p.skipped + p.unopenable);
    on_progress(p);
    let (v, w) = store.count_stale_keys(&run.active).await?;
    Ok(RewrapReport {
        active_key_id: run.active,
        progress: run.p,
        remaining: v + w,
        unopenable: run.unopenable,
    })
}

async fn rewrap_webhooks(run: &mut Run<'_>) -> Result<(), RewrapError> {
    for w in run.store.stale_webhooks(&run.active).await? {
        let binding = crate::crypto::binding::webhook_binding(&w.tenant_id, &w.id);
        let mut slots = vec![(
            WebhookSecretSlot::Current,
            binding.clone(),
            w.secret_wrapped_key.clone(),
            w.secret_key_id.clone(),
        )];
        if let (Some(wrapped), Some(key_id)) = (&w.prev_secret_wrapped_key, &w.prev_secret_key_id) {
            let mut prev = binding;
            prev.extend_from_slice(b"\0previous");
            slots.push((
                WebhookSecretSlot::Previous,
                prev,
                wrapped.clone(),
                key_id.clone(),
            ));
        }
        for (slot, binding, old_wrapped, old_key_id) in slots {
            if old_key_id == run.active {
                continue;
            }
            let (wrapped, key_id) = match rewrap_key(run.ring, &binding, &old_wrapped, &old_key_id)
            {
                Ok(x) => x,
                Err(cause) => {
                    let which = match slot {
                        WebhookSecretSlot::Current => "signing secret",
                        WebhookSecretSlot::Previous => "previous signing secret",
                    };
                    run.failed(
                        format!("the {which} of webhook {} (tenant {})", w.id, w.tenant_id),
                        cause,
                    );
                    continue;
                }
            };
            let swap = KeySwap {
                old_wrapped: &old_wrapped,
                old_key_id: &old_key_id,
                new_wrapped: &wrapped,
                new_key_id: &key_id,
            };
            let done = run.store.swap_webhook_key(&w.id, slot, swap).await?;
            run.swapped(done);
        }
    }
    Ok(())
}
