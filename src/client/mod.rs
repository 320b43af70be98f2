//! The HTTP(S) client of the client subcommands (`scaivault login`, `secret …`, `run`, `events
//! tail`, `audit tail`): where the server's address and token come from ([`settings`]) and typed
//! calls with the server's error envelope turned into [`ApiError`] ([`http`]). It never opens the
//! database; everything goes through the API, authorized like any other caller.

pub mod http;
pub mod settings;

pub use http::{ApiClient, ClientError};
pub use settings::ClientSettings;
