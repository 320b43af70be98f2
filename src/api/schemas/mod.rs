//! Documented shapes of request and response bodies for the OpenAPI document. Handlers parse
//! bodies by hand (to collect every field error) and render responses with `json!`, so these
//! types describe those shapes; schemathesis checks real responses against them.

pub mod audit;
pub mod auth;
pub mod common;
pub mod rotation;
pub mod secrets;
pub mod webhooks;
