//! Per-token rate limits of SPEC §8, off unless `SCAIVAULT_RATE_LIMIT_READS|WRITES|ADMIN` set a
//! budget (requests per minute per token). Each category is a keyed GCRA limiter (`governor`,
//! equivalent to a token bucket of `limit` tokens refilled evenly over a minute) keyed by token
//! id, running on the app's injected clock so tests advance time instead of sleeping.
//!
//! The middleware picks the category from method and path and leaves a [`Slot`] on the request;
//! the auth extractor, once it knows the token, takes one token from the bucket (or fails with
//! 429 `rate_limited` + `Retry-After` before the handler runs, so a limited request has no
//! effect); on the way out the middleware adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds until the bucket is full again). Buckets live in this replica's
//! memory: with N replicas behind a balancer a token gets up to N times the budget.

use super::error::ApiError;
use crate::clock::Clock;
use crate::config::RateLimits;
use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde_json::json;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Every this many checks a limiter drops the buckets that are full again (idle tokens).
const SWEEP_EVERY: u64 = 1024;

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Reads,
    Writes,
    Admin,
}

impl Category {
    fn as_str(self) -> &'static str {
        match self {
            Category::Reads => "reads",
            Category::Writes => "writes",
            Category::Admin => "admin",
        }
    }
}

/// The category of a request, or None for endpoints that are never limited (health, version,
/// metrics, the OpenAPI document).
///
/// - admin: `/v1/auth/tokens…`, `/v1/auth/introspect`, `/v1/webhooks…`, and
///   `/v1/rotation/policies…` except `…/rotate` and `…/history` (any method);
/// - writes: PUT/POST/PATCH/DELETE under `/v1/secrets/` (not the batch read), forced
///   rotation (`POST /v1/rotation/policies/{id}/rotate`), and the Vault dialect's changes to
///   `/v1/{mount}/data|metadata/…` (`/v1/sys/mounts/…` changes are admin);
/// - reads: everything else (secret reads, versions, metadata, listing, batch read, audit
///   including export, events, whoami, rotation history and due list).
pub fn category(method: &Method, path: &str) -> Option<Category> {
    let never = ["/v1/health", "/v1/version", "/v1/metrics", "/v1/openapi"];
    if never.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    let is_write_method = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let under = |prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if let Some(rest) = path.strip_prefix("/v1/rotation/policies") {
        if rest.ends_with("/rotate") && is_write_method {
            return Some(Category::Writes);
        }
        if !rest.ends_with("/history") && (rest.is_empty() || rest.starts_with('/')) {
            return Some(Category::Admin);
        }
    }
    if under("/v1/auth/tokens") || under("/v1/auth/introspect") || under("/v1/webhooks") {
        return Some(Category::Admin);
    }
    // Subscription changes are writes; polling and acknowledging are a consumer's reads.
    if under("/v1/subscriptions") && is_write_method && !path.ends_with("/ack") {
        return Some(Category::Writes);
    }
    if path.starts_with("/v1/secrets/") && is_write_method && path != "/v1/secrets/batch" {
        return Some(Category::Writes);
    }
    // The Vault dialect: mounts are admin work, its data and metadata changes are writes
    // (`LIST` is a read).
    if under("/v1/sys/mounts") && is_write_method {
        return Some(Category::Admin);
    }
    if crate::api::vault::kv_part(path).is_some() && is_write_method && method.as_str() != "LIST" {
        return Some(Category::Writes);
    }
    Some(Category::Reads)
}

/// The app's clock as governor sees it: nanoseconds since the Unix epoch.
#[derive(Clone)]
struct AppClock(Arc<dyn Clock>);

impl governor::clock::Clock for AppClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let ns = self.0.now().timestamp_nanos_opt().unwrap_or(0);
        Nanos::from(u64::try_from(ns).unwrap_or(0))
    }
}

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, AppClock, StateInformationMiddleware>;

struct Bucket {
    limit: u32,
    limiter: Limiter,
    checks: AtomicU64,
}

impl Bucket {
    fn new(per_minute: u32, clock: &Arc<dyn Clock>) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        let limiter: Limiter = RateLimiter::new(
            Quota::per_minute(n),
            DefaultKeyedStateStore::default(),
            AppClock(clock.clone()),
        );
        Some(Self {
            limit: per_minute,
            limiter,
            checks: AtomicU64::new(0),
        })
    }

    /// Seconds one request's worth of budget takes to come back.
    fn refill_seconds(&self) -> f64 {
        60.0 / f64::from(self.limit)
    }

    fn take(&self, token_id: &str) -> Verdict {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let per = self.refill_seconds();
        match self.limiter.check_key(&token_id.to_string()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(self.limit);
                Verdict {
                    limit: self.limit,
                    remaining,
                    reset: (f64::from(self.limit - remaining) * per).ceil() as u64,
                    retry_after: None,
                }
            }
            Err(not_until) => {
                let now = governor::clock::Clock::now(self.limiter.clock());
                let wait = not_until.wait_time_from(now).as_secs_f64();
                Verdict {
                    limit: self.limit,
                    remaining: 0,
                    reset: (wait + f64::from(self.limit - 1) * per).ceil() as u64,
                    retry_after: Some((wait.ceil() as u64).max(1)),
                }
            }
        }
    }
}

/// The configured limiters of one app (a category without a budget has none).
pub struct RateLimiters {
    reads: Option<Bucket>,
    writes: Option<Bucket>,
    admin: Option<Bucket>,
    /// Requests without a valid token, keyed by source address.
    unauthenticated: Option<(Limiter, AtomicU64)>,
}

impl RateLimiters {
    pub fn new(limits: RateLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            reads: Bucket::new(limits.reads, &clock),
            writes: Bucket::new(limits.writes, &clock),
            admin: Bucket::new(limits.admin, &clock),
            unauthenticated: NonZeroU32::new(limits.unauthenticated).map(|per_second| {
                let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(9));
                let limiter: Limiter = RateLimiter::new(
                    Quota::per_second(per_second).allow_burst(burst),
                    DefaultKeyedStateStore::default(),
                    AppClock(clock.clone()),
                );
                (limiter, AtomicU64::new(0))
            }),
        }
    }

    /// Spends one unauthenticated request of `source`'s budget; `Some(retry_after_secs)` when
    /// it is used up (SPEC §2: requests without a valid token are limited per address).
    pub fn refuse_unauthenticated(&self, source: &str) -> Option<u64> {
        let (limiter, checks) = self.unauthenticated.as_ref()?;
        if checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        match limiter.check_key(&source.to_string()) {
            Ok(_) => None,
            Err(not_until) => {
                let now = governor::clock::Clock::now(limiter.clock());
                let wait = not_until.wait_time_from(now).as_secs_f64();
                Some((wait.ceil() as u64).max(1))
            }
        }
    }

    fn bucket(&self, c: Category) -> Option<&Bucket> {
        match c {
            Category::Reads => self.reads.as_ref(),
            Category::Writes => self.writes.as_ref(),
            Category::Admin => self.admin.as_ref(),
        }
    }
}

/// One request's decision, rendered as headers.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    limit: u32,
    remaining: u32,
    /// Seconds until the bucket is full again.
    reset: u64,
    /// Set when the request was refused.
    retry_after: Option<u64>,
}

/// Left on a request of a limited category; the auth extractor fills in the decision.
#[derive(Clone)]
pub struct Slot {
    category: Category,
    verdict: Arc<OnceLock<Verdict>>,
}

/// The middleware: marks requests of limited categories and adds the headers to their responses.
pub async fn limit(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(cat) = category(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    if st.rate_limits.bucket(cat).is_none() {
        return next.run(req).await;
    }
    let slot = Slot {
        category: cat,
        verdict: Arc::new(OnceLock::new()),
    };
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    if let Some(v) = slot.verdict.get() {
        let h = res.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(v.limit)),
            ("x-ratelimit-remaining", u64::from(v.remaining)),
            ("x-ratelimit-reset", v.reset),
        ] {
            h.insert(name, HeaderValue::from(value));
        }
    }
    res
}

/// Spends one request of `token_id`'s budget for this request's category (called by the auth
/// extractor once the token is known); 429 `rate_limited` when the bucket is empty.
pub fn check(st: &AppState, parts: &Parts, token_id: &str) -> Result<(), ApiError> {
    let Some(slot) = parts.extensions.get::<Slot>() else {
        return Ok(());
    };
    if let Some(v) = slot.verdict.get() {
        // Already decided for this request (a second extraction must not spend twice).
        return verdict_result(slot.category, v);
    }
    let Some(bucket) = st.rate_limits.bucket(slot.category) else {
        return Ok(());
    };
    let v = bucket.take(token_id);
    let _ = slot.verdict.set(v);
    verdict_result(slot.category, &v)
}

fn verdict_result(category: Category, v: &Verdict) -> Result<(), ApiError> {
    match v.retry_after {
        None => Ok(()),
        Some(secs) => {
            let msg = format!(
                "this token has used its {} {} requests per minute; retry in {secs}s",
                v.limit,
                category.as_str()
            );
            Err(ApiError::rate_limited(secs, msg).with_details(json!({
                "category": category.as_str(),
                "limit_per_minute": v.limit,
                "retry_after_seconds": secs,
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::{TimeZone, Utc};

    #[test]
    fn categories() {
        let c = |m: Method, p: &str| category(&m, p);
        assert_eq!(c(Method::GET, "/v1/health/ready"), None);
        assert_eq!(c(Method::GET, "/v1/metrics"), None);
        assert_eq!(c(Method::GET, "/v1/secrets/a/b"), Some(Category::Reads));
        assert_eq!(c(Method::GET, "/v1/secrets"), Some(Category::Reads));
        assert_eq!(c(Method::POST, "/v1/secrets/batch"), Some(Category::Reads));
        assert_eq!(c(Method::PUT, "/v1/secrets/a"), Some(Category::Writes));
        assert_eq!(c(Method::DELETE, "/v1/secrets/a"), Some(Category::Writes));
        assert_eq!(
            c(Method::POST, "/v1/rotation/policies/rot_x/rotate"),
            Some(Category::Writes)
        );
        assert_eq!(
            c(Method::GET, "/v1/rotation/policies/rot_x/history"),
            Some(Category::Reads)
        );
        assert_eq!(
            c(Method::POST, "/v1/rotation/policies"),
            Some(Category::Admin)
        );
        assert_eq!(c(Method::GET, "/v1/rotation/due"), Some(Category::Reads));
        assert_eq!(c(Method::POST, "/v1/auth/tokens"), Some(Category::Admin));
        assert_eq!(c(Method::GET, "/v1/auth/whoami"), Some(Category::Reads));
        assert_eq!(c(Method::PATCH, "/v1/webhooks/wh_1"), Some(Category::Admin));
        assert_eq!(c(Method::GET, "/v1/webhooksx"), Some(Category::Reads));
        assert_eq!(c(Method::POST, "/v1/audit/export"), Some(Category::Reads));
        assert_eq!(c(Method::GET, "/v1/secret/data/a"), Some(Category::Reads));
        assert_eq!(c(Method::POST, "/v1/secret/data/a"), Some(Category::Writes));
        assert_eq!(
            c(Method::DELETE, "/v1/kv/metadata/a"),
            Some(Category::Writes)
        );
        let list = Method::from_bytes(b"LIST").unwrap();
        assert_eq!(c(list, "/v1/secret/metadata/a"), Some(Category::Reads));
        assert_eq!(c(Method::POST, "/v1/sys/mounts/kv"), Some(Category::Admin));
    }

    #[test]
    fn bucket_refills_on_the_injected_clock() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let b = Bucket::new(3, &(Arc::new(clock.clone()) as Arc<dyn Clock>)).unwrap();
        let remaining: Vec<u32> = (0..3).map(|_| b.take("tok_a").remaining).collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        let refused = b.take("tok_a");
        assert_eq!(refused.retry_after, Some(20));
        assert_eq!(refused.reset, 60);
        assert_eq!(
            b.take("tok_b").remaining,
            2,
            "another token has its own bucket"
        );
        clock.advance(chrono::Duration::seconds(20));
        assert_eq!(b.take("tok_a").retry_after, None);
        clock.advance(chrono::Duration::seconds(60));
        let fresh = b.take("tok_a");
        assert_eq!((fresh.remaining, fresh.reset), (2, 20));
        assert!(Bucket::new(0, &(Arc::new(clock) as Arc<dyn Clock>)).is_none());
    }
}
