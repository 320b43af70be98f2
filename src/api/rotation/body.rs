//! The part of a policy body that needs the store: every named webhook must exist and lie
//! inside the caller's rules (one outside them is as missing as an unknown one).

use crate::domain::access::Reach;
use crate::http::error::ApiError;
use crate::http::guard::Guard;
use crate::server::AppState;

/// Checks that each of `ids` is a webhook the caller can see.
pub(super) async fn check_webhooks(
    st: &AppState,
    g: &Guard<'_>,
    ids: Option<&[String]>,
) -> Result<(), ApiError> {
    for id in ids.unwrap_or_default() {
        let missing = || ApiError::not_found("webhook_not_found", format!("no webhook '{id}'"));
        let w = st
            .store
            .get_webhook(&g.caller.tenant_id, id)
            .await?
            .ok_or_else(missing)?;
        if !g.sees(Reach::filter(w.filter_path_prefix.as_deref())) {
            return Err(missing());
        }
    }
    Ok(())
}
