//! Webhook delivery: signing, the guarded HTTP client, one attempt, and the worker loop that
//! claims due deliveries from the outbox and records each outcome.

pub mod attempt;
pub mod recorder;
pub mod retry_after;
pub mod signer;
pub mod target;
pub mod worker;

pub use worker::DeliveryWorker;
