//! Webhook signatures: `verify` accepts what `signature` computed, and rejects the delivery
//! after any one-byte change of the body, the secret, the timestamp or the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault::delivery::signer::{signature, verify};

fuzz_target!(|data: &[u8]| {
    if data.len() < 11 {
        return;
    }
    let ts = i64::from_le_bytes(data[..8].try_into().unwrap_or_default());
    let split = 11 + (data[8] as usize) % (data.len() - 10);
    let (secret, body) = data[11..].split_at((split - 11).min(data.len() - 11));
    let at = u16::from_le_bytes([data[9], data[10]]) as usize;
    let flip = |bytes: &[u8]| -> Vec<u8> {
        let mut v = bytes.to_vec();
        if !v.is_empty() {
            let i = at % v.len();
            v[i] ^= 1 << (at % 8);
        }
        v
    };
    let sig = signature(secret, ts, body);
    let stamp = ts.to_string();
    assert!(verify(secret, &stamp, body, &sig));
    assert_eq!(sig.len(), "sha256=".len() + 64);
    if !body.is_empty() {
        assert!(!verify(secret, &stamp, &flip(body), &sig));
    }
    if !secret.is_empty() {
        // Same length, another byte: another HMAC key (zero padding never makes them equal).
        assert!(!verify(&flip(secret), &stamp, body, &sig));
    }
    let other = String::from_utf8(flip(stamp.as_bytes())).unwrap_or_default();
    assert!(!verify(secret, &other, body, &sig));
    let hex_pos = "sha256=".len() + at % 64;
    let mut bad = sig.clone().into_bytes();
    bad[hex_pos] = if bad[hex_pos] == b'0' { b'1' } else { b'0' };
    assert!(!verify(
        secret,
        &stamp,
        body,
        &String::from_utf8(bad).unwrap_or_default()
    ));
    // Any string as the header: never a panic, and only the right one passes (hex in
    // either case).
    if let Ok(h) = std::str::from_utf8(body) {
        if verify(secret, &stamp, body, h) {
            assert!(
                h.starts_with("sha256=") && h.eq_ignore_ascii_case(&sig),
                "{h:?}"
            );
        }
    }
});
