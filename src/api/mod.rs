//! HTTP handlers, one module per resource, each exposing `router()` (an [`ApiRouter`] that
//! serves and documents its routes); [`routes`] puts them together. [`vault`] is Vault's KV v2
//! dialect, served beside them and documented by SPEC §12, not by the OpenAPI document.

pub mod audit;
pub(crate) mod audit_csv;
pub mod auth;
pub mod bodies;
pub mod events;
pub mod health;
pub mod metrics;
pub mod openapi;
mod openapi_links;
mod pagination;
pub mod registry;
pub mod rotation;
pub mod secret_policies;
pub mod secrets;
pub mod subscriptions;
pub mod vault;
pub mod webhooks;

pub use registry::ApiRouter;

/// Every route of the API with its OpenAPI description. Add a resource's router here.
pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(secrets::router())
        .merge(webhooks::router())
        .merge(events::router())
        .merge(audit::router())
        .merge(rotation::router())
        .merge(secret_policies::router())
        .merge(subscriptions::router())
        .merge(openapi::router())
        .merge(metrics::router())
        .dialect(vault::routes())
}
