//! The contract both `Store` implementations keep, checked at the trait level (no server):
//! each test runs on a fresh PostgreSQL database and a fresh SQLite file
//! (`common::bare_store`) and asserts what the trait methods return and what is stored.

mod audit;
mod deliveries;
mod events;
mod fixtures;
mod rotation;
mod secrets;
mod subscriptions;
mod tokens;
mod transactions;
mod vault_and_reads;
