//! Cryptography: envelope encryption of values, the master key ring, token hashing.

pub mod binding;
pub mod envelope;
pub mod key_versions;
pub mod keyring;

use sha2::{Digest, Sha256};

pub use envelope::{open, seal, Sealed};
pub use keyring::{KeyRing, MasterKey};

/// The stored form of an API token: lowercase hex SHA-256 of its full text.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two byte strings.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
