//! The `bcrypt_hash` generator: a random password and its `$2b$` bcrypt hash (the `bcrypt`
//! crate, salt from the OS CSPRNG), for systems that store the hash and hand out the password.

use super::config::Config;
use super::random::Random;
use super::GenerateError;
use serde_json::{json, Value};

/// bcrypt reads at most 72 bytes of a password: a longer one would not be what it checks.
const MAX_PASSWORD: u64 = 72;

/// A bcrypt recipe.
#[derive(Debug, Clone)]
pub struct Bcrypt {
    pub password: Random,
    pub rounds: u32,
}

/// The `bcrypt_hash` generator's config: `length` of the alphanumeric password (1–72, default
/// 32) and the cost `rounds` (4–15, default 12).
pub fn parse(c: &mut Config<'_>) -> Option<Bcrypt> {
    let length = c.int("length", 1..=MAX_PASSWORD, 32);
    let rounds = c.int("rounds", 4..=15, 12);
    Some(Bcrypt {
        password: Random::of("alphanumeric", length? as usize),
        rounds: rounds? as u32,
    })
}

impl Bcrypt {
    /// `{"password", "hash"}`.
    pub fn generate(&self) -> Result<Value, GenerateError> {
        let password = zeroize::Zeroizing::new(self.password.generate());
        let hash = bcrypt::non_truncating_hash(password.as_bytes(), self.rounds)
            .map_err(|_| GenerateError("bcrypt hashing failed"))?;
        Ok(json!({ "password": password.as_str(), "hash": hash }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_verifies_its_password() {
        let b = Bcrypt {
            password: Random::of("alphanumeric", 20),
            rounds: 4,
        };
        for _ in 0..5 {
            let v = b.generate().expect("generated");
            let password = v["password"].as_str().expect("password");
            let hash = v["hash"].as_str().expect("hash");
            assert_eq!(password.len(), 20);
            assert!(hash.starts_with("$2b$04$"), "{hash}");
            assert!(bcrypt::verify(password, hash).expect("a bcrypt hash"));
            assert!(!bcrypt::verify("not-it", hash).expect("a bcrypt hash"));
        }
    }
}
