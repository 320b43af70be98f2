//! The `scaivault` command line: serve, migrate, token management. A thin layer over the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use scaivault::clock::{Clock, SystemClock};
use scaivault::config::Config;
use scaivault::store::{SqlStore, Store};
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::Arc;

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers
/// (headers, JSON, audit rows), and glibc's malloc was about a sixth of the server's CPU time
/// under read load (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "scaivault",
    version,
    about = "Self-hosted secrets management server"
)]
struct Cli {
    /// Config file (default: config/scaivault.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
enum KeysCommand {
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
enum ConfigCommand {
    /// Validate the configuration as `serve` would (no database opened) and print the effective
    /// settings, secrets redacted. Exits 2 when it is invalid.
    Check,
}

#[derive(Subcommand)]
enum TokenCommand {
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

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Command::Config {
        command: ConfigCommand::Check,
    } = &cli.command
    {
        std::process::exit(scaivault::cli_config::run(cli.config.as_deref()));
    }
    if let Err(e) = run(cli).await {
        eprintln!("scaivault: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let dev = matches!(cli.command, Command::Serve { dev: true });
    let config = Config::load(cli.config.as_deref(), dev)?;
    scaivault::telemetry::init(config.log_format);
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            let store = SqlStore::connect(&config.database_url, 2).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend().as_str());
            Ok(())
        }
        Command::Token { command } => scaivault::cli_tokens::run(&config, command.into()).await,
        Command::Keys { command } => {
            use scaivault::cli_keys::KeysCommand as K;
            let cmd = match command {
                KeysCommand::Rotate => K::Rotate,
                KeysCommand::Rewrap { batch_size } => K::Rewrap { batch_size },
            };
            scaivault::cli_keys::run(&config, cmd).await
        }
        Command::Config { .. } => Ok(()),
        Command::Health { url, ca } => {
            scaivault::cli_health::run(&config, url.as_deref(), ca.as_deref()).await?;
            println!("ready");
            Ok(())
        }
    }
}

impl From<TokenCommand> for scaivault::cli_tokens::TokenCommand {
    fn from(c: TokenCommand) -> Self {
        use scaivault::cli_tokens::TokenCommand as T;
        match c {
            TokenCommand::Create {
                name,
                scopes,
                ttl,
                path_prefix,
                tenant,
            } => T::Create {
                name,
                scopes,
                ttl,
                path_prefixes: path_prefix,
                tenant,
            },
            TokenCommand::List { tenant } => T::List { tenant },
            TokenCommand::Revoke { id, tenant } => T::Revoke { id, tenant },
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    // Checked before the store is opened: a bad certificate or key stops the start at once.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(scaivault::tls::Tls::load(cert, key)?),
        _ => None,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = scaivault::App::build(config, clock).await?;
    if let Some(t) = &app.initial_token {
        // Printed to stdout once, never through the logger.
        println!("\n  {}:\n\n    {}\n", t.reason, t.token.expose_secret());
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    match &tls {
        Some(tls) => tls.clone().reload_on_sighup()?,
        None => ignore_sighup()?,
    }
    tracing::info!(listen = %addr, backend = app.state.store.backend().as_str(), tls = tls.is_some(), "scaivault serving");
    app.serve_with(listener, tls, shutdown_signal()).await?;
    tracing::info!("scaivault stopped");
    Ok(())
}

/// Without TLS there is nothing to reload: SIGHUP (which process managers send on "reload")
/// is logged and ignored instead of ending the process, its default action.
#[cfg(unix)]
fn ignore_sighup() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: nothing to reload (no TLS configured)");
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn ignore_sighup() -> std::io::Result<()> {
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; draining requests");
}
