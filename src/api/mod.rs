//! HTTP handlers, one module per resource, each exposing `router()`.

pub mod audit;
pub mod auth;
pub mod events;
pub mod health;
pub mod metrics;
mod pagination;
pub mod rotation;
mod secret_body;
mod secret_views;
pub mod secrets;
mod webhook_body;
pub mod webhooks;
