//! The encryption probe: a known value sealed under the master key and kept in the meta
//! table, so a start (or the readiness check) with the wrong key is refused before any secret
//! is touched, and `keys rewrap` moves it to the active key like every other value.

use crate::crypto::envelope::{open, rewrap_key, seal, Sealed};
use crate::crypto::KeyRing;
use crate::store::{Store, StoreError, StoreResult};
use base64::Engine;
use serde_json::json;

const PROBE_KEY: &str = "encryption_probe";
const PROBE_BINDING: &[u8] = b"scaivault:encryption-probe:v1";
const PROBE_PLAINTEXT: &[u8] = b"scaivault encryption probe";

/// Stores the probe, sealed under the active key, unless one is stored already.
pub async fn ensure(store: &dyn Store, keys: &KeyRing) -> StoreResult<()> {
    if store.get_meta(PROBE_KEY).await?.is_some() {
        return Ok(());
    }
    let sealed = seal(keys, PROBE_BINDING, PROBE_PLAINTEXT);
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = json!({
        "key_id": sealed.key_id,
        "ciphertext": b64.encode(&sealed.ciphertext),
        "wrapped_key": b64.encode(&sealed.wrapped_key),
    })
    .to_string();
    let mut tx = store.begin().await?;
    tx.put_meta_if_absent(PROBE_KEY, &value).await?;
    tx.commit().await
}

/// True when the stored probe opens with the loaded keys (the readiness check). A probe under
/// a key version this process has not loaded yet (rotated by another process) loads it first.
pub async fn probe_opens(store: &dyn Store, keys: &KeyRing) -> Result<(), ProbeError> {
    let (_, sealed) = stored_probe(store).await?;
    if keys.get(&sealed.key_id).is_none() {
        crate::domain::master_keys::refresh(store, keys)
            .await
            .map_err(|e| ProbeError(e.to_string()))?;
    }
    match open(keys, PROBE_BINDING, &sealed) {
        Ok(p) if p.as_slice() == PROBE_PLAINTEXT => Ok(()),
        Ok(_) => Err(ProbeError("the probe is damaged".into())),
        Err(e) => Err(ProbeError(format!(
            "the master key cannot open the probe ({e})"
        ))),
    }
}

/// Re-wraps the probe's data key under the active key; false when it already was (or changed
/// meanwhile).
pub async fn rewrap_probe(store: &dyn Store, keys: &KeyRing) -> Result<bool, StoreError> {
    let Ok((text, sealed)) = stored_probe(store).await else {
        return Ok(false);
    };
    if sealed.key_id == keys.active().id() {
        return Ok(false);
    }
    let Ok((wrapped, key_id)) =
        rewrap_key(keys, PROBE_BINDING, &sealed.wrapped_key, &sealed.key_id)
    else {
        return Ok(false);
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = json!({
        "key_id": key_id,
        "ciphertext": b64.encode(&sealed.ciphertext),
        "wrapped_key": b64.encode(&wrapped),
    })
    .to_string();
    store.replace_meta(PROBE_KEY, &text, &value).await
}

/// The probe as stored (its text) and parsed.
async fn stored_probe(store: &dyn Store) -> Result<(String, Sealed), ProbeError> {
    let text = store
        .get_meta(PROBE_KEY)
        .await
        .map_err(|_| ProbeError("the database is unreachable".into()))?
        .ok_or_else(|| ProbeError("no encryption probe stored".into()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| ProbeError("the probe is damaged".into()))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let field = |name: &str| {
        v.get(name)
            .and_then(|x| x.as_str())
            .ok_or_else(|| ProbeError("the probe is damaged".into()))
    };
    let sealed = Sealed {
        key_id: field("key_id")?.to_string(),
        ciphertext: b64
            .decode(field("ciphertext")?)
            .map_err(|_| ProbeError("the probe is damaged".into()))?,
        wrapped_key: b64
            .decode(field("wrapped_key")?)
            .map_err(|_| ProbeError("the probe is damaged".into()))?,
    };
    Ok((text, sealed))
}

/// Why the encryption probe did not open.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProbeError(pub String);
