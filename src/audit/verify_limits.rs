//! Per-tenant limits of `GET /v1/audit/verify`, in this replica's memory and on the app's clock:
//! one verification at a time per tenant, at most [`RUNS_PER_MINUTE`] runs per sliding minute,
//! of which at most [`FULL_RUNS_PER_MINUTE`] may start anywhere but the last checkpoint (a run
//! from the chain's start or from a given `from_seq`, which may read the whole chain). A
//! refusal says how many seconds until the request would be admitted (`Retry-After`).

use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Verifications per tenant per minute, of any kind.
pub const RUNS_PER_MINUTE: usize = 20;
/// Verifications per tenant per minute that do not start at the checkpoint.
pub const FULL_RUNS_PER_MINUTE: usize = 2;
/// Above this many tracked tenants, idle ones are dropped on the next admission.
const PRUNE_ABOVE: usize = 256;

fn window() -> Duration {
    Duration::seconds(60)
}

/// Why a verification was refused, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}; retry in {retry_after_secs}s")]
pub struct Refused {
    pub retry_after_secs: u64,
    pub reason: String,
}

#[derive(Debug, Default)]
struct Tenant {
    runs: VecDeque<DateTime<Utc>>,
    full_runs: VecDeque<DateTime<Utc>>,
    running: bool,
}

type Tenants = Arc<Mutex<HashMap<String, Tenant>>>;

/// The limits of one app.
#[derive(Debug, Default)]
pub struct VerifyLimits {
    tenants: Tenants,
}

/// An admitted verification; the tenant's next one may start once this is dropped.
#[derive(Debug)]
pub struct Permit {
    tenants: Tenants,
    tenant: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.tenants).get_mut(&self.tenant) {
            t.running = false;
        }
    }
}

fn lock(t: &Tenants) -> MutexGuard<'_, HashMap<String, Tenant>> {
    // Plain bookkeeping: a poisoned lock still holds consistent queues.
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drops the runs outside the minute before `now` (and any after it: the clock went back).
fn expire(runs: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>) {
    runs.retain(|t| *t > now - window() && *t <= now);
}

/// Seconds until the oldest run in `runs` leaves the window.
fn retry_after(runs: &VecDeque<DateTime<Utc>>, now: DateTime<Utc>) -> u64 {
    let wait = runs
        .front()
        .map_or(Duration::zero(), |t| *t + window() - now);
    let ms = wait.num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

impl VerifyLimits {
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits one verification of `tenant` at `now`; `full` when it does not start at the
    /// checkpoint.
    pub fn admit(&self, tenant: &str, full: bool, now: DateTime<Utc>) -> Result<Permit, Refused> {
        let mut tenants = lock(&self.tenants);
        if tenants.len() > PRUNE_ABOVE {
            tenants.retain(|_, t| t.running || t.runs.back().is_some_and(|r| *r > now - window()));
        }
        let t = tenants.entry(tenant.to_string()).or_default();
        expire(&mut t.runs, now);
        expire(&mut t.full_runs, now);
        if t.running {
            return Err(Refused {
                retry_after_secs: 1,
                reason: "a verification of the audit chain is already running for this tenant"
                    .into(),
            });
        }
        if t.runs.len() >= RUNS_PER_MINUTE {
            return Err(Refused {
                retry_after_secs: retry_after(&t.runs, now),
                reason: format!(
                    "at most {RUNS_PER_MINUTE} verifications of the audit chain per minute per tenant"
                ),
            });
        }
        if full && t.full_runs.len() >= FULL_RUNS_PER_MINUTE {
            return Err(Refused {
                retry_after_secs: retry_after(&t.full_runs, now),
                reason: format!(
                    "at most {FULL_RUNS_PER_MINUTE} verifications per minute per tenant may \
                     start before the checkpoint (full=true, from_seq, or no checkpoint yet)"
                ),
            });
        }
        t.runs.push_back(now);
        if full {
            t.full_runs.push_back(now);
        }
        t.running = true;
        Ok(Permit {
            tenants: self.tenants.clone(),
            tenant: tenant.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn one_run_at_a_time_per_tenant() {
        let l = VerifyLimits::new();
        let p = l.admit("a", false, t0()).unwrap();
        let r = l.admit("a", false, t0()).unwrap_err();
        assert_eq!(r.retry_after_secs, 1);
        assert!(
            l.admit("b", true, t0()).is_ok(),
            "another tenant is not held up"
        );
        drop(p);
        assert!(l.admit("a", false, t0()).is_ok());
    }

    #[test]
    fn full_runs_have_a_smaller_budget_per_sliding_minute() {
        let l = VerifyLimits::new();
        for s in 0..FULL_RUNS_PER_MINUTE as i64 {
            assert!(l.admit("a", true, t0() + Duration::seconds(s * 10)).is_ok());
        }
        let now = t0() + Duration::seconds(15);
        let r = l.admit("a", true, now).unwrap_err();
        assert_eq!(r.retry_after_secs, 45, "{r}");
        assert!(
            l.admit("a", false, now).is_ok(),
            "an incremental run still goes"
        );
        assert!(l.admit("a", true, t0() + Duration::seconds(60)).is_ok());
    }

    #[test]
    fn every_run_counts_toward_the_minute() {
        let l = VerifyLimits::new();
        for _ in 0..RUNS_PER_MINUTE {
            assert!(l.admit("a", false, t0()).is_ok());
        }
        let r = l
            .admit("a", false, t0() + Duration::milliseconds(500))
            .unwrap_err();
        assert_eq!(r.retry_after_secs, 60);
        assert!(l.admit("a", false, t0() + Duration::seconds(60)).is_ok());
    }
}
