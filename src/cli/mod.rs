//! The `scaivault` command line: the subcommands (clap) and their dispatch. `main.rs` only
//! parses and calls [`run`]; each subcommand lives in its own module.

use crate::config::Config;
use crate::store::{SqlStore, Store};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod config;
pub mod health;
pub mod keys;
mod serve;
pub mod tokens;

/// The command line.
#[derive(Parser)]
#[command(
    name = "scaivault",
    version,
    about = "Self-hosted secrets management server"
)]
pub struct Cli {
    /// Config file (default: config/scaivault.toml when present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the API server.
    Serve {
        /// Embedded SQLite under ./data, generated master key, fresh root token printed.
        #[arg(long)]
        dev: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API tokens directly in the configured store.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Rotate the master key and re-wrap data keys, directly on the configured store.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check the configuration without starting.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Exit 0 only if the server answers ready on /v1/health/ready (container HEALTHCHECK).
    Health {
        /// Base URL (default: the configured listen address on loopback, https when TLS is set).
        #[arg(long)]
        url: Option<String>,
        /// PEM certificates to trust (default: any certificate on loopback, public roots elsewhere).
        #[arg(long)]
        ca: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new master key version (wrapped by SCAIVAULT_MASTER_KEY) and make it active.
    Rotate,
    /// Re-wrap every data key under the active master key version (online, resumable).
    Rewrap {
        /// Secret versions per batch.
        #[arg(long, default_value_t = 500)]
        batch_size: i64,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration as `serve` would (no database opened) and print the effective
    /// settings, secrets redacted. Exits 2 when it is invalid.
    Check,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, e.g. secrets:read,secrets:list
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Lifetime, e.g. 90d
        #[arg(long)]
        ttl: Option<String>,
        /// Restrict to paths starting with this prefix (repeatable).
        #[arg(long = "path-prefix")]
        path_prefix: Vec<String>,
        /// Tenant (default tnt_default).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List tokens of a tenant (never their values).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by id.
    Revoke {
        id: String,
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// Runs the command line; the process exit code.
pub async fn run(cli: Cli) -> i32 {
    if let Command::Config {
        command: ConfigCommand::Check,
    } = &cli.command
    {
        return config::run(cli.config.as_deref());
    }
    match dispatch(cli).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("scaivault: {e:#}");
            1
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let dev = matches!(cli.command, Command::Serve { dev: true });
    let config = Config::load(cli.config.as_deref(), dev)?;
    crate::telemetry::init(config.log_format);
    match cli.command {
        Command::Serve { .. } => serve::run(config).await,
        Command::Migrate => {
            let store = SqlStore::connect(&config.database_url, 2).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend().as_str());
            Ok(())
        }
        Command::Token { command } => tokens::run(&config, command).await,
        Command::Keys { command } => keys::run(&config, command).await,
        Command::Config { .. } => Ok(()),
        Command::Health { url, ca } => {
            health::run(&config, url.as_deref(), ca.as_deref()).await?;
            println!("ready");
            Ok(())
        }
    }
}
