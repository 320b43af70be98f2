//! Prefixed random identifiers (`tok_`, `req_`, `log_`, …) and random URL-safe strings.

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

/// `n` random bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // SystemRandom only fails when the OS has no randomness source; nothing can run then.
    if SystemRandom::new().fill(&mut buf).is_err() {
        panic!("the operating system's random number generator failed");
    }
    buf
}

/// A random URL-safe string of exactly `len` characters (base64url alphabet).
pub fn random_urlsafe(len: usize) -> String {
    let bytes = random_bytes(len.div_ceil(4) * 3);
    let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    s.truncate(len);
    s
}

/// A random id with a prefix, e.g. `tok_3fZ…` (20 random characters, ~120 bits).
pub fn new_id(prefix: &str) -> String {
    let alnum: String = random_bytes(32)
        .into_iter()
        .map(|b| {
            const ALPHABET: &[u8] =
                b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
            ALPHABET[(b as usize) % ALPHABET.len()] as char
        })
        .take(20)
        .collect();
    format!("{prefix}{alnum}")
}
