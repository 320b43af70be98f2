//! The one integration-test binary: every API test runs against PostgreSQL and SQLite.

mod common;

mod foundation;
mod smoke;
mod store_down;
mod webhooks;
