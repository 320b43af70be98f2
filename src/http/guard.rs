//! Per-request authorization and audit: checks scopes and path rules, and records denied or
//! failed attempts (success:false) before the error is returned.

use super::context::RequestContext;
use super::error::ApiError;
use crate::audit::writer::Recheck;
use crate::audit::{self, Actor};
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::server::AppState;
use crate::store::AuditRow;
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

    /// Requires `scope`, and (when `path` is given) that the token's path rules allow it.
    pub fn check(&self, scope: Scope, path: Option<&str>) -> Result<(), ApiError> {
        super::auth::require(self.caller, scope)?;
        self.check_path(path)
    }

    /// Requires any of `scopes` and the path rules.
    pub fn check_any(&self, scopes: &[Scope], path: Option<&str>) -> Result<(), ApiError> {
        super::auth::require_any(self.caller, scopes)?;
        self.check_path(path)
    }

    fn check_path(&self, path: Option<&str>) -> Result<(), ApiError> {
        match path {
            Some(p) if !self.caller.may_access(p) => Err(ApiError::access_denied(p)),
            _ => Ok(()),
        }
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

    /// Records a failed attempt, then hands back the error to return.
    pub async fn fail(&self, action: &str, path: Option<&str>, err: ApiError) -> ApiError {
        if err.audited {
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

/// Parses a query string into a map (last value wins; repeated keys are not used by the API).
pub fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Runs a handler body (a future of `Result`); a failure leaves a `success:false` audit row
/// for `$action` before the error is returned.
macro_rules! audited {
    ($g:expr, $action:expr, $body:expr) => {
        match $body.await {
            Ok(r) => Ok(r),
            Err(e) => Err($g.fail($action, None, e).await),
        }
    };
}
pub(crate) use audited;
