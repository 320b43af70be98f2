//! Read alerts (SPEC §11): a read of a secret flagged `alert_on_read` commits its audit rows
//! together with one `secret.accessed` event per flagged secret, in one transaction, so an alert
//! exists exactly when the read's audit row does. Reads of unflagged secrets never come here
//! (their rows go through the audit writer's group commit).

use crate::domain::events::{self as ev};
use crate::store::{AuditRow, SecretRow};

use super::*;

impl Ops<'_> {
    /// Commits `rows` and a `secret.accessed` event for each `(secret, version)` read, each
    /// attributed like the audit row of its path. `recheck_token`: a token the read cache
    /// served, checked again in this transaction as the audit writer does; when it was revoked
    /// meanwhile nothing is written and the answer is `Ok(false)`.
    pub async fn record_accessed(
        &self,
        rows: &[AuditRow],
        accessed: &[(&SecretRow, i64)],
        recheck_token: Option<&str>,
    ) -> Result<bool, StoreError> {
        let Some(first) = rows.first() else {
            return Ok(true);
        };
        let mut tx = self.store.begin().await?;
        if let Some(token) = recheck_token {
            if !tx.invalid_tokens(&[token.to_string()]).await?.is_empty() {
                return Ok(false);
            }
        }
        for row in rows {
            tx.insert_audit(row).await?;
        }
        let events: Vec<_> = accessed
            .iter()
            .map(|(secret, version)| {
                let audit = rows
                    .iter()
                    .find(|a| a.secret_path.as_deref() == Some(secret.path.as_str()))
                    .unwrap_or(first);
                let data = serde_json::json!({
                    "version": version,
                    "accessed_by": audit.identity_id,
                    "source_ip": audit.source_ip,
                    "user_agent": audit.user_agent,
                });
                secret_event(secret, ev::SECRET_ACCESSED, data, audit)
            })
            .collect();
        let (stored, deliveries) = crate::domain::outbox::emit(&mut *tx, &events, self.now).await?;
        tx.commit().await?;
        self.bus.published(stored.len(), deliveries);
        Ok(true)
    }
}
