//! Master key versions: random AES-256 keys sealed by the operator's root master key, so the
//! key that wraps data keys can be rotated without changing the root the operator holds.

use super::envelope::{open_with, seal_with, OpenError};
use super::keyring::MasterKey;
use zeroize::Zeroizing;

fn aad(version: i64) -> Vec<u8> {
    format!("scaivault:master-key-version:v1\0{version}").into_bytes()
}

/// A fresh key for `version` and its sealed form (under `root`) to store.
pub fn generate(root: &MasterKey, version: i64) -> (MasterKey, Vec<u8>) {
    let bytes = Zeroizing::new(crate::domain::ids::random_bytes(32));
    // 32 random bytes always make a valid AES-256 key.
    let key = MasterKey::from_bytes(&bytes).unwrap_or_else(|_| unreachable!());
    let sealed = seal_with(root.aead(), &aad(version), &bytes);
    (key, sealed)
}

/// Opens a stored key version with `root`; fails if `root` is not the key that sealed it.
pub fn open(root: &MasterKey, version: i64, sealed: &[u8]) -> Result<MasterKey, OpenError> {
    let bytes = open_with(root.aead(), &aad(version), sealed)?;
    MasterKey::from_bytes(&bytes).map_err(|_| OpenError::Integrity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_opens_only_with_its_root_and_number() {
        let root = MasterKey::generate().0;
        let (key, sealed) = generate(&root, 3);
        assert_eq!(
            open(&root, 3, &sealed).map(|k| k.id().to_string()).ok(),
            Some(key.id().to_string())
        );
        assert!(open(&root, 4, &sealed).is_err());
        assert!(open(&MasterKey::generate().0, 3, &sealed).is_err());
    }
}
