//! The `scaivault` command line: the subcommands (clap) and their dispatch. `main.rs` only
//! parses and calls [`run`]; each subcommand lives in its own module. Two kinds of subcommand:
//! server administration works directly on the configured store (`serve`, `token`, `keys`, …);
//! the client (`login`, `secret`, `run`, `events`, `audit`) talks to a server over HTTP(S).

use crate::config::Config;
use crate::store::{SqlStore, Store};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub mod client_args;
mod client_login;
mod client_output;
mod client_run;
mod client_secret;
mod client_tail;
mod client_values;
pub mod config;
mod docs;
pub mod health;
mod help;
pub mod keys;
pub mod output;
mod serve;
mod store_access;
pub mod tokens;

pub use client_args::{AuditCommand, EventsCommand, LoginArgs, RunArgs, SecretCommand};
pub use help::parse;
pub(crate) use store_access::store_label;

/// The command line.
#[derive(Parser)]
#[command(
    name = "scaivault",
    version,
    about = "Self-hosted secrets management server"
)]
pub struct Cli {
    /// Server configuration file for the administration commands (default:
    /// config/scaivault.toml when present).
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
        /// Address to listen on, e.g. 0.0.0.0:8210 (beats SCAIVAULT_LISTEN and the file).
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<SocketAddr>,
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
    /// Log in to a server: checks the token (read from standard input) and saves address and
    /// token in a file only you can read.
    Login(LoginArgs),
    /// Read and write secrets.
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
    /// Run a command with secret values in its environment; exits with the command's status.
    Run(RunArgs),
    /// Follow the event feed.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Follow the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Write man pages (one per subcommand) into a folder.
    Man {
        /// Folder to write into (created if missing).
        #[arg(long, default_value = "man")]
        out: PathBuf,
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
    let result = match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => return config::run(cli.config.as_deref()),
        Command::Login(args) => client_login::run(args).await,
        Command::Secret { command } => client_secret::run(command).await,
        Command::Run(args) => return client_run::run(args).await,
        Command::Events { command } => client_tail::events(command).await,
        Command::Audit { command } => client_tail::audit(command).await,
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man_pages(&out),
        command => dispatch(cli.config, command).await,
    };
    match result {
        Ok(()) => 0,
        Err(e) if output::is_closed_pipe(&e) => 0,
        Err(e) => {
            eprintln!("scaivault: {e:#}");
            1
        }
    }
}

/// The server administration commands (they read the server's configuration).
async fn dispatch(file: Option<PathBuf>, command: Command) -> anyhow::Result<()> {
    let dev = matches!(command, Command::Serve { dev: true, .. });
    let mut config = Config::load(file.as_deref(), dev)?;
    crate::telemetry::init(config.log_format);
    match command {
        Command::Serve { listen, .. } => {
            if let Some(addr) = listen {
                config.listen = addr;
            }
            serve::run(config).await
        }
        Command::Migrate => {
            eprintln!(
                "scaivault: using store {}",
                store_label(&config.database_url)
            );
            let store = SqlStore::connect(&config.database_url, 2).await?;
            store.migrate().await?;
            output::line(format_args!(
                "migrations applied ({})",
                store.backend().as_str()
            ))?;
            Ok(())
        }
        Command::Token { command } => tokens::run(&config, command).await,
        Command::Keys { command } => keys::run(&config, command).await,
        Command::Health { url, ca } => {
            health::run(&config, url.as_deref(), ca.as_deref()).await?;
            output::line("ready")?;
            Ok(())
        }
        // Handled by `run` before the configuration is read.
        Command::Config { .. }
        | Command::Login(_)
        | Command::Secret { .. }
        | Command::Run(_)
        | Command::Events { .. }
        | Command::Audit { .. }
        | Command::Completions { .. }
        | Command::Man { .. } => Ok(()),
    }
}
