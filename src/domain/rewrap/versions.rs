//! The secret-version half of `keys rewrap`: a version under an older master key gets its data
//! key re-wrapped; a version sealed with an older binding format is opened and sealed afresh
//! under the current one (new data key, new ciphertext), its value only ever in a buffer
//! zeroed on drop.

use super::{RewrapError, RewrapProgress, Run};
use crate::crypto::binding::{SecretSlot, AAD_CURRENT};
use crate::crypto::envelope::{reseal, rewrap_key, OpenError, Sealed};
use crate::store::{KeySwap, VersionSwap, WrappedVersionRow};

pub(super) async fn rewrap_versions(
    run: &mut Run<'_>,
    batch: i64,
    on_progress: &mut impl FnMut(&RewrapProgress),
) -> Result<(), RewrapError> {
    let mut after = (String::new(), 0i64);
    loop {
        let rows = run
            .store
            .stale_versions(&run.active, (&after.0, after.1), batch)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = (last.secret_id.clone(), last.version);
        for r in &rows {
            if r.aad_version == AAD_CURRENT {
                rewrap_one(run, r).await?;
            } else {
                reseal_one(run, r).await?;
            }
        }
        on_progress(&run.p);
    }
}

fn slot(r: &WrappedVersionRow) -> SecretSlot<'_> {
    SecretSlot {
        tenant: &r.tenant_id,
        secret_id: &r.secret_id,
        path: &r.path,
        version: r.version,
    }
}

fn describe(r: &WrappedVersionRow) -> String {
    format!(
        "version {} of secret {} (tenant {}, path {})",
        r.version, r.secret_id, r.tenant_id, r.path
    )
}

/// Re-wraps the data key only; the ciphertext is not touched.
async fn rewrap_one(run: &mut Run<'_>, r: &WrappedVersionRow) -> Result<(), RewrapError> {
    let binding = slot(r).current();
    let (wrapped, key_id) = match rewrap_key(run.ring, &binding, &r.wrapped_key, &r.key_id) {
        Ok(x) => x,
        Err(cause) => {
            run.failed(describe(r), cause);
            return Ok(());
        }
    };
    let swap = VersionSwap {
        key: KeySwap {
            old_wrapped: &r.wrapped_key,
            old_key_id: &r.key_id,
            new_wrapped: &wrapped,
            new_key_id: &key_id,
        },
        old_aad_version: r.aad_version,
        new_aad_version: r.aad_version,
        new_ciphertext: None,
    };
    let done = run
        .store
        .swap_version_key(&r.secret_id, r.version, swap)
        .await?;
    run.swapped(done);
    Ok(())
}

/// Opens the version under the binding it was sealed with and seals it under the current one.
async fn reseal_one(run: &mut Run<'_>, r: &WrappedVersionRow) -> Result<(), RewrapError> {
    let Some(v) = run.store.get_version(&r.secret_id, r.version).await? else {
        // Destroyed or pruned since it was listed.
        run.p.skipped += 1;
        return Ok(());
    };
    let sealed = Sealed {
        ciphertext: v.ciphertext,
        wrapped_key: v.wrapped_key,
        key_id: v.key_id,
    };
    let slot = slot(r);
    let resealed = slot
        .binding(v.aad_version)
        .ok_or(OpenError::Integrity)
        .and_then(|old| reseal(run.ring, &old, &slot.current(), &sealed));
    let new = match resealed {
        Ok(s) => s,
        Err(cause) => {
            run.failed(describe(r), cause);
            return Ok(());
        }
    };
    let swap = VersionSwap {
        key: KeySwap {
            old_wrapped: &sealed.wrapped_key,
            old_key_id: &sealed.key_id,
            new_wrapped: &new.wrapped_key,
            new_key_id: &new.key_id,
        },
        old_aad_version: v.aad_version,
        new_aad_version: AAD_CURRENT,
        new_ciphertext: Some(&new.ciphertext),
    };
    let done = run
        .store
        .swap_version_key(&r.secret_id, r.version, swap)
        .await?;
    if done {
        run.p.resealed += 1;
    }
    run.swapped(done);
    Ok(())
}
