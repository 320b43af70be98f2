//! `X-ScaiVault-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}." ‖ body)>` (SPEC §5),
//! and the receiver's check of it ([`verify`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header value for one attempt.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A receiver's check of one delivery: `header` is `signature(secret, timestamp, body)`,
/// compared in constant time. `timestamp` is the `X-ScaiVault-Timestamp` header as received.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(expected) = header
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn spec_test_vector() {
        assert_eq!(
            super::signature(b"whsec_test", 1714478400, br#"{"a":1}"#),
            "sha256=0901d51b3a20e38d1d4cd6e6ce59715d9dba847df6efe0e7c3ec239c5f0ce7d2"
        );
    }

    #[test]
    fn verify_accepts_the_signature_only() {
        let sig = super::signature(b"whsec_test", 1714478400, br#"{"a":1}"#);
        assert!(super::verify(
            b"whsec_test",
            "1714478400",
            br#"{"a":1}"#,
            &sig
        ));
        assert!(!super::verify(
            b"whsec_test",
            "1714478401",
            br#"{"a":1}"#,
            &sig
        ));
        assert!(!super::verify(
            b"whsec_tesT",
            "1714478400",
            br#"{"a":1}"#,
            &sig
        ));
        assert!(!super::verify(
            b"whsec_test",
            "1714478400",
            br#"{"a":2}"#,
            &sig
        ));
        assert!(!super::verify(
            b"whsec_test",
            "1714478400",
            br#"{"a":1}"#,
            &sig[1..]
        ));
    }
}
