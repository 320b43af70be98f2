//! Secret reads: the current or an explicit version, the version list, and metadata.

use crate::audit::action;
use crate::domain::access::{Need, Reach};
use crate::domain::scope::Scope;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map, Guard};
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::bodies::secrets as schema;

use super::*;

/// Reads the current version, or `version`.
#[utoipa::path(get, path = "/v1/secrets/{path}", tag = "secrets", operation_id = "read_secret",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`"),
        ("version" = Option<i64>, Query, minimum = 1, description = "Read this version instead of the current one")),
    responses(
        (status = 200, description = "The value and its metadata", body = schema::SecretRead, headers(("ETag" = String, description = "`\"<version>\"`"))),
        (status = 404, description = "`secret_not_found`, `version_not_found`"),
        (status = 410, description = "`secret_expired`: the version's grace period after a rotation has ended"),
    ),
    security(("bearer" = ["secrets:read"])))]
pub(super) async fn get_any(
    door: Door,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    if let Some(p) = raw.strip_suffix("/versions") {
        return versions(&g, p).await;
    }
    if let Some(p) = raw.strip_suffix("/metadata") {
        return get_metadata(&g, p).await;
    }
    audited!(g, action::READ, audit_path(&raw), async {
        let path = parse_path(&raw)?;
        g.allow(action::READ, Scope::SecretsRead, Reach::Path(path.as_str()))
            .await?;
        let query = query_map(q.as_deref());
        let version =
            match query.get("version") {
                None => None,
                Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::invalid_request("version must be a positive integer")
                })?),
            };
        let read = st.ops().read(&caller.tenant_id, &path, version).await?;
        let data: Value = serde_json::from_slice(&read.value)
            .map_err(|_| ApiError::internal("a stored value is not JSON"))?;
        g.record_read(
            &[g.row(
                action::READ,
                Some(path.as_str()),
                Some(read.version),
                200,
                Value::Null,
            )],
            &read.alert(),
        )
        .await?;
        st.metrics.secret_reads(1);
        let schedule = schedule_of(st, &read.secret).await?;
        let mut res = Json(schema::SecretRead::of(
            &read.secret,
            read.version,
            read.version_created_at,
            data,
            schedule.as_deref(),
        ))
        .into_response();
        set_etag(&mut res, read.version);
        Ok(res)
    })
}

/// Lists the versions, newest first.
#[utoipa::path(get, path = "/v1/secrets/{path}/versions", tag = "secrets", operation_id = "secret_versions",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`")),
    responses(
        (status = 200, description = "The versions", body = schema::VersionList),
        (status = 404, description = "`secret_not_found`"),
    ),
    security(("bearer" = ["secrets:read"]), ("bearer" = ["secrets:list"])))]
pub(super) async fn versions(g: &Guard<'_>, raw: &str) -> Result<Response, ApiError> {
    audited!(g, action::READ_METADATA, audit_path(raw), async {
        let path = parse_path(raw)?;
        g.allow(
            action::READ_METADATA,
            Need::AnyOf(&[Scope::SecretsRead, Scope::SecretsList]),
            Reach::Path(path.as_str()),
        )
        .await?;
        let secret =
            g.st.store
                .get_secret(&g.caller.tenant_id, path.as_str())
                .await?
                .ok_or_else(|| ApiError::secret_not_found(path.as_str()))?;
        let list = g.st.store.list_versions(&secret.id).await?;
        // How each version was read, from the audit log (since this secret was created: an
        // earlier secret at the same path had versions of the same numbers).
        let day_ago = crate::clock::to_micros(g.st.clock.now() - chrono::Duration::hours(24));
        let reads =
            g.st.store
                .version_reads(
                    &g.caller.tenant_id,
                    path.as_str(),
                    secret.created_at,
                    day_ago,
                )
                .await?;
        let versions = list
            .iter()
            .map(|v| {
                let r = reads.iter().find(|r| r.version == v.version);
                schema::VersionEntry::of(v, secret.current_version, r)
            })
            .collect();
        g.record(&[g.row(
            action::READ_METADATA,
            Some(path.as_str()),
            Some(secret.current_version),
            200,
            json!({ "resource": "versions" }),
        )])
        .await?;
        Ok(Json(schema::VersionList {
            path: secret.path,
            versions,
        })
        .into_response())
    })
}

/// Everything about the secret but its value.
#[utoipa::path(get, path = "/v1/secrets/{path}/metadata", tag = "secrets", operation_id = "secret_metadata",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`")),
    responses(
        (status = 200, description = "The metadata", body = schema::SecretInfo),
        (status = 404, description = "`secret_not_found`"),
    ),
    security(("bearer" = ["secrets:list"])))]
pub(super) async fn get_metadata(g: &Guard<'_>, raw: &str) -> Result<Response, ApiError> {
    audited!(g, action::READ_METADATA, audit_path(raw), async {
        let path = parse_path(raw)?;
        g.allow(
            action::READ_METADATA,
            Scope::SecretsList,
            Reach::Path(path.as_str()),
        )
        .await?;
        let secret =
            g.st.store
                .get_secret(&g.caller.tenant_id, path.as_str())
                .await?
                .ok_or_else(|| ApiError::secret_not_found(path.as_str()))?;
        let count = g.st.store.list_versions(&secret.id).await?.len() as i64;
        g.record(&[g.row(
            action::READ_METADATA,
            Some(path.as_str()),
            Some(secret.current_version),
            200,
            Value::Null,
        )])
        .await?;
        let schedule = schedule_of(g.st, &secret).await?;
        Ok(Json(schema::SecretInfo::of(
            &secret,
            Some(count),
            schedule.as_deref(),
        ))
        .into_response())
    })
}
