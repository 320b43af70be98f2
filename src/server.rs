//! The server as a library: `App::build` opens the store, loads keys and bootstraps tokens;
//! `App::serve` runs the API on a given listener until the shutdown future resolves.

use crate::audit::writer::AuditWriter;
use crate::bus::EventBus;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::KeyRing;
use crate::delivery::DeliveryWorker;
use crate::store::{SqlStore, Store, StoreError};
use axum::Router;
use secrecy::SecretString;
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How long in-flight requests may still run after the shutdown signal.
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Everything a handler needs: one `Arc`, so the clones axum makes per request (the handler's
/// and each middleware's `State`) cost one atomic increment each, not one per field. Fields are
/// reached through `Deref` (`st.store`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// The narrow handle the secret and rotation services work through, at the clock's now.
    pub fn ops(&self) -> crate::domain::secret_ops::Ops<'_> {
        crate::domain::secret_ops::Ops {
            store: self.store.as_ref(),
            keys: &self.keys,
            now: self.clock.now(),
            bus: &self.bus,
            metrics: &self.metrics,
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What `AppState` shares.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub bus: Arc<EventBus>,
    /// Group-commit writer for read and denial audit rows.
    pub audit: AuditWriter,
    /// The webhook HTTP client (guarded resolver, no redirects, attempt timeout).
    pub http: reqwest::Client,
    /// This app's Prometheus registry and series.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Per-token request budgets (SPEC §8), empty unless configured.
    pub rate_limits: Arc<crate::http::rate_limit::RateLimiters>,
    /// Open collapse windows of refused requests (SPEC §2).
    pub refusals: Arc<crate::audit::refusals::RefusalLog>,
    /// Per-tenant limits of `GET /v1/audit/verify`.
    pub verify_limits: Arc<crate::audit::verify_limits::VerifyLimits>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    MasterKey(String),
}

/// A built server, ready to serve.
pub struct App {
    pub state: AppState,
    /// A token created at this start that must be shown to the operator once.
    pub initial_token: Option<InitialToken>,
}

/// A token minted at start (first-start admin or `--dev` root) to print once.
pub struct InitialToken {
    pub token: SecretString,
    pub reason: &'static str,
}

impl App {
    /// Connects, migrates, loads the master key and bootstraps tokens.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let mut store =
            SqlStore::connect(&config.database_url, config.database_max_connections).await?;
        store.migrate().await?;
        // Other replicas' events wake this one's long-polls (PostgreSQL NOTIFY).
        let bus = Arc::new(EventBus::new());
        let wake = bus.clone();
        store
            .start_read_cache(
                &config.database_url,
                config.read_cache_entries,
                Arc::new(move || wake.published(1, 0)),
            )
            .await;
        store
            .set_audit_durability(&config.database_url, config.audit_durability)
            .await?;
        let keys = crate::bootstrap::load_master_key(&config)?;
        crate::domain::master_keys::refresh(&store, &keys)
            .await
            .map_err(|e| match e {
                crate::domain::master_keys::KeyLoadError::Store(e) => StartError::Store(e),
                other => StartError::MasterKey(other.to_string()),
            })?;
        crate::bootstrap::check_probe(&store, &keys).await?;
        let initial_token = crate::bootstrap::ensure_tokens(&store, &config, clock.now()).await?;
        let http = crate::delivery::target::client(
            config.webhook_timeout.as_std(),
            config.webhook_targets(),
        );
        let cache_stats = store.read_cache().stats.clone();
        let store: Arc<dyn Store> = Arc::new(store);
        let audit = AuditWriter::start(store.clone(), config.audit_reads);
        let metrics = crate::metrics::Metrics::new(&audit.stats, &cache_stats);
        let rate_limits =
            crate::http::rate_limit::RateLimiters::new(config.rate_limits, clock.clone());
        Ok(Self {
            state: AppState::new(Shared {
                audit,
                metrics: Arc::new(metrics),
                rate_limits: Arc::new(rate_limits),
                refusals: Arc::new(crate::audit::refusals::RefusalLog::new()),
                verify_limits: Arc::new(crate::audit::verify_limits::VerifyLimits::new()),
                store,
                keys: Arc::new(keys),
                clock,
                config: Arc::new(config),
                bus,
                http,
            }),
            initial_token,
        })
    }

    /// The API router with all middleware.
    pub fn router(&self) -> Router {
        crate::http::router(self.state.clone())
    }

    /// Serves the API and runs the background workers until `shutdown` resolves; then stops
    /// accepting, drains in-flight requests, and lets the workers finish what they hold.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, None, shutdown).await
    }

    /// [`App::serve`], over HTTPS when `tls` is given (its certificate can be reloaded while
    /// serving). In-flight requests get at most [`DRAIN_LIMIT`] to finish after `shutdown`.
    pub async fn serve_with(
        self,
        listener: tokio::net::TcpListener,
        tls: Option<crate::tls::Tls>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Opened first: a mirror file that cannot be opened stops the start before anything runs.
        let mirror = match &self.state.config.audit_mirror {
            Some(target) => Some(Arc::new(
                crate::audit::mirror::AuditMirror::open(target.clone(), self.state.store.as_ref())
                    .await?,
            )),
            None => None,
        };
        let cancel = CancellationToken::new();
        let metrics_server = match self.state.config.metrics_listen {
            Some(addr) => {
                Some(crate::metrics::serve_public(self.state.clone(), addr, cancel.clone()).await?)
            }
            None => None,
        };
        let worker = tokio::spawn(DeliveryWorker::new(self.state.clone()).run(cancel.clone()));
        let sealer = tokio::spawn(crate::audit::sealer::run(
            self.state.clone(),
            cancel.clone(),
        ));
        let scheduler = tokio::spawn(crate::scheduler::run(self.state.clone(), cancel.clone()));
        let mirror = mirror.map(|m| {
            let task = tokio::spawn(crate::audit::mirror::run(
                self.state.clone(),
                m.clone(),
                cancel.clone(),
            ));
            (m, task)
        });
        let refusals = tokio::spawn(crate::audit::refusals::run(
            self.state.clone(),
            cancel.clone(),
        ));
        let app = self.router();
        let writer = self.state.audit.clone();
        let stop = cancel.clone();
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        let bus = self.state.bus.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.cancel();
            bus.stop();
            stopper.graceful_shutdown(Some(DRAIN_LIMIT));
        });
        let served = crate::http::listener::serve(
            listener,
            tls.map(|t| t.rustls()),
            self.state.config.header_read_timeout.as_std(),
            handle,
            app,
        )
        .await;
        cancel.cancel();
        let _ = worker.await;
        let _ = sealer.await;
        let _ = scheduler.await;
        let _ = refusals.await;
        // After the sealer's last pass: the mirror writes what it chained.
        if let Some((m, task)) = mirror {
            let _ = task.await;
            if let Err(e) = m.catch_up(self.state.store.as_ref()).await {
                tracing::warn!(error.cause = %e, "audit mirror's last pass failed");
            }
        }
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
        let (rows, batches, mean) = writer.summary();
        tracing::info!(
            audit.rows = rows,
            audit.batches = batches,
            audit.mean_batch_rows = mean,
            "audit writer totals"
        );
        served
    }
}
