//! `/v1/rotation`: policies (CRUD, enable/disable), attaching secrets, forced rotation,
//! history and the due list (SPEC §4).

use super::pagination;
use super::secret_body::duration_error;
use crate::clock::{from_micros, rfc3339, to_micros};
use crate::domain::access::{self, Denial, Reach};
use crate::domain::duration::{list_to_string, parse_list, ApiDuration};
use crate::domain::path::SecretPath;
use crate::domain::policy_ops::{ForceRequest, PolicyError, PolicyOps};
use crate::domain::rotation;
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::{ApiError, FieldError};
use crate::http::guard::{audited, denial_error, query_map, Guard};
use crate::server::AppState;
use crate::store::{HistoryRow, PolicyRow, StoreError};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa::OpenApi;
use utoipa_axum::routes;

use super::registry::ApiRouter;
use super::schemas::rotation as schema;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(attach))
        // A secret path has slashes: one catch-all serves the documented `{secret_path}` template.
        .catch_all(
            "/v1/rotation/policies/{id}/secrets/{*path}",
            axum::routing::delete(detach),
            DetachDoc::openapi(),
        )
        .routes(routes!(rotate))
        .routes(routes!(history))
        .routes(routes!(due))
}

#[derive(OpenApi)]
#[openapi(paths(detach))]
struct DetachDoc;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "rotation_policy_not_found",
        format!("no rotation policy '{id}'"),
    )
}

fn ts(us: i64) -> String {
    rfc3339(from_micros(us))
}

fn opt_ts(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |u| json!(ts(u)))
}

fn view(p: &PolicyRow, secrets_count: i64) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "interval": p.interval_text,
        "interval_seconds": p.interval_seconds,
        "grace_period": p.grace_text,
        "grace_period_seconds": p.grace_seconds,
        "warn_before": p.warn_before,
        "auto_generate": p.auto_generate != 0,
        "webhook_ids": serde_json::from_str::<Value>(&p.webhook_ids).unwrap_or(json!([])),
        "is_active": p.is_active != 0,
        "secrets_count": secrets_count,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
    })
}

/// A RotationHistoryItem.
pub fn history_view(h: &HistoryRow) -> Value {
    json!({
        "id": h.id,
        "policy_id": h.policy_id,
        "secret_path": h.secret_path,
        "trigger": h.trigger,
        "status": h.status,
        "old_version": h.old_version,
        "new_version": h.new_version,
        "started_at": ts(h.started_at),
        "completed_at": opt_ts(h.completed_at),
        "error": h.error,
    })
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Applies a create/patch body to a policy row (collecting field errors).
async fn apply_body(
    st: &AppState,
    g: &Guard<'_>,
    p: &mut PolicyRow,
    body: &Map<String, Value>,
    create: bool,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if create {
        match body.get("name").and_then(Value::as_str) {
            Some(n) if valid_name(n) => {
                p.name = n.to_string();
                p.id = format!("rot_{n}");
            }
            _ => errors.push(FieldError::new(
                "name",
                "is required: [a-z0-9][a-z0-9_-]{0,62}",
            )),
        }
    } else if body.contains_key("name") {
        errors.push(FieldError::new(
            "name",
            "cannot be changed (it is part of the id)",
        ));
    }
    match body.get("description") {
        None => {}
        Some(Value::Null) => p.description = None,
        Some(Value::String(d)) if d.len() <= 1024 => p.description = Some(d.clone()),
        Some(_) => errors.push(FieldError::new(
            "description",
            "must be a string of at most 1024 characters",
        )),
    }
    match body.get("interval") {
        None if create => errors.push(FieldError::new("interval", "is required, e.g. 90d")),
        None => {}
        Some(Value::String(s)) => {
            let d = ApiDuration::parse(s).map_err(duration_error)?;
            p.interval_text = d.as_str().to_string();
            p.interval_seconds = d.seconds();
        }
        Some(_) => errors.push(FieldError::new(
            "interval",
            "must be a duration string such as 90d",
        )),
    }
    match body.get("grace_period") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            let d = ApiDuration::parse(s).map_err(duration_error)?;
            p.grace_text = d.as_str().to_string();
            p.grace_seconds = d.seconds();
        }
        Some(_) => errors.push(FieldError::new(
            "grace_period",
            "must be a duration string such as 48h",
        )),
    }
    match body.get("warn_before") {
        None => {}
        Some(Value::Null) => p.warn_before = String::new(),
        Some(Value::String(s)) if s.trim().is_empty() => p.warn_before = String::new(),
        Some(Value::String(s)) => {
            p.warn_before = list_to_string(&parse_list(s).map_err(duration_error)?)
        }
        Some(Value::Array(a)) => {
            let mut list = Vec::new();
            for v in a {
                match v.as_str() {
                    Some(s) => list.push(ApiDuration::parse(s).map_err(duration_error)?),
                    None => {
                        errors.push(FieldError::new(
                            "warn_before",
                            "must be a string like 7d,1d or a list of durations",
                        ));
                        break;
                    }
                }
            }
            p.warn_before = list_to_string(&list);
        }
        Some(_) => errors.push(FieldError::new(
            "warn_before",
            "must be a string like 7d,1d or a list of durations",
        )),
    }
    match body.get("auto_generate") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => p.auto_generate = i64::from(*b),
        Some(_) => errors.push(FieldError::new("auto_generate", "must be true or false")),
    }
    match body.get("webhook_ids") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            let ids: Option<Vec<String>> =
                a.iter().map(|v| v.as_str().map(str::to_string)).collect();
            match ids {
                Some(ids) => {
                    for id in &ids {
                        // A webhook outside the caller's rules is as missing as an unknown one.
                        let missing = || {
                            ApiError::not_found("webhook_not_found", format!("no webhook '{id}'"))
                        };
                        let w = st
                            .store
                            .get_webhook(&g.caller.tenant_id, id)
                            .await?
                            .ok_or_else(missing)?;
                        if !g.sees(Reach::filter(w.filter_path_prefix.as_deref())) {
                            return Err(missing());
                        }
                    }
                    p.webhook_ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
                }
                None => errors.push(FieldError::new(
                    "webhook_ids",
                    "must be a list of webhook ids",
                )),
            }
        }
        Some(_) => errors.push(FieldError::new(
            "webhook_ids",
            "must be a list of webhook ids",
        )),
    }
    if let Some(w) = rotation::warnings(p)
        .iter()
        .find(|(secs, _)| *secs >= p.interval_seconds)
    {
        errors.push(FieldError::new(
            "warn_before",
            format!("{} is not shorter than the interval", w.1),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Creates a rotation policy.
#[utoipa::path(post, path = "/v1/rotation/policies", tag = "rotation", operation_id = "create_policy",
    request_body = schema::PolicyCreate,
    responses(
        (status = 201, description = "Created", body = schema::Policy),
        (status = 404, description = "`webhook_not_found` (a `webhook_ids` entry)"),
        (status = 409, description = "`name_conflict`"),
    ),
    security(("bearer" = ["admin"])))]
async fn create(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_create", async {
        g.allow("rotation_policy_create", Scope::Admin, Reach::Filtered)
            .await?;
        let JsonObject(body) = body?;
        let now = to_micros(st.clock.now());
        let mut p = PolicyRow {
            tenant_id: caller.tenant_id.clone(),
            id: String::new(),
            name: String::new(),
            description: None,
            interval_text: String::new(),
            interval_seconds: 0,
            grace_text: "48h".into(),
            grace_seconds: 48 * 3600,
            warn_before: String::new(),
            auto_generate: 0,
            webhook_ids: "[]".into(),
            is_active: 1,
            created_at: now,
            updated_at: now,
        };
        apply_body(&st, &g, &mut p, &body, true).await?;
        let audit = g.row(
            "rotation_policy_create",
            None,
            None,
            201,
            json!({ "policy_id": p.id }),
        );
        PolicyOps::new(st.store.as_ref())
            .create(&p, &audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ApiError::conflict(
                    "name_conflict",
                    format!("a rotation policy named '{}' already exists", p.name),
                ),
                other => other.into(),
            })?;
        Ok((StatusCode::CREATED, Json(view(&p, 0))).into_response())
    })
}

/// Lists rotation policies.
#[utoipa::path(get, path = "/v1/rotation/policies", tag = "rotation", operation_id = "list_policies",
    params(
        ("active_only" = Option<bool>, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of policies", body = schema::PolicyList)),
    security(("bearer" = ["admin"])))]
async fn list(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("rotation_policy_list", Scope::Admin, Reach::Filtered)
        .await?;
    let query = query_map(q.as_deref());
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let after = pagination::decode(query.get("cursor").map(String::as_str))?;
    let active_only = matches!(
        query.get("active_only").map(String::as_str),
        Some("true" | "1")
    );
    let rows = st
        .store
        .list_policies(&caller.tenant_id, active_only, after.as_deref(), limit + 1)
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |p| p.id.clone());
    let mut data = Vec::new();
    for p in &rows {
        data.push(view(p, visible_count(&g, &p.id).await?));
    }
    Ok(
        Json(json!({ "data": data, "has_more": cursor.is_some(), "cursor": cursor }))
            .into_response(),
    )
}

/// A rotation policy.
#[utoipa::path(get, path = "/v1/rotation/policies/{id}", tag = "rotation", operation_id = "get_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 200, description = "The policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn show(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("rotation_policy_read", Scope::Admin, Reach::Filtered)
        .await?;
    let p = st
        .store
        .get_policy(&caller.tenant_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(view(&p, visible_count(&g, &id).await?)).into_response())
}

/// How many of a policy's secrets the caller's path rules reach (SPEC §2: a path-restricted
/// admin's `secrets_count` shows only its paths).
async fn visible_count(g: &Guard<'_>, policy_id: &str) -> Result<i64, ApiError> {
    if g.caller.path_prefixes.is_empty() {
        return Ok(g
            .st
            .store
            .count_attached(&g.caller.tenant_id, policy_id)
            .await?);
    }
    let paths =
        g.st.store
            .attached_paths(&g.caller.tenant_id, policy_id)
            .await?;
    Ok(paths.iter().filter(|p| g.sees(Reach::Path(p))).count() as i64)
}

/// Loads a policy the caller may change: every attached secret must lie inside its path
/// rules (else 403 `access_denied`, SPEC §2), checked again in the writing transaction.
async fn load_for_change(g: &Guard<'_>, action: &str, id: &str) -> Result<PolicyRow, ApiError> {
    g.allow(action, Scope::Admin, Reach::Filtered).await?;
    let p =
        g.st.store
            .get_policy(&g.caller.tenant_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
    let attached = g.st.store.attached_paths(&g.caller.tenant_id, id).await?;
    g.allow(action, Scope::Admin, Reach::Paths(&attached))
        .await?;
    Ok(p)
}

/// The caller's path rules as a check on a policy's attached secrets (run by the policy
/// service inside its transaction).
fn attached_rule<'g>(g: &'g Guard<'_>) -> impl Fn(&[String]) -> Result<(), Denial> + Sync + 'g {
    move |paths| access::within(g.caller, Reach::Paths(paths))
}

/// Saves a changed policy and recomputes its secrets' schedules in one transaction.
async fn save_and_reschedule(
    st: &AppState,
    g: &Guard<'_>,
    p: &PolicyRow,
    audit: crate::store::AuditRow,
) -> Result<(), ApiError> {
    PolicyOps::new(st.store.as_ref())
        .save(p, &audit, st.clock.now(), &attached_rule(g))
        .await
        .map_err(policy_error)
}

/// The answer to a refused policy operation.
fn policy_error(e: PolicyError) -> ApiError {
    match e {
        PolicyError::NotFound(id) => not_found(&id),
        PolicyError::SecretNotFound(path) => ApiError::secret_not_found(&path),
        PolicyError::NotAttached { path, policy } => ApiError::not_found(
            "secret_not_found",
            format!("'{path}' is not attached to {policy}"),
        ),
        PolicyError::Denied(d) => denial_error(d),
        PolicyError::Store(e) => e.into(),
    }
}

/// Changes a policy and reschedules its secrets.
#[utoipa::path(patch, path = "/v1/rotation/policies/{id}", tag = "rotation", operation_id = "update_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    request_body(content = Option<schema::PolicyPatch>, description = "Fields to change; an empty body changes nothing"),
    responses(
        (status = 200, description = "The changed policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`, `webhook_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn update(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_update", async {
        let mut p = load_for_change(&g, "rotation_policy_update", &id).await?;
        let JsonObject(body) = body?;
        apply_body(&st, &g, &mut p, &body, false).await?;
        p.updated_at = to_micros(st.clock.now());
        save_and_reschedule(
            &st,
            &g,
            &p,
            g.row(
                "rotation_policy_update",
                None,
                None,
                200,
                json!({ "policy_id": p.id }),
            ),
        )
        .await?;
        Ok(Json(view(&p, visible_count(&g, &id).await?)).into_response())
    })
}

async fn set_active(
    st: &AppState,
    g: &Guard<'_>,
    id: &str,
    active: bool,
) -> Result<Response, ApiError> {
    let mut p = load_for_change(g, "rotation_policy_update", id).await?;
    p.is_active = i64::from(active);
    p.updated_at = to_micros(st.clock.now());
    save_and_reschedule(
        st,
        g,
        &p,
        g.row(
            "rotation_policy_update",
            None,
            None,
            200,
            json!({ "policy_id": p.id, "is_active": active }),
        ),
    )
    .await?;
    if active {
        st.bus.deliveries.notify_one();
    }
    Ok(Json(view(&p, visible_count(g, id).await?)).into_response())
}

/// Resumes the schedule; anything already due fires at once.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/enable", tag = "rotation", operation_id = "enable_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 200, description = "The policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn enable(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_update", set_active(&st, &g, &id, true))
}

/// Pauses the schedule.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/disable", tag = "rotation", operation_id = "disable_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 200, description = "The policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn disable(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_update", set_active(&st, &g, &id, false))
}

/// Deletes a policy; its secrets are detached.
#[utoipa::path(delete, path = "/v1/rotation/policies/{id}", tag = "rotation", operation_id = "delete_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn remove(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_delete", async {
        load_for_change(&g, "rotation_policy_delete", &id).await?;
        let audit = g.row(
            "rotation_policy_delete",
            None,
            None,
            204,
            json!({ "policy_id": id }),
        );
        PolicyOps::new(st.store.as_ref())
            .delete(&caller.tenant_id, &id, &audit, &attached_rule(&g))
            .await
            .map_err(policy_error)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// Attaches a secret (moving it from any other policy).
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/secrets", tag = "rotation", operation_id = "attach_secret",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    request_body = schema::AttachRequest,
    responses(
        (status = 201, description = "Attached", body = schema::Attachment),
        (status = 404, description = "`rotation_policy_not_found`, `secret_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn attach(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_update", async {
        g.allow("rotation_policy_update", Scope::Admin, Reach::Filtered)
            .await?;
        let JsonObject(body) = body?;
        let raw = body
            .get("secret_path")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation_one("secret_path", "is required"))?;
        let path = SecretPath::parse(raw).map_err(|e| ApiError::invalid_path(e.0))?;
        g.allow(
            "rotation_policy_update",
            Scope::Admin,
            Reach::Path(path.as_str()),
        )
        .await?;
        let p = st
            .store
            .get_policy(&caller.tenant_id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        let audit = |version| {
            g.row(
                "rotation_policy_update",
                Some(path.as_str()),
                Some(version),
                201,
                json!({ "policy_id": p.id, "attached": true }),
            )
        };
        let schedule = PolicyOps::new(st.store.as_ref())
            .attach(&p, path.as_str(), st.clock.now(), audit)
            .await
            .map_err(policy_error)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({
                "policy_id": p.id,
                "secret_path": path.as_str(),
                "assigned_at": ts(schedule.assigned_at),
                "last_rotated_at": ts(schedule.last_rotated_at),
                "next_rotation_at": ts(schedule.next_rotation_at),
            })),
        )
            .into_response())
    })
}

/// Detaches a secret.
#[utoipa::path(delete, path = "/v1/rotation/policies/{id}/secrets/{secret_path}", tag = "rotation", operation_id = "detach_secret",
    params(
        ("id" = String, Path, min_length = 1, description = "`rot_<name>`"),
        ("secret_path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", description = "The secret path; it may contain `/` (raw or as `%2F`)"),
    ),
    responses(
        (status = 204, description = "Detached"),
        (status = 404, description = "`rotation_policy_not_found`, `secret_not_found` (also when not attached to this policy)"),
    ),
    security(("bearer" = ["admin"])))]
async fn detach(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path((id, raw)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_update", async {
        g.allow("rotation_policy_update", Scope::Admin, Reach::Filtered)
            .await?;
        let path = SecretPath::parse(&raw).map_err(|e| ApiError::invalid_path(e.0))?;
        // Refused before any lookup, so the answer says nothing of what exists there.
        g.allow(
            "rotation_policy_update",
            Scope::Admin,
            Reach::Path(path.as_str()),
        )
        .await?;
        st.store
            .get_policy(&caller.tenant_id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        let audit = g.row(
            "rotation_policy_update",
            Some(path.as_str()),
            None,
            204,
            json!({ "policy_id": id, "attached": false }),
        );
        PolicyOps::new(st.store.as_ref())
            .detach(&caller.tenant_id, &id, path.as_str(), &audit)
            .await
            .map_err(policy_error)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// Forces a rotation of the given (or all attached) secrets; a pending one is returned as is.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/rotate", tag = "rotation", operation_id = "rotate",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    request_body(content = Option<schema::RotateRequest>, description = "Optional; without it, every attached secret"),
    responses(
        (status = 200, description = "One history item per secret", body = Vec<schema::RotationHistoryItem>),
        (status = 404, description = "`rotation_policy_not_found`, `secret_not_found`"),
    ),
    security(("bearer" = ["secrets:rotate"])))]
async fn rotate(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    match rotate_inner(&st, &g, &id, body).await {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail("rotate", None, e).await),
    }
}

async fn rotate_inner(
    st: &AppState,
    g: &Guard<'_>,
    id: &str,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    g.allow("rotate", Scope::SecretsRotate, Reach::Filtered)
        .await?;
    let JsonObject(body) = body?;
    let caller = g.caller;
    let p = st
        .store
        .get_policy(&caller.tenant_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    // Paths are parsed and authorized before the transaction opens: a refusal writes its
    // audit row, which on SQLite waits for the write turn an open transaction holds.
    let named = match body.get("secret_paths") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut paths = Vec::new();
            for v in a {
                let raw = v.as_str().ok_or_else(|| {
                    ApiError::validation_one("secret_paths", "must be a list of paths")
                })?;
                let path = SecretPath::parse(raw).map_err(|e| ApiError::invalid_path(e.0))?;
                g.allow("rotate", Scope::SecretsRotate, Reach::Path(path.as_str()))
                    .await?;
                paths.push(path);
            }
            Some(paths)
        }
        Some(_) => {
            return Err(ApiError::validation_one(
                "secret_paths",
                "must be a list of paths",
            ))
        }
    };
    let named: Option<Vec<String>> =
        named.map(|ps| ps.into_iter().map(|p| p.as_str().to_string()).collect());
    let audit = |path: &str, version: i64, h: &HistoryRow| {
        g.row(
            "rotate",
            Some(path),
            Some(version),
            200,
            json!({ "trigger": "manual", "rotation_policy_id": p.id, "history_id": h.id }),
        )
    };
    let ops = PolicyOps::new(st.store.as_ref());
    let forced = ops
        .force(
            &p,
            &ForceRequest {
                named: named.as_deref(),
                sees: &|path| g.sees(Reach::Path(path)),
                actor: &caller.identity_id,
                request_id: Some(&g.ctx.request_id),
            },
            st.clock.now(),
            &audit,
        )
        .await
        .map_err(policy_error)?;
    st.bus.published(forced.len(), forced.len());
    for f in forced.iter().filter(|f| f.opened && p.auto_generate != 0) {
        if let Err(msg) = crate::scheduler::auto_rotate(st, &caller.tenant_id, &f.secret_path).await
        {
            crate::scheduler::fail_history(st, &f.history.id, "auto_generate_failed", &msg, 1)
                .await?;
        }
    }
    // Read again so auto-generated rotations show their outcome.
    let items = ops
        .refresh(forced.into_iter().map(|f| f.history).collect())
        .await?;
    Ok(Json(Value::Array(items.iter().map(history_view).collect())).into_response())
}

/// A policy's rotation history, newest first.
#[utoipa::path(get, path = "/v1/rotation/policies/{id}/history", tag = "rotation", operation_id = "rotation_history",
    params(
        ("id" = String, Path, min_length = 1, description = "`rot_<name>`"),
        ("status" = Option<schema::RotationStatus>, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses(
        (status = 200, description = "A page of history items", body = schema::HistoryList),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["audit:read"])))]
async fn history(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("rotation_history", Scope::AuditRead, Reach::Filtered)
        .await?;
    st.store
        .get_policy(&caller.tenant_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let query = query_map(q.as_deref());
    let status = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(s @ ("pending" | "success" | "failed" | "overdue")) => Some(s),
        Some(_) => {
            return Err(ApiError::validation_one(
                "status",
                "must be pending, success, failed or overdue",
            ))
        }
    };
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let before = pagination::decode(query.get("cursor").map(String::as_str))?;
    let rows = st
        .store
        .list_history(&caller.tenant_id, &id, status, before.as_deref(), limit + 1)
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |h| h.id.clone());
    let data: Vec<Value> = rows
        .iter()
        .filter(|h| g.sees(Reach::Path(&h.secret_path)))
        .map(history_view)
        .collect();
    Ok(
        Json(json!({ "data": data, "has_more": cursor.is_some(), "cursor": cursor }))
            .into_response(),
    )
}

/// Secrets due for rotation within the window (and overdue ones).
#[utoipa::path(get, path = "/v1/rotation/due", tag = "rotation", operation_id = "rotation_due",
    params(
        ("within_hours" = Option<i64>, Query, minimum = 0, maximum = 8784, description = "Default 24"),
        ("include_overdue" = Option<bool>, Query, description = "Default true"),
        ("policy_id" = Option<String>, Query),
    ),
    responses((status = 200, description = "Due secrets", body = schema::DueList)),
    security(("bearer" = ["secrets:rotate"])))]
async fn due(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("rotation_due", Scope::SecretsRotate, Reach::Filtered)
        .await?;
    let query = query_map(q.as_deref());
    let hours = match query.get("within_hours").filter(|v| !v.is_empty()) {
        None => 24,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|h| (0..=24 * 366).contains(h))
            .ok_or_else(|| {
                ApiError::validation_one("within_hours", "must be an integer from 0 to 8784")
            })?,
    };
    let include_overdue = !matches!(
        query.get("include_overdue").map(String::as_str),
        Some("false" | "0")
    );
    let now = st.clock.now();
    let until = to_micros(now + chrono::Duration::hours(hours));
    let rows = st
        .store
        .due_rotations(
            &caller.tenant_id,
            until,
            query
                .get("policy_id")
                .map(String::as_str)
                .filter(|p| !p.is_empty()),
        )
        .await?;
    let data: Vec<Value> = rows
        .iter()
        .filter(|(_, path)| g.sees(Reach::Path(path)))
        .filter_map(|(s, path)| {
            let overdue = s.status == "overdue";
            (include_overdue || !overdue).then(|| {
                json!({ "secret_path": path, "policy_id": s.policy_id, "next_rotation_at": ts(s.next_rotation_at), "overdue": overdue, "status": s.status })
            })
        })
        .collect();
    Ok(Json(json!({ "count": data.len(), "data": data })).into_response())
}
