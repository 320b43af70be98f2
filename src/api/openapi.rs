//! `GET /v1/openapi.json`: the OpenAPI 3.1 document, built once from the route registry, the
//! `bearer` security scheme, and the error responses every operation can give.

use super::bodies::common::{ErrorCode, ErrorEnvelope};
use super::registry::ApiRouter;
use crate::domain::token::Caller;
use crate::http::error::{ApiError, ERROR_CODES};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Doc, Ref, RefOr, ResponseBuilder};
use utoipa::OpenApi;
use utoipa_axum::routes;

/// The frame of the document: info, tags and the shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ScaiVault API",
        description = "Self-hosted secrets management. Authenticate with `Authorization: Bearer <token>`; \
            each operation lists the scope it needs as its `bearer` security requirement \
            (`admin` implies every scope; several requirements mean any one of them). \
            Every error has the envelope `ErrorEnvelope`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorEnvelope, ErrorCode)),
    tags(
        (name = "health", description = "Liveness, readiness, version (no authentication)"),
        (name = "auth", description = "Who am I, introspection, tokens"),
        (name = "secrets", description = "Secrets and their versions"),
        (name = "rotation", description = "Rotation policies, history, due list"),
        (name = "secret-policies", description = "Recipes of generated values (auto-generated rotations, previews)"),
        (name = "webhooks", description = "Webhooks and their deliveries"),
        (name = "events", description = "The event feed"),
        (name = "subscriptions", description = "A token's own glob-scoped event streams: polled and acknowledged, or pushed to a webhook"),
        (name = "audit", description = "The audit log"),
        (name = "meta", description = "This document"),
    )
)]
struct Frame;

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(openapi_json))
}

/// The whole document: the frame, every registered operation, and their error responses.
pub fn document() -> Doc {
    let mut doc = Frame::openapi();
    let (_, paths) = super::routes().into_parts();
    doc.merge(paths);
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".into(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("skt_…")
                .description(Some("An API token; the scopes an operation needs are listed in its security requirement."))
                .build(),
        ),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_error_responses(op, has_path_params);
        }
    }
    doc
}

/// The serialized document with its links, built on first use.
static DOCUMENT: LazyLock<Result<String, String>> = LazyLock::new(|| {
    let mut doc = serde_json::to_value(document()).map_err(|e| e.to_string())?;
    super::openapi_links::add_links(&mut doc);
    serde_json::to_string(&doc).map_err(|e| e.to_string())
});

/// Adds the error responses an operation can give that its annotation does not list, and
/// gives every error response the envelope as its body.
fn add_error_responses(op: &mut Operation, has_path_params: bool) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let mut statuses: Vec<u16> = Vec::new();
    if secured {
        statuses.extend([400, 401, 403, 422, 429, 503]);
    }
    if secured && has_path_params {
        statuses.push(404);
    }
    if has_body {
        statuses.push(413);
    }
    for status in statuses {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(status, None));
    }
    for (status, resp) in op.responses.responses.iter_mut() {
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        if let RefOr::T(r) = resp {
            if code >= 400 && r.content.is_empty() {
                *resp = error_response(code, Some(&r.description));
            }
        }
    }
}

/// An error response of `status`, listing the codes it may carry.
fn error_response(status: u16, what: Option<&str>) -> RefOr<utoipa::openapi::Response> {
    let codes: Vec<String> = ERROR_CODES
        .iter()
        .filter(|(s, _, _)| *s == status)
        .map(|(_, c, _)| format!("`{c}`"))
        .collect();
    let description = match what.filter(|w| !w.is_empty()) {
        Some(w) => w.to_string(),
        None => format!("error: {}", codes.join(", ")),
    };
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                    .build(),
            )
            .build(),
    )
}

/// The OpenAPI 3.1 document of this API. Needs a valid token of any scope (SPEC §0: only
/// health and version are public).
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
    security(("bearer" = []))
)]
async fn openapi_json(_caller: Caller) -> Result<Response, ApiError> {
    match DOCUMENT.as_ref() {
        Ok(json) => {
            Ok(([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response())
        }
        Err(e) => {
            tracing::error!(error.cause = %e, "the OpenAPI document could not be serialized");
            Err(ApiError::internal(
                "the OpenAPI document could not be built",
            ))
        }
    }
}
