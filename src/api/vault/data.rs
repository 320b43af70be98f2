//! `/v1/{mount}/data/{path}`: reading a version and writing a new one, through the same secret
//! operations, authorization and audit rows as the native `/v1/secrets/{path}`.

use super::reply::{envelope, json_response, ok};
use super::shapes::{is_deleted, version_metadata, KvRead};
use crate::api::bodies::secrets as native;
use crate::audit::action;
use crate::domain::path::SecretPath;
use crate::domain::scope::Scope;
use crate::domain::secret_ops::{SecretError, WriteRequest};
use crate::http::error::ApiError;
use crate::http::guard::{audited, Guard};
use crate::http::typed_body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// `GET …/data/{path}[?version=N]` (`0` or none: the current version).
pub async fn read(
    g: &Guard<'_>,
    native_path: &str,
    version: Option<&str>,
) -> Result<Response, ApiError> {
    audited!(g, action::READ, super::audit_path(native_path), async {
        let path = super::authorized_path(g, action::READ, Scope::SecretsRead, native_path).await?;
        let version = match version.filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(0) => None,
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(ApiError::invalid_request(
                        "version must be a non-negative integer",
                    ))
                }
            },
        };
        match g.st.ops().read(&g.caller.tenant_id, &path, version).await {
            Ok(read) => {
                let data: Value = serde_json::from_slice(&read.value)
                    .map_err(|_| ApiError::internal("a stored value is not JSON"))?;
                let row = g.row(
                    action::READ,
                    Some(path.as_str()),
                    Some(read.version),
                    200,
                    Value::Null,
                );
                g.record_read(&[row], &read.alert()).await?;
                g.st.metrics.secret_reads(1);
                let meta = version_metadata(
                    &read.secret,
                    read.version,
                    read.version_created_at,
                    read.readable_until,
                );
                Ok(ok(
                    g.ctx,
                    KvRead {
                        data,
                        metadata: meta,
                    },
                ))
            }
            Err(e @ (SecretError::NotFound(_) | SecretError::VersionExpired { .. })) => {
                deleted_version(g, &path, version, e).await
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// A version that exists but cannot be read (its secret soft-deleted, or its grace period
/// over): Vault's 404 with the envelope, `data.data: null` and `deletion_time` set. Anything
/// else missing is the plain 404.
async fn deleted_version(
    g: &Guard<'_>,
    path: &SecretPath,
    version: Option<i64>,
    cause: SecretError,
) -> Result<Response, ApiError> {
    let store = g.st.store.as_ref();
    let secret = store
        .get_secret_any_state(&g.caller.tenant_id, path.as_str())
        .await?;
    let Some(secret) = secret else {
        return Err(cause.into());
    };
    let n = version.unwrap_or(secret.current_version);
    let versions = store.list_versions(&secret.id).await?;
    let Some(v) = versions.iter().find(|v| v.version == n) else {
        return Err(cause.into());
    };
    if !is_deleted(&secret, v.readable_until, g.st.clock.now()) {
        return Err(cause.into());
    }
    let code = match cause {
        SecretError::VersionExpired { .. } => "secret_expired",
        _ => "secret_not_found",
    };
    g.record(&[g.row(
        action::READ,
        Some(path.as_str()),
        Some(n),
        404,
        json!({ "error": code }),
    )])
    .await?;
    let meta = version_metadata(&secret, n, v.created_at, v.readable_until);
    let body = envelope(
        g.ctx,
        KvRead {
            data: Value::Null,
            metadata: meta,
        },
    );
    Ok(json_response(StatusCode::NOT_FOUND, &body))
}

/// `POST`/`PUT …/data/{path}` `{"data":{…},"options":{"cas":N}}`: a native write.
pub async fn write(
    g: &Guard<'_>,
    native_path: &str,
    body: Result<Map<String, Value>, ApiError>,
) -> Result<Response, ApiError> {
    audited!(g, action::WRITE, super::audit_path(native_path), async {
        let path =
            super::authorized_path(g, action::WRITE, Scope::SecretsWrite, native_path).await?;
        let mut body = body?;
        let data = match body.remove("data") {
            None | Some(Value::Null) => return Err(ApiError::invalid_request("no data provided")),
            Some(Value::Object(d)) => d,
            Some(_) => return Err(ApiError::invalid_request("data must be a JSON object")),
        };
        let cas = match body.get("options").and_then(|o| o.get("cas")) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::invalid_request("options.cas must be a non-negative integer")
            })?),
        };
        // The native body's checks (value size, shape) apply unchanged.
        let mut as_native = Map::new();
        as_native.insert("data".into(), Value::Object(data));
        let typed_body::JsonBody { body, check } =
            typed_body::parse::<native::SecretWrite>(as_native)?;
        let mut parsed = body.check(check, g.st.clock.now())?;
        parsed.options.cas = cas;
        let req = WriteRequest {
            tenant_id: g.caller.tenant_id.clone(),
            path,
            value: parsed.value,
            secret_type: parsed.secret_type,
            metadata: parsed.metadata,
            options: parsed.options,
            actor: g.caller.identity_id.clone(),
            auto_generated: false,
        };
        let row = g.row(
            action::WRITE,
            Some(req.path.as_str()),
            None,
            200,
            Value::Null,
        );
        let out = g.st.ops().write(&req, row).await?;
        let s = &out.secret;
        Ok(ok(
            g.ctx,
            version_metadata(s, s.current_version, s.updated_at, None),
        ))
    })
}
