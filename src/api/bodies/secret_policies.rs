//! `/v1/secret-policies` bodies (SPEC §9): the request bodies, checked and applied to a row
//! by `apply`, and the responses built from rows. The recipe's `fields` are checked by
//! `domain::generators::Recipe`, which names each failing setting (`fields[0].config.length`).

use super::common::ts;
use crate::domain::generators::Recipe;
use crate::http::error::ApiError;
use crate::http::typed_body::{Checker, Patch};
use crate::store::SecretPolicyRow;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The `policy_type` values (a hint for people and tools; `fields` decide the shape).
pub const POLICY_TYPES: &[&str] = &["password", "api_key", "oauth_client", "ssh_key", "custom"];

/// `POST /v1/secret-policies` body.
#[derive(Deserialize, ToSchema)]
pub struct SecretPolicyCreate {
    /// Unique per tenant.
    #[schema(value_type = String, pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    pub name: Option<String>,
    #[schema(value_type = Option<String>, max_length = 1024)]
    #[serde(default)]
    pub description: Patch<String>,
    /// Default `custom`.
    #[schema(value_type = Option<PolicyType>)]
    pub policy_type: Option<String>,
    /// The recipe: each field's `name` becomes a key of the generated `data`.
    #[schema(value_type = Vec<FieldSpec>, min_items = 1, max_items = 64)]
    pub fields: Option<Value>,
    /// Default true. A rotation using an inactive policy fails instead of writing.
    pub is_active: Option<bool>,
}

/// `PATCH /v1/secret-policies/{id}` body: what is given changes (`fields` as a whole).
#[derive(Deserialize, ToSchema, Default)]
pub struct SecretPolicyPatch {
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    pub name: Option<String>,
    #[schema(value_type = Option<String>, max_length = 1024)]
    #[serde(default)]
    pub description: Patch<String>,
    #[schema(value_type = Option<PolicyType>)]
    pub policy_type: Option<String>,
    #[schema(value_type = Option<Vec<FieldSpec>>, min_items = 1, max_items = 64)]
    pub fields: Option<Value>,
    pub is_active: Option<bool>,
}

/// A policy's hint of what it makes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    Password,
    ApiKey,
    OauthClient,
    SshKey,
    Custom,
}

/// The generators.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorName {
    Random,
    Hex,
    Uuid,
    Static,
    Template,
    RsaKeypair,
    EcKeypair,
    SshKeypair,
    BcryptHash,
}

/// One field of a recipe.
#[derive(Serialize, ToSchema)]
pub struct FieldSpec {
    /// The key of `data` this field fills (1–128 characters, unique in the recipe).
    pub name: String,
    pub generator: GeneratorName,
    /// The generator's settings (all optional unless noted):
    /// `random`: `length` 1–1024 (32), `charset` alphanumeric|alpha|numeric|hex|safe|symbols|custom,
    /// `chars` (custom), `require_upper|lower|digit|symbol`;
    /// `hex`: `length` (32); `uuid`: `version` 4|7 (4); `static`: `value` (required);
    /// `template`: `template` (required) with `{{random:N}}`, `{{hex:N}}`, `{{uuid}}`,
    /// `{{timestamp}}` (Unix seconds); `rsa_keypair`: `bits` 2048|3072|4096 (2048);
    /// `ec_keypair`: `curve` P-256|P-384 (P-256); `ssh_keypair`: `key_type` ed25519|rsa
    /// (ed25519), `bits` for rsa 2048|3072|4096 (3072), `comment`;
    /// `bcrypt_hash`: `length` 1–72 (32), `rounds` 4–15 (12).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

/// A secret policy.
#[derive(Serialize, ToSchema)]
pub struct SecretPolicy {
    /// `sp_` + random.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = PolicyType)]
    pub policy_type: String,
    #[schema(value_type = Vec<FieldSpec>)]
    pub fields: Value,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /v1/secret-policies`.
#[derive(Serialize, ToSchema)]
pub struct SecretPolicyList {
    pub secret_policies: Vec<SecretPolicy>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// `POST /v1/secret-policies/{id}/preview`: values made for this answer only, never stored.
/// (No `Debug`: it holds generated secrets.)
#[derive(Serialize, ToSchema)]
pub struct Preview {
    /// One key per field of the recipe.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl From<&SecretPolicyRow> for SecretPolicy {
    fn from(p: &SecretPolicyRow) -> Self {
        SecretPolicy {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            policy_type: p.policy_type.clone(),
            fields: serde_json::from_str(&p.fields).unwrap_or(Value::Array(Vec::new())),
            is_active: p.is_active,
            created_at: ts(p.created_at),
            updated_at: ts(p.updated_at),
        }
    }
}

/// Whether `n` is a valid secret policy name.
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

impl SecretPolicyCreate {
    /// Fills a new row from this body.
    pub fn apply(self, mut c: Checker, p: &mut SecretPolicyRow) -> Result<(), ApiError> {
        if self.name.is_none() {
            c.push("name", "is required: [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
        }
        if self.fields.is_none() {
            c.push("fields", "is required: a list of {name, generator, config}");
        }
        SecretPolicyPatch {
            name: self.name,
            description: self.description,
            policy_type: self.policy_type,
            fields: self.fields,
            is_active: self.is_active,
        }
        .apply(c, p)
    }
}

impl SecretPolicyPatch {
    /// Applies this body to `p`.
    pub fn apply(self, mut c: Checker, p: &mut SecretPolicyRow) -> Result<(), ApiError> {
        if let Some(n) = self.name {
            if valid_name(&n) {
                p.name = n;
            } else {
                c.push("name", "must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
            }
        }
        match self.description.map(|d| (d.len() <= 1024).then_some(d)) {
            Some(d) => {
                if let Some(d) = d.into_option() {
                    p.description = d;
                }
            }
            None => c.push("description", "must be a string of at most 1024 characters"),
        }
        if let Some(t) = self.policy_type {
            if POLICY_TYPES.contains(&t.as_str()) {
                p.policy_type = t;
            } else {
                c.push(
                    "policy_type",
                    format!("must be one of {}", POLICY_TYPES.join(", ")),
                );
            }
        }
        if let Some(b) = self.is_active {
            p.is_active = b;
        }
        if let Some(fields) = self.fields {
            match Recipe::parse(&fields) {
                Ok(_) => p.fields = fields.to_string(),
                Err(problems) => {
                    for (field, message) in problems {
                        c.push(&field, message);
                    }
                }
            }
        }
        c.finish(Some(()))
    }
}
