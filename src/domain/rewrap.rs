//! `scaivault keys rewrap`: re-wraps every stored data key (secret versions, webhook signing
//! secrets, the encryption probe) under the active master key. Values are never decrypted,
//! only their data keys. Online: each row is swapped on its own and only while it still holds
//! the key that was re-wrapped. Resumable: it works on whatever is not yet under the active
//! key, so a stopped run is finished by running it again.

use crate::crypto::envelope::{rewrap_key, secret_binding, OpenError};
use crate::crypto::KeyRing;
use crate::domain::master_keys::{refresh, KeyLoadError};
use crate::store::{KeySwap, Store, StoreError, WebhookSecretSlot};

/// Why a rewrap stopped.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    #[error(transparent)]
    Keys(#[from] KeyLoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what} cannot be re-wrapped: {cause}")]
    Unopenable { what: String, cause: OpenError },
}

/// Where a rewrap is; passed to the progress callback after every batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapProgress {
    /// Data keys not under the active key when the run started.
    pub total: i64,
    /// Re-wrapped so far.
    pub rewrapped: i64,
    /// Changed by someone else while being re-wrapped (left for the next run).
    pub skipped: i64,
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapReport {
    pub active_key_id: String,
    pub progress: RewrapProgress,
    /// Data keys still not under the active key after the run (written meanwhile by a
    /// replica that had not yet seen the rotation, or skipped); run again to finish them.
    pub remaining: i64,
}

/// Re-wraps everything not under the active key, `batch` secret versions at a time.
pub async fn rewrap_all(
    store: &dyn Store,
    ring: &KeyRing,
    batch: i64,
    mut on_progress: impl FnMut(&RewrapProgress),
) -> Result<RewrapReport, RewrapError> {
    refresh(store, ring).await?;
    let active = ring.active().id().to_string();
    let (versions, webhooks) = store.count_stale_keys(&active).await?;
    let mut p = RewrapProgress {
        total: versions + webhooks + 1,
        ..RewrapProgress::default()
    };
    on_progress(&p);
    rewrap_versions(store, ring, &active, batch.max(1), &mut p, &mut on_progress).await?;
    rewrap_webhooks(store, ring, &active, &mut p).await?;
    if crate::bootstrap::rewrap_probe(store, ring).await? {
        p.rewrapped += 1;
    }
    p.total = p.total.max(p.rewrapped + p.skipped);
    on_progress(&p);
    let (v, w) = store.count_stale_keys(&active).await?;
    Ok(RewrapReport {
        active_key_id: active,
        progress: p,
        remaining: v + w,
    })
}

async fn rewrap_versions(
    store: &dyn Store,
    ring: &KeyRing,
    active: &str,
    batch: i64,
    p: &mut RewrapProgress,
    on_progress: &mut impl FnMut(&RewrapProgress),
) -> Result<(), RewrapError> {
    let mut after = (String::new(), 0i64);
    loop {
        let rows = store
            .stale_versions(active, (&after.0, after.1), batch)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = (last.secret_id.clone(), last.version);
        for r in &rows {
            let binding = secret_binding(&r.tenant_id, &r.path, r.version);
            let (wrapped, key_id) =
                rewrap_key(ring, &binding, &r.wrapped_key, &r.key_id).map_err(|cause| {
                    RewrapError::Unopenable {
                        what: format!("version {} of secret {}", r.version, r.secret_id),
                        cause,
                    }
                })?;
            let swap = KeySwap {
                old_wrapped: &r.wrapped_key,
                old_key_id: &r.key_id,
                new_wrapped: &wrapped,
                new_key_id: &key_id,
            };
            if store
                .swap_version_key(&r.secret_id, r.version, swap)
                .await?
            {
                p.rewrapped += 1;
            } else {
                p.skipped += 1;
            }
        }
        on_progress(p);
    }
}

async fn rewrap_webhooks(
    store: &dyn Store,
    ring: &KeyRing,
    active: &str,
    p: &mut RewrapProgress,
) -> Result<(), RewrapError> {
    for w in store.stale_webhooks(active).await? {
        let binding = crate::delivery::attempt::webhook_binding(&w.tenant_id, &w.id);
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
            if old_key_id == active {
                continue;
            }
            let (wrapped, key_id) =
                rewrap_key(ring, &binding, &old_wrapped, &old_key_id).map_err(|cause| {
                    RewrapError::Unopenable {
                        what: format!("the signing secret of webhook {}", w.id),
                        cause,
                    }
                })?;
            let swap = KeySwap {
                old_wrapped: &old_wrapped,
                old_key_id: &old_key_id,
                new_wrapped: &wrapped,
                new_key_id: &key_id,
            };
            if store.swap_webhook_key(&w.id, slot, swap).await? {
                p.rewrapped += 1;
            } else {
                p.skipped += 1;
            }
        }
    }
    Ok(())
}
