//! The `rsa_keypair` and `ec_keypair` generators: a private key as PKCS#8 PEM and its public
//! key as SPKI PEM, generated and encoded by the RustCrypto crates (`rsa`, `p256`, `p384`)
//! with the OS CSPRNG.

use super::config::Config;
use super::GenerateError;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core_06::OsRng;
use serde_json::{json, Value};

/// An elliptic curve of `ec_keypair`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

/// The `rsa_keypair` generator's config: `bits` 2048 (default), 3072 or 4096.
pub fn parse_rsa(c: &mut Config<'_>) -> Option<usize> {
    c.one_of_int("bits", &[2048, 3072, 4096])
        .map(|b| b as usize)
}

/// The `ec_keypair` generator's config: `curve` P-256 (default) or P-384.
pub fn parse_ec(c: &mut Config<'_>) -> Option<Curve> {
    match c.one_of("curve", &["P-256", "P-384"])? {
        "P-384" => Some(Curve::P384),
        _ => Some(Curve::P256),
    }
}

/// `{"private_key", "public_key"}` of a fresh RSA key of `bits`.
pub fn rsa(bits: usize) -> Result<Value, GenerateError> {
    let key = rsa::RsaPrivateKey::new(&mut OsRng, bits)
        .map_err(|_| GenerateError("RSA key generation failed"))?;
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| GenerateError("encoding the RSA private key failed"))?;
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| GenerateError("encoding the RSA public key failed"))?;
    Ok(json!({ "private_key": private.as_str(), "public_key": public }))
}

/// `{"private_key", "public_key"}` of a fresh key on `curve`.
pub fn ec(curve: Curve) -> Result<Value, GenerateError> {
    let failed = |_| GenerateError("encoding the EC key failed");
    let (private, public) = match curve {
        Curve::P256 => {
            let key = p256::SecretKey::random(&mut OsRng);
            (
                key.to_pkcs8_pem(LineEnding::LF).map_err(failed)?,
                key.public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .map_err(|_| GenerateError("encoding the EC key failed"))?,
            )
        }
        Curve::P384 => {
            let key = p384::SecretKey::random(&mut OsRng);
            (
                key.to_pkcs8_pem(LineEnding::LF).map_err(failed)?,
                key.public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .map_err(|_| GenerateError("encoding the EC key failed"))?,
            )
        }
    };
    Ok(json!({ "private_key": private.as_str(), "public_key": public }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};

    fn pems(v: &Value) -> (&str, &str) {
        (
            v["private_key"].as_str().expect("private"),
            v["public_key"].as_str().expect("public"),
        )
    }

    #[test]
    fn rsa_private_keys_load_and_match_their_public_key() {
        let started = std::time::Instant::now();
        let v = rsa(2048).expect("generated");
        eprintln!("RSA-2048 keygen took {:?}", started.elapsed());
        let (private, public) = pems(&v);
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(private).expect("PKCS#8 loads");
        key.validate().expect("consistent key");
        let pubkey = rsa::RsaPublicKey::from_public_key_pem(public).expect("SPKI loads");
        assert_eq!(key.to_public_key(), pubkey);
        use rsa::traits::PublicKeyParts;
        assert_eq!(pubkey.n().bits(), 2048);
    }

    #[test]
    fn ec_private_keys_load_and_match_their_public_key() {
        for _ in 0..20 {
            let v = ec(Curve::P256).expect("generated");
            let (private, public) = pems(&v);
            let key = p256::SecretKey::from_pkcs8_pem(private).expect("PKCS#8 loads");
            let pubkey = p256::PublicKey::from_public_key_pem(public).expect("SPKI loads");
            assert_eq!(key.public_key(), pubkey);
            let v = ec(Curve::P384).expect("generated");
            let (private, public) = pems(&v);
            let key = p384::SecretKey::from_pkcs8_pem(private).expect("PKCS#8 loads");
            let pubkey = p384::PublicKey::from_public_key_pem(public).expect("SPKI loads");
            assert_eq!(key.public_key(), pubkey);
            assert!(
                p256::SecretKey::from_pkcs8_pem(private).is_err(),
                "a P-384 key"
            );
        }
    }
}
