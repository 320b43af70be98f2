//! Per-request authorization and audit: checks scopes and path rules, and records denied or
//! failed attempts (success:false) before the error is returned.

use super::context::RequestContext;
use super::error::ApiError;
use crate::audit::writer::Recheck;
use crate::audit::{self, Actor};
use crate::domain::access::{self, Denial, Need, Reach};
use crate::domain::token::Caller;
use crate::server::AppState;
use crate::store::{AuditRow, SecretRow};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The authenticated request: state, context and caller together.
pub struct Guard<'a> {
    pub st: &'a AppState,
    pub ctx: &'a RequestContext,
    pub caller: &'a Caller,
}

impl<'a> Guard<'a> {
    pub fn new(st: &'a AppState, ctx: &'a RequestContext, caller: &'a Caller) -> Self {
        Self { st, ctx, caller }
    }

    /// An audit row for this request.
    pub fn row(
        &self,
        action: &str,
        path: Option<&str>,
        version: Option<i64>,
        status: u16,
        extra: Value,
    ) -> AuditRow {
        audit::row(
            self.ctx,
            Actor::from(self.caller),
            self.st.clock.now(),
            action,
            path,
            version,
            status,
            extra,
        )
    }

    /// The one authorization point of a request (`domain::access::decide`): on a refusal the
    /// row is audited (collapsed when repeated) and the 403 returned, already audited.
    /// Call it before opening a write transaction: on SQLite the refusal's audit row waits for
    /// the write turn that transaction holds (use [`Guard::judge`] inside one).
    pub async fn allow(
        &self,
        action: &str,
        need: impl Into<Need>,
        reach: Reach<'_>,
    ) -> Result<(), ApiError> {
        match access::decide(self.caller, need.into(), reach) {
            Ok(()) => Ok(()),
            Err(Denial::Scope(s)) => Err(self
                .refuse(action, reach.path(), ApiError::insufficient_scope(&s))
                .await),
            Err(Denial::Path(p)) => Err(self
                .refuse(action, Some(&p), ApiError::access_denied(&p))
                .await),
            Err(Denial::Tenant) => Err(self
                .refuse(action, None, ApiError::tenant_wide_only())
                .await),
        }
    }

    /// [`Guard::allow`] for an object that exists: one outside the caller's path rules
    /// answers `hidden()` (the same 404 as a missing one), so its existence is not revealed.
    pub async fn allow_existing(
        &self,
        action: &str,
        need: impl Into<Need>,
        reach: Reach<'_>,
        hidden: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        match access::decide(self.caller, need.into(), reach) {
            Ok(()) => Ok(()),
            Err(Denial::Scope(s)) => Err(self
                .refuse(action, None, ApiError::insufficient_scope(&s))
                .await),
            Err(Denial::Path(_) | Denial::Tenant) => Err(self.refuse(action, None, hidden()).await),
        }
    }

    /// The decision without an audit row, for a caller that writes the row of the outcome
    /// itself (the batch read writes one row per path, refused ones included).
    pub fn judge(&self, need: impl Into<Need>, reach: Reach<'_>) -> Result<(), ApiError> {
        access::decide(self.caller, need.into(), reach).map_err(denial_error)
    }

    /// True when the caller's path rules reach an object of this reach (for filtering lists;
    /// nothing is audited).
    pub fn sees(&self, reach: Reach<'_>) -> bool {
        access::within(self.caller, reach).is_ok()
    }

    /// Audits a refusal (collapsed with identical ones, `audit::refusals`) and returns `err`
    /// marked as audited; fails closed with 503 if the row cannot be written.
    pub async fn refuse(&self, action: &str, path: Option<&str>, mut err: ApiError) -> ApiError {
        let row = self.row(
            action,
            path,
            None,
            err.status.as_u16(),
            json!({ "error": err.code }),
        );
        if let Err(e) = crate::audit::refusals::record(self.st, row).await {
            return e.into();
        }
        err.audited = true;
        err
    }

    /// Writes a row now (reads and other non-transactional actions); fails closed with 503.
    pub async fn record(&self, rows: &[AuditRow]) -> Result<(), ApiError> {
        let recheck = self.caller.recheck_token.then(|| Recheck {
            token_id: self.caller.token_id.clone(),
            request_path: self.ctx.path.to_string(),
        });
        self.st
            .audit
            .record_checked(rows.to_vec(), recheck)
            .await
            .map_err(ApiError::from)
    }

    /// Writes a read's audit rows. When it read secrets flagged `alert_on_read`
    /// (`accessed`: each with the version read), the rows and a `secret.accessed` event per
    /// secret commit together in one transaction instead of through the audit writer, and
    /// are written even with read auditing turned off (SPEC §11).
    pub async fn record_read(
        &self,
        rows: &[AuditRow],
        accessed: &[(&SecretRow, i64)],
    ) -> Result<(), ApiError> {
        if accessed.is_empty() {
            return self.record(rows).await;
        }
        let recheck = self
            .caller
            .recheck_token
            .then_some(self.caller.token_id.as_str());
        match self
            .st
            .ops()
            .record_accessed(rows, accessed, recheck)
            .await?
        {
            true => Ok(()),
            false => Err(ApiError::token_revoked()),
        }
    }

    /// Records a failed attempt, then hands back the error to return.
    pub async fn fail(&self, action: &str, path: Option<&str>, err: ApiError) -> ApiError {
        // A store that just failed this request (unreachable, pool exhausted) would fail its
        // row too, after making the client wait out the pool's acquire timeout a second time:
        // during a PostgreSQL outage every 503 took twice as long. Nothing changed; no row.
        if err.audited || err.code == "service_unavailable" {
            return err;
        }
        let row = self.row(
            action,
            path,
            None,
            err.status.as_u16(),
            json!({ "error": err.code }),
        );
        match self.record(&[row]).await {
            Ok(()) => err,
            Err(audit_err) => audit_err,
        }
    }
}

/// The 403 a refusal answers (not audited: for refusals found inside a service's
/// transaction, whose handler audits the failure).
pub fn denial_error(d: Denial) -> ApiError {
    match d {
        Denial::Scope(s) => ApiError::insufficient_scope(&s),
        Denial::Path(p) => ApiError::access_denied(&p),
        Denial::Tenant => ApiError::tenant_wide_only(),
    }
}

/// Parses a query string into a map (last value wins; repeated keys are not used by the API).
pub fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Runs a handler body (a future of `Result`); a failure leaves a `success:false` audit row
/// for `$action` before the error is returned.
macro_rules! audited {
    ($g:expr, $action:expr, $body:expr) => {
        audited!($g, $action, None, $body)
    };
    ($g:expr, $action:expr, $path:expr, $body:expr) => {
        match $body.await {
            Ok(r) => Ok(r),
            Err(e) => Err($g.fail($action, $path, e).await),
        }
    };
}
pub(crate) use audited;
