//! The one integration-test binary: every API test runs against PostgreSQL and SQLite.

mod common;

mod access_control;
mod at_rest;
mod audit_api;
mod auth_api;
mod binary;
mod disconnects;
mod foundation;
mod openapi;
mod openapi_source;
mod rotation;
mod secrets_api;
mod secrets_errors;
mod smoke;
mod store_down;
mod webhook_isolation;
mod webhooks;
