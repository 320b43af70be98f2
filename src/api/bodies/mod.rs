//! Request and response bodies, one Rust type each: serde parses and renders them, their
//! `check` methods validate (see `http::typed_body`), and utoipa documents them, so the wire
//! format is written once. schemathesis checks real responses against the document.

pub mod audit;
pub mod auth;
pub mod common;
pub mod rotation;
pub mod rotation_requests;
pub mod secret_policies;
pub mod secret_requests;
pub mod secrets;
pub mod subscription_requests;
pub mod subscriptions;
pub mod webhook_requests;
pub mod webhooks;
