//! Prefixed random identifiers (`tok_`, `req_`, `log_`, …) and random URL-safe strings.
//!
//! Key material and token secrets (`random_bytes`, `random_urlsafe`) come from the operating
//! system's CSPRNG on every call. Identifiers come from a per-thread CSPRNG (ChaCha, seeded and
//! reseeded from the operating system): every request makes a request id and an audit row id,
//! and a `getrandom` system call for each cost more than the rest of building them.

use base64::Engine;
use rand::RngCore;
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
    format!("{prefix}{}", random_alnum(20))
}

/// `n` random characters of `[0-9a-zA-Z]` from the thread's CSPRNG.
fn random_alnum(n: usize) -> String {
    let mut bytes = vec![0u8; n + n / 2];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .into_iter()
        .map(|b| {
            const ALPHABET: &[u8] =
                b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
            ALPHABET[(b as usize) % ALPHABET.len()] as char
        })
        .take(n)
        .collect()
}

/// Characters in ASCII order, so fixed-width numbers written with them sort as text.
const SORTABLE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An id that sorts by time: the prefix, `micros` (a timestamp) in 9 sortable characters, then
/// 11 random characters (~65 bits), e.g. `log_0TKs9aZ1x…` (20 characters after the prefix, like
/// `new_id`). Rows inserted in time order then append to an index on the id instead of
/// touching a random page of it for each row (audit rows are the busiest insert).
pub fn new_time_ordered_id(prefix: &str, micros: i64) -> String {
    let mut time = [b'0'; 9];
    let mut v = u64::try_from(micros).unwrap_or(0);
    for c in time.iter_mut().rev() {
        *c = SORTABLE[(v % 62) as usize];
        v /= 62;
    }
    // 62^9 microseconds is about 428 years after 1970; later times keep the last digits.
    let time = std::str::from_utf8(&time).unwrap_or("000000000");
    format!("{prefix}{time}{}", random_alnum(11))
}

#[cfg(test)]
mod tests {
    use super::new_time_ordered_id;

    #[test]
    fn time_ordered_ids_sort_by_time_and_stay_unique() {
        let times = [
            0_i64,
            1,
            61,
            62,
            1_700_000_000_000_000,
            1_800_000_000_000_001,
        ];
        let ids: Vec<String> = times
            .iter()
            .map(|t| new_time_ordered_id("log_", *t))
            .collect();
        for id in &ids {
            assert_eq!(id.len(), 24, "{id}");
            assert!(id.starts_with("log_"));
            assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "text order is time order");
        let same: std::collections::HashSet<String> =
            (0..1000).map(|_| new_time_ordered_id("log_", 42)).collect();
        assert_eq!(same.len(), 1000, "ids of the same microsecond differ");
    }
}
