//! The master key ring: the active key that wraps new data keys, older ones kept to unwrap.

use base64::Engine;
use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

/// Why a master key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the master key must be base64 of exactly 32 bytes")]
    BadEncoding,
}

/// One master key with its id (a fingerprint of the key, so a wrong key is detected, not used).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: Arc<LessSafeKey>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl MasterKey {
    /// Builds a key from raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != 32 {
            return Err(KeyError::BadEncoding);
        }
        let digest = Sha256::digest([b"scaivault-master-key-id:".as_slice(), bytes].concat());
        let id = format!("mk_{}", &hex::encode(digest)[..16]);
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::BadEncoding)?;
        Ok(Self {
            id,
            key: Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// Parses the base64 text of `SCAIVAULT_MASTER_KEY` (standard or URL-safe alphabet).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(t))
                .map_err(|_| KeyError::BadEncoding)?,
        );
        Self::from_bytes(&bytes)
    }

    /// Generates a fresh random key and returns it with its base64 text (for `--dev`).
    pub fn generate() -> (Self, Zeroizing<String>) {
        let bytes = Zeroizing::new(crate::domain::ids::random_bytes(32));
        let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*bytes));
        // 32 bytes always make a valid AES-256 key.
        let key = Self::from_bytes(&bytes).unwrap_or_else(|_| unreachable!());
        (key, text)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn aead(&self) -> &LessSafeKey {
        &self.key
    }
}

/// The keys the server can use: one active for wrapping, all for unwrapping.
///
/// The operator's root master key is always in the ring. `scaivault keys rotate` adds versions
/// (random keys the root wraps, stored in the database); the newest becomes active. Clones share
/// one set of keys, so a refresh after another process rotated is seen everywhere at once.
#[derive(Clone)]
pub struct KeyRing {
    root: MasterKey,
    keys: Arc<RwLock<Keys>>,
}

#[derive(Debug)]
struct Keys {
    active: MasterKey,
    /// Every loaded key, the root included.
    all: Vec<MasterKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("root", &self.root.id())
            .field("active", &self.active().id().to_string())
            .finish()
    }
}

impl KeyRing {
    /// A ring with only the root key, which is also the active one.
    pub fn new(root: MasterKey) -> Self {
        let keys = Keys {
            active: root.clone(),
            all: vec![root.clone()],
        };
        Self {
            root,
            keys: Arc::new(RwLock::new(keys)),
        }
    }

    /// Adds an older key that can still unwrap data keys.
    pub fn with_retired(self, key: MasterKey) -> Self {
        self.add(key);
        self
    }

    /// The operator's root master key (wraps the key versions).
    pub fn root(&self) -> &MasterKey {
        &self.root
    }

    /// The key that wraps new data keys.
    pub fn active(&self) -> MasterKey {
        self.read().active.clone()
    }

    /// Finds the key with `id`.
    pub fn get(&self, id: &str) -> Option<MasterKey> {
        self.read().all.iter().find(|k| k.id() == id).cloned()
    }

    /// Loads `key` for unwrapping (no-op when it is already loaded).
    pub fn add(&self, key: MasterKey) {
        let mut keys = self.write();
        if !keys.all.iter().any(|k| k.id() == key.id()) {
            keys.all.push(key);
        }
    }

    /// Makes the loaded key `id` the active one; false when no such key is loaded.
    pub fn activate(&self, id: &str) -> bool {
        let mut keys = self.write();
        match keys.all.iter().find(|k| k.id() == id).cloned() {
            Some(k) => {
                keys.active = k;
                true
            }
            None => false,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        // The lock only guards plain assignments, so a poisoned lock still holds a whole ring.
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }
}
