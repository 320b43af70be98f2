//! API tokens: generation, hashing and the caller they identify.

use super::scope::{Scope, ScopeSet};
use crate::crypto::token_hash;
use secrecy::{ExposeSecret, SecretString};

/// The prefix every token starts with.
pub const TOKEN_PREFIX: &str = "skt_";
/// The tenant of tokens that name none.
pub const DEFAULT_TENANT: &str = "tnt_default";

/// A freshly generated token: the plaintext (shown once) and its stored hash.
pub struct NewToken {
    pub plaintext: SecretString,
    pub hash: String,
}

impl NewToken {
    /// Generates `skt_` + 40 random URL-safe characters.
    pub fn generate() -> Self {
        let plaintext = format!("{TOKEN_PREFIX}{}", super::ids::random_urlsafe(40));
        let hash = token_hash(&plaintext);
        Self {
            plaintext: SecretString::from(plaintext),
            hash,
        }
    }

    /// Wraps a token value chosen by the operator (`SCAIVAULT_ROOT_TOKEN`).
    pub fn from_value(value: &SecretString) -> Self {
        Self {
            hash: token_hash(value.expose_secret()),
            plaintext: value.clone(),
        }
    }
}

/// Normalizes a tenant name to its `tnt_` form.
pub fn normalize_tenant(t: &str) -> String {
    if t.starts_with("tnt_") {
        t.to_string()
    } else {
        format!("tnt_{t}")
    }
}

/// True for tenant names made of `[a-z0-9_-]`, 1–64 characters after the prefix.
pub fn valid_tenant(t: &str) -> bool {
    let body = t.strip_prefix("tnt_").unwrap_or(t);
    !body.is_empty()
        && body.len() <= 64
        && body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// True for token names of `[A-Za-z0-9._-]`, 1–64 characters.
pub fn valid_token_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Who is calling: resolved from a valid token on every request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub identity_id: String,
    pub identity_type: crate::store::IdentityType,
    pub tenant_id: String,
    pub scopes: ScopeSet,
    pub path_prefixes: Vec<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The token row came from the read cache: the audit writer checks it is still valid in
    /// the transaction that commits this request's audit row.
    pub recheck_token: bool,
}

impl Caller {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.grants(scope)
    }
}
