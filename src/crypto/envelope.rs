//! Envelope encryption: each value sealed under a fresh data key, the data key wrapped by a
//! master key; associated data binds both to their row (`binding` for secret versions).

use super::keyring::{KeyRing, MasterKey};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

/// A sealed value as stored: ciphertext and wrapped data key, each `nonce ‖ ciphertext ‖ tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Why a value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the master key '{0}' that wrapped this value is not loaded")]
    UnknownKey(String),
    #[error("the stored value failed its integrity check")]
    Integrity,
}

/// Seals `plaintext` for the row identified by `binding`.
pub fn seal(ring: &KeyRing, binding: &[u8], plaintext: &[u8]) -> Sealed {
    let data_key = Zeroizing::new(crate::domain::ids::random_bytes(32));
    let ciphertext = seal_with(&aead_key(&data_key), binding, plaintext);
    let active = ring.active();
    let wrapped_key = wrap_key(&active, binding, &data_key);
    Sealed {
        ciphertext,
        wrapped_key,
        key_id: active.id().to_string(),
    }
}

/// Opens a sealed value; fails (never returns wrong data) if it was moved, altered or the key is wrong.
pub fn open(
    ring: &KeyRing,
    binding: &[u8],
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let master = ring
        .get(&sealed.key_id)
        .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.clone()))?;
    let data_key = unwrap_key(&master, binding, &sealed.wrapped_key)?;
    open_with(&aead_key(&data_key), binding, &sealed.ciphertext)
}

/// Re-wraps the data key of `sealed` under the ring's active key (value untouched).
pub fn rewrap(ring: &KeyRing, binding: &[u8], sealed: &Sealed) -> Result<Sealed, OpenError> {
    let master = ring
        .get(&sealed.key_id)
        .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.clone()))?;
    let data_key = unwrap_key(&master, binding, &sealed.wrapped_key)?;
    let active = ring.active();
    Ok(Sealed {
        ciphertext: sealed.ciphertext.clone(),
        wrapped_key: wrap_key(&active, binding, &data_key),
        key_id: active.id().to_string(),
    })
}

/// Opens `sealed` under `old_binding` and seals its value afresh (new data key, wrapped by the
/// ring's active key) under `new_binding`. The value exists only in a buffer zeroed on drop.
pub fn reseal(
    ring: &KeyRing,
    old_binding: &[u8],
    new_binding: &[u8],
    sealed: &Sealed,
) -> Result<Sealed, OpenError> {
    let value = open(ring, old_binding, sealed)?;
    Ok(seal(ring, new_binding, &value))
}

/// Re-wraps a stored data key under the ring's active key: the new wrapped key and its key id.
pub fn rewrap_key(
    ring: &KeyRing,
    binding: &[u8],
    wrapped_key: &[u8],
    key_id: &str,
) -> Result<(Vec<u8>, String), OpenError> {
    let master = ring
        .get(key_id)
        .ok_or_else(|| OpenError::UnknownKey(key_id.to_string()))?;
    let data_key = unwrap_key(&master, binding, wrapped_key)?;
    let active = ring.active();
    Ok((
        wrap_key(&active, binding, &data_key),
        active.id().to_string(),
    ))
}

fn aead_key(bytes: &[u8]) -> LessSafeKey {
    // A 32-byte slice is always a valid AES-256 key.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).unwrap_or_else(|_| unreachable!()))
}

fn wrap_key(master: &MasterKey, binding: &[u8], data_key: &[u8]) -> Vec<u8> {
    let aad = [b"dek:".as_slice(), binding].concat();
    seal_with(master.aead(), &aad, data_key)
}

fn unwrap_key(
    master: &MasterKey,
    binding: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let aad = [b"dek:".as_slice(), binding].concat();
    let key = open_with(master.aead(), &aad, wrapped)?;
    if key.len() != 32 {
        return Err(OpenError::Integrity);
    }
    Ok(key)
}

pub(crate) fn seal_with(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce_bytes = crate::domain::ids::random_bytes(NONCE_LEN);
    let mut nonce_arr = [0u8; NONCE_LEN];
    nonce_arr.copy_from_slice(&nonce_bytes);
    let mut buf = plaintext.to_vec();
    // Sealing only fails for inputs larger than AES-GCM's limit (64 GiB); values are ≤ 512 KiB.
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_arr),
        Aad::from(aad),
        &mut buf,
    )
    .unwrap_or_else(|_| unreachable!());
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce_arr);
    out.extend_from_slice(&buf);
    buf.iter_mut().for_each(|b| *b = 0);
    out
}

pub(crate) fn open_with(
    key: &LessSafeKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(OpenError::Integrity);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Integrity)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| OpenError::Integrity)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::binding::{SecretSlot, AAD_V1, AAD_V2};

    fn secret_binding(tenant: &str, path: &str, version: i64) -> Vec<u8> {
        let slot = SecretSlot {
            tenant,
            secret_id: "sec_1",
            path,
            version,
        };
        slot.current()
    }

    fn ring() -> KeyRing {
        KeyRing::new(MasterKey::generate().0)
    }

    #[test]
    fn round_trip_and_binding() {
        let r = ring();
        let b = secret_binding("tnt_a", "x/y", 1);
        let s = seal(&r, &b, b"{\"k\":\"v\"}");
        assert_eq!(&*open(&r, &b, &s).unwrap(), b"{\"k\":\"v\"}");
        let other = secret_binding("tnt_a", "x/z", 1);
        assert!(matches!(open(&r, &other, &s), Err(OpenError::Integrity)));
        let other_version = secret_binding("tnt_a", "x/y", 2);
        assert!(open(&r, &other_version, &s).is_err());
        let other_tenant = secret_binding("tnt_b", "x/y", 1);
        assert!(open(&r, &other_tenant, &s).is_err());
    }

    #[test]
    fn wrong_master_key_is_refused() {
        let r = ring();
        let b = secret_binding("t", "p", 1);
        let s = seal(&r, &b, b"v");
        assert!(matches!(
            open(&ring(), &b, &s),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn rewrap_moves_to_active_key() {
        let old = MasterKey::generate().0;
        let r1 = KeyRing::new(old.clone());
        let b = secret_binding("t", "p", 3);
        let s = seal(&r1, &b, b"value");
        let r2 = KeyRing::new(MasterKey::generate().0).with_retired(old);
        let s2 = rewrap(&r2, &b, &s).unwrap();
        assert_eq!(s2.key_id, r2.active().id());
        assert_eq!(&*open(&r2, &b, &s2).unwrap(), b"value");
    }

    #[test]
    fn reseal_moves_a_value_to_another_binding() {
        let r = ring();
        let slot = SecretSlot {
            tenant: "t",
            secret_id: "sec_1",
            path: "p",
            version: 1,
        };
        let (v1, v2) = (
            slot.binding(AAD_V1).unwrap_or_default(),
            slot.binding(AAD_V2).unwrap_or_default(),
        );
        let s = seal(&r, &v1, b"value");
        let moved = reseal(&r, &v1, &v2, &s).unwrap();
        assert_ne!(moved.ciphertext, s.ciphertext);
        assert_eq!(&*open(&r, &v2, &moved).unwrap(), b"value");
        assert!(open(&r, &v1, &moved).is_err());
        let mut broken = s.clone();
        broken.ciphertext[20] ^= 1;
        assert!(matches!(
            reseal(&r, &v1, &v2, &broken),
            Err(OpenError::Integrity)
        ));
    }
}
