//! The one integration-test binary: every API test runs against PostgreSQL and SQLite.

mod common;

mod access_control;
mod at_rest;
mod audit_api;
mod audit_csv;
mod auth_api;
mod authz_matrix;
mod binary;
mod config_check;
mod container;
mod disconnects;
mod foundation;
mod keys;
mod metrics;
mod metrics_binary;
mod nul_input;
mod openapi;
mod openapi_source;
mod rate_limits;
mod read_cache;
mod restricted_admin;
mod retry_after;
mod root_token;
mod rotation;
mod rotation_failed;
mod secrets_api;
mod secrets_errors;
mod slow_headers;
mod smoke;
mod sqlite_files;
mod store_down;
mod tls;
mod undecodable_path;
mod webhook_isolation;
mod webhooks;
