//! The `ssh_keypair` generator: an OpenSSH private key and its `authorized_keys` line, made by
//! the `ssh-key` crate (Ed25519 by default, or RSA) with the OS CSPRNG.

use super::config::Config;
use super::GenerateError;
use rand_core_06::OsRng;
use serde_json::{json, Value};
use ssh_key::private::{KeypairData, RsaKeypair};
use ssh_key::{Algorithm, LineEnding, PrivateKey};

/// An SSH key recipe.
#[derive(Debug, Clone)]
pub struct Ssh {
    /// `None` for Ed25519, else the RSA modulus size.
    pub rsa_bits: Option<usize>,
    pub comment: String,
}

/// The `ssh_keypair` generator's config: `key_type` ed25519 (default) or rsa, `bits` for rsa
/// (3072 default, 2048 or 4096), `comment`.
pub fn parse(c: &mut Config<'_>) -> Option<Ssh> {
    let key_type = c.one_of("key_type", &["ed25519", "rsa"]);
    let bits = c.one_of_int("bits", &[3072, 2048, 4096]);
    if key_type == Some("ed25519") && c.raw("bits").is_some() {
        c.problem("bits", "is only read with key_type rsa");
    }
    let comment = c.text("comment", 256, false).unwrap_or_default();
    let rsa_bits = match key_type? {
        "rsa" => Some(bits? as usize),
        _ => None,
    };
    Some(Ssh { rsa_bits, comment })
}

impl Ssh {
    /// `{"private_key": OpenSSH PEM, "public_key": authorized_keys line}`.
    pub fn generate(&self) -> Result<Value, GenerateError> {
        let failed = |_| GenerateError("SSH key generation failed");
        let mut key = match self.rsa_bits {
            None => PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(failed)?,
            Some(bits) => {
                let pair = RsaKeypair::random(&mut OsRng, bits).map_err(failed)?;
                PrivateKey::new(KeypairData::Rsa(pair), "").map_err(failed)?
            }
        };
        key.set_comment(self.comment.as_str());
        let private = key
            .to_openssh(LineEnding::LF)
            .map_err(|_| GenerateError("encoding the SSH private key failed"))?;
        let public = key
            .public_key()
            .to_openssh()
            .map_err(|_| GenerateError("encoding the SSH public key failed"))?;
        Ok(json!({ "private_key": private.as_str(), "public_key": public }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: &Value, algorithm: Algorithm, comment: &str) {
        let private = PrivateKey::from_openssh(v["private_key"].as_str().expect("private"))
            .expect("OpenSSH private key parses");
        let public = ssh_key::PublicKey::from_openssh(v["public_key"].as_str().expect("public"))
            .expect("authorized_keys line parses");
        assert_eq!(private.algorithm(), algorithm);
        assert_eq!(private.public_key().key_data(), public.key_data());
        assert_eq!(public.comment(), comment);
        assert!(!private.is_encrypted());
    }

    #[test]
    fn ed25519_keys_parse_and_match() {
        for _ in 0..10 {
            let s = Ssh {
                rsa_bits: None,
                comment: "deploy@ci".into(),
            };
            let v = s.generate().expect("generated");
            assert!(v["public_key"]
                .as_str()
                .is_some_and(|l| l.starts_with("ssh-ed25519 ") && l.ends_with(" deploy@ci")));
            check(&v, Algorithm::Ed25519, "deploy@ci");
        }
    }

    #[test]
    fn rsa_keys_parse_and_match() {
        let started = std::time::Instant::now();
        let v = Ssh {
            rsa_bits: Some(2048),
            comment: String::new(),
        }
        .generate()
        .expect("generated");
        eprintln!("SSH RSA-2048 keygen took {:?}", started.elapsed());
        check(&v, Algorithm::Rsa { hash: None }, "");
        assert!(v["public_key"]
            .as_str()
            .is_some_and(|l| l.starts_with("ssh-rsa ")));
    }
}
