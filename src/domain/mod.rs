//! Business rules with no HTTP and no SQL: parsed paths, durations, scopes, ids, secret shapes.

pub mod access;
pub mod duration;
pub mod events;
pub mod expiry;
pub mod generators;
pub mod grace_ended;
pub mod ids;
pub mod key_probe;
pub mod kv_listing;
pub mod kv_mounts;
pub mod master_keys;
pub mod outbox;
pub mod path;
pub mod policy_ops;
pub mod rewrap;
pub mod rotation;
pub mod rotation_outcome;
pub mod scope;
pub mod secret;
pub mod secret_ops;
pub mod secret_policy_ops;
pub mod subscriptions;
pub mod token;
pub mod token_ops;
pub mod webhook_ops;
