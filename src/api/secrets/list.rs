//! Listing secrets (filtered to the caller's paths) and the batch read.

use crate::api::bodies::common::ErrorCode;
use crate::api::pagination;
use crate::audit::action;
use crate::domain::access::Reach;
use crate::domain::path::validate_prefix;
use crate::domain::scope::Scope;
use crate::domain::secret::SecretType;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map};
use crate::http::typed_body::JsonBody;
use crate::store::SecretListQuery;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::api::bodies::secrets as schema;

use super::*;

/// Lists secrets (never their values), by path.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", operation_id = "list_secrets",
    params(
        ("prefix" = Option<String>, Query, description = "Only paths starting with this"),
        ("tag" = Option<String>, Query, description = "Only secrets with this tag"),
        ("secret_type" = Option<crate::api::bodies::common::SecretTypeName>, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of secrets", body = schema::SecretList)),
    security(("bearer" = ["secrets:list"])))]
pub(super) async fn list(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let query = query_map(q.as_deref());
    audited!(g, action::LIST, None, async {
        g.allow(action::LIST, Scope::SecretsList, Reach::Filtered)
            .await?;
        let prefix = query.get("prefix").filter(|p| !p.is_empty()).cloned();
        if let Some(p) = &prefix {
            validate_prefix(p).map_err(|e| ApiError::invalid_path(e.0))?;
        }
        let secret_type = match query.get("secret_type").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(
                SecretType::parse(t)
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_secret_type",
                            "secret_type must be one of kv, json, certificate, ssh_key, api_key",
                        )
                    })?
                    .as_str()
                    .to_string(),
            ),
        };
        let limit = pagination::limit(query.get("limit").map(String::as_str))?;
        let after = pagination::decode(query.get("cursor").map(String::as_str))?;
        let base = SecretListQuery {
            tenant_id: caller.tenant_id.clone(),
            prefix: prefix.clone(),
            tag: query.get("tag").filter(|t| !t.is_empty()).cloned(),
            secret_type,
            path_rules: caller.path_prefixes.clone(),
            after_path: None,
            limit: 0,
        };
        // Metadata can be large (older rows predate its bound): the page also ends at a size.
        let (rows, cursor) = pagination::fill(
            limit,
            after,
            |r| r.path.clone(),
            schema::SecretInfo::listed_size,
            |after_path, limit| {
                let q = SecretListQuery {
                    after_path,
                    limit,
                    ..base.clone()
                };
                let store = st.store.clone();
                async move { store.list_secrets(&q).await }
            },
        )
        .await?;
        g.record(&[g.row(
            action::LIST,
            prefix.as_deref(),
            None,
            200,
            json!({ "count": rows.len() }),
        )])
        .await?;
        let secrets = rows
            .iter()
            .map(|r| schema::SecretInfo::of(r, None, None))
            .collect();
        Ok(Json(schema::SecretList {
            secrets,
            has_more: cursor.is_some(),
            cursor,
        })
        .into_response())
    })
}

/// Reads up to 100 secrets; each path is authorized and audited on its own.
#[utoipa::path(post, path = "/v1/secrets/batch", tag = "secrets", operation_id = "batch_read",
    request_body = schema::BatchRead,
    responses((status = 200, description = "Per path, the secret or the error", body = schema::BatchResult)),
    security(("bearer" = ["secrets:read"])))]
pub(super) async fn batch(
    door: Door,
    body: Result<JsonBody<schema::BatchRead>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, action::READ, None, async {
        g.allow(action::READ, Scope::SecretsRead, Reach::Filtered)
            .await?;
        let JsonBody { body, check } = body?;
        let schema::BatchBody {
            paths,
            include_metadata,
            fail_fast,
            version,
        } = body.check(check)?;
        let o = st.ops();
        let mut secrets = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let mut rows = Vec::new();
        // The secrets read that are flagged `alert_on_read`, with the version read.
        let mut flagged = Vec::new();
        for raw in paths {
            let one = async {
                let path = parse_path(&raw)?;
                // This loop writes each path's row itself (batch:true), refusals included.
                g.judge(Scope::SecretsRead, Reach::Path(path.as_str()))?;
                let read = o.read(&caller.tenant_id, &path, version).await?;
                let data: Value = serde_json::from_slice(&read.value)
                    .map_err(|_| ApiError::internal("a stored value is not JSON"))?;
                Ok::<_, ApiError>((read, data))
            }
            .await;
            match one {
                Ok((read, data)) => {
                    rows.push(g.row(
                        action::READ,
                        Some(&raw),
                        Some(read.version),
                        200,
                        json!({ "batch": true }),
                    ));
                    if read.secret.alert_on_read {
                        flagged.push((read.secret.clone(), read.version));
                    }
                    let metadata = include_metadata.then(|| (&read.secret).into());
                    let entry = schema::BatchEntry {
                        data,
                        version: read.version,
                        secret_type: read.secret.secret_type.as_str().to_string(),
                        metadata,
                    };
                    secrets.insert(raw, entry);
                }
                Err(e) => {
                    if e.status.is_server_error() && e.status != StatusCode::INTERNAL_SERVER_ERROR {
                        return Err(e);
                    }
                    rows.push(g.row(
                        action::READ,
                        audit_path(&raw),
                        None,
                        e.status.as_u16(),
                        json!({ "batch": true, "error": e.code }),
                    ));
                    errors.insert(
                        raw,
                        schema::BatchError {
                            code: ErrorCode(e.code.to_string()),
                            message: e.message.clone(),
                        },
                    );
                    if fail_fast {
                        break;
                    }
                }
            }
        }
        let accessed: Vec<_> = flagged.iter().map(|(s, v)| (s, *v)).collect();
        g.record_read(&rows, &accessed).await?;
        st.metrics.secret_reads(secrets.len() as u64);
        Ok(Json(schema::BatchResult { secrets, errors }).into_response())
    })
}
