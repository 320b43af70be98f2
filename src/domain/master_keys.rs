//! Master key versions in the store: loading them into the key ring (at start, on every
//! scheduler tick, and when a value names a key this process has not loaded yet) and adding a
//! new active version (`scaivault keys rotate`).

use crate::crypto::{key_versions, KeyRing};
use crate::store::{MasterKeyVersionRow, Store, StoreError};
use chrono::{DateTime, Utc};

/// Why the stored key versions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "master key version {version} was created under root master key {stored_root}, but the \
         configured master key is {configured_root}; start with the key the database was created with"
    )]
    WrongRoot {
        version: i64,
        stored_root: String,
        configured_root: String,
    },
    #[error("master key version {0} is damaged: it does not open with the configured master key")]
    Damaged(i64),
    #[error("another key rotation happened at the same moment; run `scaivault keys rotate` again")]
    Raced,
}

/// Loads every stored key version into `ring` and activates the newest (the root when none).
pub async fn refresh(store: &dyn Store, ring: &KeyRing) -> Result<(), KeyLoadError> {
    let rows = store.master_key_versions().await?;
    let root = ring.root().clone();
    let mut newest = root.id().to_string();
    for row in &rows {
        if row.root_key_id != root.id() {
            return Err(KeyLoadError::WrongRoot {
                version: row.version,
                stored_root: row.root_key_id.clone(),
                configured_root: root.id().to_string(),
            });
        }
        if ring.get(&row.key_id).is_none() {
            let key = key_versions::open(&root, row.version, &row.wrapped_key)
                .map_err(|_| KeyLoadError::Damaged(row.version))?;
            if key.id() != row.key_id {
                return Err(KeyLoadError::Damaged(row.version));
            }
            ring.add(key);
        }
        newest = row.key_id.clone();
    }
    ring.activate(&newest);
    Ok(())
}

/// What `rotate` created.
#[derive(Debug, Clone)]
pub struct RotatedKey {
    pub version: i64,
    pub key_id: String,
    pub previous_key_id: String,
}

/// Adds a new key version, wrapped by the root, and makes it the active one.
pub async fn rotate(
    store: &dyn Store,
    ring: &KeyRing,
    now: DateTime<Utc>,
) -> Result<RotatedKey, KeyLoadError> {
    refresh(store, ring).await?;
    let previous_key_id = ring.active().id().to_string();
    let version = store
        .master_key_versions()
        .await?
        .last()
        .map_or(1, |r| r.version + 1);
    let (key, wrapped_key) = key_versions::generate(ring.root(), version);
    let row = MasterKeyVersionRow {
        version,
        key_id: key.id().to_string(),
        wrapped_key,
        root_key_id: ring.root().id().to_string(),
        created_at: crate::clock::to_micros(now),
    };
    if !store.insert_master_key_version(&row).await? {
        return Err(KeyLoadError::Raced);
    }
    ring.add(key);
    ring.activate(&row.key_id);
    Ok(RotatedKey {
        version,
        key_id: row.key_id,
        previous_key_id,
    })
}
