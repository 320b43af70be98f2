//! Prometheus metrics of SPEC §8: one registry per `App` (so apps sharing a process, as the
//! tests do, never see each other's counts), typed handles the rest of the code increments,
//! and the text exposition (OpenMetrics) rendered at scrape time.
//!
//! Labels are small fixed sets: `path_category` is derived from the route family, never the
//! raw path (secret paths are sensitive and unbounded), and no token or identity is a label.

mod listener;
mod scrape;

pub use listener::serve_public;
pub use scrape::render;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Rotation outcomes counted by `scaivault_secret_rotations_total{status}` (history statuses).
pub mod rotation_status {
    /// A new version completed a pending or overdue rotation.
    pub const SUCCESS: &str = "success";
    /// Auto-generation failed, or every delivery of the due event exhausted its retries.
    pub const FAILED: &str = "failed";
    /// A pending rotation passed its grace period.
    pub const OVERDUE: &str = "overdue";
    pub const ALL: [&str; 3] = [SUCCESS, FAILED, OVERDUE];
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    path_category: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    path_category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

type SecondsGauge = Gauge<f64, AtomicU64>;

fn duration_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The audit writer's batch-size histogram (rows per group commit).
pub fn audit_batch_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0])
}

/// The audit writer's commit-time histogram (seconds from handing a batch to the store until
/// it committed): fine buckets, since a group commit normally takes well under a millisecond.
pub fn audit_commit_histogram() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
    ])
}

/// One app's metrics: the registry and a handle per series.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    secret_reads: Counter,
    secret_writes: Counter,
    rotations: Family<StatusLabels, Counter>,
    rotation_queue_depth: Gauge,
    webhook_queue_depth: Gauge,
    subscription_backlog: Gauge,
    webhook_oldest_pending: SecondsGauge,
    scheduler_lag: SecondsGauge,
    /// One scrape at a time: gauges are set from the store, then encoded.
    scrape_lock: tokio::sync::Mutex<()>,
}

impl Metrics {
    /// Registers every series; `audit` holds the audit writer's own histograms.
    pub fn new(
        audit: &crate::audit::writer::WriterStats,
        read_cache: &crate::store::CacheStats,
    ) -> Self {
        let mut registry = Registry::default();
        registry.register(
            "scaivault_read_cache_hits",
            "Token and secret lookups of secret reads answered from the in-process read cache",
            read_cache.hits.clone(),
        );
        registry.register(
            "scaivault_read_cache_misses",
            "Token and secret lookups of secret reads that went to the database",
            read_cache.misses.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "scaivault_requests",
            "HTTP requests answered, by method, route family and status",
            requests.clone(),
        );
        let request_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register_with_unit(
            "scaivault_request_duration",
            "Time to answer an HTTP request, by method and route family",
            Unit::Seconds,
            request_duration.clone(),
        );
        let secret_reads = Counter::default();
        registry.register(
            "scaivault_secret_reads",
            "Secret values returned to clients (single reads and each path of a batch read)",
            secret_reads.clone(),
        );
        let secret_writes = Counter::default();
        registry.register(
            "scaivault_secret_writes",
            "Committed secret changes: new versions (API and auto-generated), metadata patches, deletes, restores",
            secret_writes.clone(),
        );
        let rotations = Family::<StatusLabels, Counter>::default();
        for status in rotation_status::ALL {
            // Present from the start, so a rate over them never misses the first event.
            let _ = rotations.get_or_create(&StatusLabels { status });
        }
        registry.register(
            "scaivault_secret_rotations",
            "Rotation outcomes by status (success, failed, overdue)",
            rotations.clone(),
        );
        let rotation_queue_depth = Gauge::default();
        registry.register(
            "scaivault_rotation_queue_depth",
            "Secrets due for rotation now: rotations pending or overdue, or past their rotation time",
            rotation_queue_depth.clone(),
        );
        let webhook_queue_depth = Gauge::default();
        registry.register(
            "scaivault_webhook_queue_depth",
            "Webhook deliveries pending (first attempt or retry)",
            webhook_queue_depth.clone(),
        );
        let subscription_backlog = Gauge::default();
        registry.register(
            "scaivault_subscription_backlog",
            "Events routed to polling subscriptions and not yet acknowledged",
            subscription_backlog.clone(),
        );
        let webhook_oldest_pending = SecondsGauge::default();
        registry.register_with_unit(
            "scaivault_webhook_oldest_pending",
            "Age of the oldest pending webhook delivery (0 when none)",
            Unit::Seconds,
            webhook_oldest_pending.clone(),
        );
        let scheduler_lag = SecondsGauge::default();
        registry.register_with_unit(
            "scaivault_scheduler_lag",
            "How late the oldest due scheduler item (rotation step or expiry notice) is (0 when none is due)",
            Unit::Seconds,
            scheduler_lag.clone(),
        );
        registry.register(
            "scaivault_audit_batch_size",
            "Audit rows written per group commit of the audit writer",
            audit.batch_size.clone(),
        );
        registry.register_with_unit(
            "scaivault_audit_commit",
            "Time the audit writer's group commits took, from handing the batch to the store until it committed",
            Unit::Seconds,
            audit.commit_seconds.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            secret_reads,
            secret_writes,
            rotations,
            rotation_queue_depth,
            webhook_queue_depth,
            subscription_backlog,
            webhook_oldest_pending,
            scheduler_lag,
            scrape_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Counts one answered request and its duration.
    pub fn observe_request(
        &self,
        method: &'static str,
        path_category: &'static str,
        status: u16,
        seconds: f64,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                path_category,
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&RouteLabels {
                method,
                path_category,
            })
            .observe(seconds);
    }

    /// Counts `n` secret values returned to a client.
    pub fn secret_reads(&self, n: u64) {
        self.secret_reads.inc_by(n);
    }

    /// Counts one committed secret change.
    pub fn secret_write(&self) {
        self.secret_writes.inc();
    }

    /// Counts one rotation outcome (see [`rotation_status`]).
    pub fn rotation(&self, status: &'static str) {
        self.rotations.get_or_create(&StatusLabels { status }).inc();
    }
}
