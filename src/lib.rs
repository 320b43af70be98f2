//! scaivault: a self-hosted secrets-management server speaking the ScaiVault REST API.
//!
//! `server::run` is the one entry point used by both `main` and the integration tests:
//! it takes a validated [`config::Config`], a bound listener, a clock and a shutdown future.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod bootstrap;
pub mod bus;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod domain;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod http;
pub mod metrics;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use server::{App, AppState};
