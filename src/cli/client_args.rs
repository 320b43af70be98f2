//! The clap types of the client subcommands (they talk to a server over HTTP(S), never to the
//! database): `login`, `secret …`, `run`, `events tail`, `audit tail`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Output switches every client command takes.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct OutputArgs {
    /// Print JSON (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Server address (default: SCAIVAULT_ADDR, else http://127.0.0.1:8210).
    #[arg(long)]
    pub addr: Option<String>,
    /// PEM certificates to trust for an https:// address (saved with the login).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Read the token from this file instead of standard input ("-").
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub token_file: String,
}

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Print a secret's data; `PATH#key` prints that one value raw (for scripts).
    Get {
        /// `PATH` or `PATH#key`.
        target: String,
        /// Read this version instead of the current one.
        #[arg(long)]
        version: Option<i64>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Write a new version: `key=value`, `key=@file` (the file's bytes), `key=-` (standard
    /// input), so values need not sit in shell history.
    Put {
        path: String,
        /// `key=value`, `key=@file` or `key=-` (at most one `-`).
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
        /// secret_type: json, kv, certificate, ssh_key, api_key.
        #[arg(long = "type")]
        secret_type: Option<String>,
        /// Write only if the current version is N (0: only if the secret does not exist).
        #[arg(long)]
        cas: Option<i64>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List secrets (metadata only, never values).
    List {
        /// Only paths under this prefix.
        prefix: Option<String>,
        /// Only secrets with this tag.
        #[arg(long)]
        tag: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List a secret's versions, newest first.
    Versions {
        path: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Soft-delete a secret (restorable for 30 days), or destroy it with --permanent.
    Delete {
        path: String,
        #[arg(long)]
        permanent: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Undo a soft delete.
    Restore {
        path: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Force a rotation through the secret's rotation policy.
    Rotate {
        path: String,
        /// The policy (default: the one attached to the secret).
        #[arg(long)]
        policy: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// `NAME=PATH#key`: put that value into the command's environment as NAME (repeatable).
    #[arg(long = "env", value_name = "NAME=PATH#KEY", required = true)]
    pub env: Vec<String>,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Print events oldest first and follow new ones (the `GET /v1/events` feed).
    Tail(TailArgs),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Print audit rows oldest first and follow new ones.
    Tail(TailArgs),
}

#[derive(Args, Debug)]
pub struct TailArgs {
    /// Start after this id (`evt_…` / `log_…`, the last one you saw); default: from the start
    /// (events) or from now (audit).
    #[arg(long)]
    pub after: Option<String>,
    /// Print what is there and exit instead of following.
    #[arg(long)]
    pub once: bool,
    /// Only these types (events) or actions (audit), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only rows of paths under this prefix.
    #[arg(long)]
    pub path_prefix: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}
