//! HTTP handlers, one module per resource, each exposing `router()`.

pub mod auth;
pub mod health;
mod pagination;
mod secret_body;
mod secret_views;
pub mod secrets;
