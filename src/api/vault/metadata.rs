//! `/v1/{mount}/metadata/{path}`: one level of keys (`LIST`), a secret's metadata and versions,
//! `custom_metadata` and `max_versions`, and destroying every version.

use super::reply::ok;
use super::shapes::secret_metadata;
use crate::api::bodies::secrets as native;
use crate::audit::action;
use crate::domain::access::{Need, Reach};
use crate::domain::kv_listing;
use crate::domain::path::validate_prefix;
use crate::domain::scope::Scope;
use crate::domain::secret_ops::SecretError;
use crate::http::error::ApiError;
use crate::http::guard::{audited, Guard};
use crate::http::typed_body;
use crate::store::SecretListQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Vault's bounds on `custom_metadata`.
const MAX_CUSTOM_KEYS: usize = 64;
const MAX_CUSTOM_KEY_BYTES: usize = 128;
const MAX_CUSTOM_VALUE_BYTES: usize = 512;

/// `LIST …/metadata/{prefix}` (or `GET …?list=true`): the names one level under the prefix
/// that the caller's path rules reach; 404 when there are none.
pub async fn list(g: &Guard<'_>, native_prefix: &str) -> Result<Response, ApiError> {
    audited!(g, action::LIST, super::audit_path(native_prefix), async {
        g.allow(action::LIST, Scope::SecretsList, Reach::Filtered)
            .await?;
        let prefix = match native_prefix.trim_end_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        if !prefix.is_empty() {
            validate_prefix(&prefix).map_err(|e| ApiError::invalid_path(e.0))?;
        }
        let store = g.st.store.as_ref();
        let keys = kv_listing::one_level(&prefix, |after, limit| {
            let q = SecretListQuery {
                tenant_id: g.caller.tenant_id.clone(),
                prefix: (!prefix.is_empty()).then(|| prefix.clone()),
                tag: None,
                secret_type: None,
                path_rules: g.caller.path_prefixes.clone(),
                after_path: after,
                limit,
            };
            async move {
                let rows = store.list_secrets(&q).await?;
                Ok::<_, ApiError>(rows.into_iter().map(|r| r.path).collect())
            }
        })
        .await?;
        g.record(&[g.row(
            action::LIST,
            None,
            None,
            if keys.is_empty() { 404 } else { 200 },
            json!({ "prefix": prefix, "count": keys.len() }),
        )])
        .await?;
        if keys.is_empty() {
            return Err(ApiError {
                audited: true,
                ..ApiError::secret_not_found(&prefix)
            });
        }
        Ok(ok(g.ctx, json!({ "keys": keys })))
    })
}

/// `GET …/metadata/{path}`: every stored version with its times, and the secret's settings.
pub async fn read(g: &Guard<'_>, native_path: &str) -> Result<Response, ApiError> {
    audited!(
        g,
        action::READ_METADATA,
        super::audit_path(native_path),
        async {
            let path = super::authorized_path(
                g,
                action::READ_METADATA,
                Need::AnyOf(&[Scope::SecretsRead, Scope::SecretsList]),
                native_path,
            )
            .await?;
            let store = g.st.store.as_ref();
            let secret = store
                .get_secret_any_state(&g.caller.tenant_id, path.as_str())
                .await?
                .ok_or_else(|| ApiError::secret_not_found(path.as_str()))?;
            let versions = store.list_versions(&secret.id).await?;
            g.record(&[g.row(
                action::READ_METADATA,
                Some(path.as_str()),
                Some(secret.current_version),
                200,
                json!({ "resource": "versions" }),
            )])
            .await?;
            Ok(ok(g.ctx, secret_metadata(&secret, &versions)))
        }
    )
}

/// `POST …/metadata/{path}` `{"custom_metadata":{…},"max_versions":N}`: a native metadata
/// change of an existing secret (`cas_required` and `delete_version_after` are not supported).
pub async fn write(
    g: &Guard<'_>,
    native_path: &str,
    body: Result<Map<String, Value>, ApiError>,
) -> Result<Response, ApiError> {
    audited!(g, action::WRITE, super::audit_path(native_path), async {
        let path =
            super::authorized_path(g, action::WRITE, Scope::SecretsWrite, native_path).await?;
        let body = body?;
        if body
            .get("cas_required")
            .is_some_and(|v| v.as_bool() == Some(true))
        {
            return Err(ApiError::invalid_request(
                "cas_required is not supported: send options.cas with each write instead",
            ));
        }
        match body.get("delete_version_after") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() || s == "0s" || s == "0" => {}
            Some(_) => return Err(ApiError::invalid_request("delete_version_after is not supported (versions end by max_versions and a rotation's grace period)")),
        }
        let mut as_native = Map::new();
        if let Some(custom) = body.get("custom_metadata").filter(|v| !v.is_null()) {
            as_native.insert("custom".into(), Value::Object(custom_strings(custom)?));
        }
        match body.get("max_versions") {
            None | Some(Value::Null) => {}
            Some(v) if v.as_i64() == Some(0) => {} // Vault's "the default"
            Some(v) => {
                as_native.insert("options".into(), json!({ "max_versions": v }));
            }
        }
        let typed_body::JsonBody { body, check } =
            typed_body::parse::<native::MetadataPatch>(as_native)?;
        let (patch, options) = body.check(check, g.st.clock.now())?;
        let row = g.row(
            action::WRITE,
            Some(path.as_str()),
            None,
            204,
            json!({ "resource": "metadata" }),
        );
        g.st.ops()
            .patch_metadata(&g.caller.tenant_id, &path, &patch, &options, row)
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `custom_metadata` checked against Vault's bounds: string values only.
fn custom_strings(v: &Value) -> Result<Map<String, Value>, ApiError> {
    let map = v
        .as_object()
        .ok_or_else(|| ApiError::invalid_request("custom_metadata must be an object of strings"))?;
    if map.len() > MAX_CUSTOM_KEYS {
        return Err(ApiError::invalid_request(format!(
            "custom_metadata has more than {MAX_CUSTOM_KEYS} keys"
        )));
    }
    for (k, v) in map {
        if k.is_empty() || k.len() > MAX_CUSTOM_KEY_BYTES {
            return Err(ApiError::invalid_request(format!(
                "custom_metadata keys are 1 to {MAX_CUSTOM_KEY_BYTES} bytes"
            )));
        }
        let s = v
            .as_str()
            .ok_or_else(|| ApiError::invalid_request("custom_metadata values must be strings"))?;
        if s.len() > MAX_CUSTOM_VALUE_BYTES {
            return Err(ApiError::invalid_request(format!(
                "custom_metadata values are at most {MAX_CUSTOM_VALUE_BYTES} bytes"
            )));
        }
    }
    Ok(map.clone())
}

/// `DELETE …/metadata/{path}`: every version destroyed (204 also when nothing was there).
pub async fn delete(g: &Guard<'_>, native_path: &str) -> Result<Response, ApiError> {
    audited!(g, action::DESTROY, super::audit_path(native_path), async {
        let path =
            super::authorized_path(g, action::DESTROY, Scope::SecretsDelete, native_path).await?;
        let row = g.row(
            action::DESTROY,
            Some(path.as_str()),
            None,
            204,
            json!({ "permanent": true }),
        );
        match g.st.ops().destroy(&g.caller.tenant_id, &path, row).await {
            Ok(_) => {}
            Err(SecretError::NotFound(_)) => {
                g.record(&[g.row(
                    action::DESTROY,
                    Some(path.as_str()),
                    None,
                    204,
                    json!({ "permanent": true, "existed": false }),
                )])
                .await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
