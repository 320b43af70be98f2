//! `X-ScaiVault-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}." ‖ body)>` (SPEC §5).

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

#[cfg(test)]
mod tests {
    #[test]
    fn spec_test_vector() {
        assert_eq!(
            super::signature(b"whsec_test", 1714478400, br#"{"a":1}"#),
            "sha256=0901d51b3a20e38d1d4cd6e6ce59715d9dba847df6efe0e7c3ec239c5f0ce7d2"
        );
    }
}
