//! `Door`: the one extractor every authenticated handler takes. It carries the state, the
//! request's context and the authenticated caller, and opens the [`Guard`] through which the
//! handler asks for each permission (and audits each refusal).

use super::auth::authenticated;
use super::context::RequestContext;
use super::error::ApiError;
use super::guard::Guard;
use crate::domain::token::Caller;
use crate::server::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// An authenticated request's state, context and caller.
pub struct Door {
    pub st: AppState,
    pub ctx: RequestContext,
    pub caller: Caller,
}

impl Door {
    /// The state, the caller and the guard for this request.
    pub fn open(&self) -> (&AppState, &Caller, Guard<'_>) {
        (
            &self.st,
            &self.caller,
            Guard::new(&self.st, &self.ctx, &self.caller),
        )
    }
}

impl FromRequestParts<AppState> for Door {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (ctx, caller) = authenticated(parts, state).await?;
        Ok(Door {
            st: state.clone(),
            ctx,
            caller,
        })
    }
}
