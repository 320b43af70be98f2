//! The one integration-test binary: every API test runs against PostgreSQL and SQLite.

mod common;

mod smoke;
mod store_down;
