//! The delivery worker: claims due deliveries with a lease, sends each in its own task (bounded
//! concurrency, so a slow endpoint never holds up others), then records the outcome in a new
//! transaction. No transaction or lock is held across a network call.

use super::attempt::{send, AttemptResult};
use crate::clock::to_micros;
use crate::domain::events::envelope;
use crate::server::AppState;
use crate::store::{
    AttemptRecord, AuditRow, DeliveryRow, DeliveryStatus, EventRow, WebhookHealth, WebhookRow,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Identity recorded on delivery audit rows.
pub const WORKER_IDENTITY: &str = "system:delivery-worker";

/// Sends due deliveries until cancelled.
pub struct DeliveryWorker {
    st: AppState,
    /// Group commit of outcomes: whatever finished meanwhile is recorded in one transaction
    /// of a few statements (on SQLite, one writer, it also saves an fsync per delivery; on
    /// PostgreSQL it saves the statements and commit of one transaction per delivery).
    recorder: super::recorder::OutcomeRecorder,
    permits: Arc<Semaphore>,
    max_in_flight: usize,
    /// Attempts in flight per webhook: one endpoint may use at most `per_webhook` slots, so a
    /// slow or dead endpoint never takes the slots other endpoints' deliveries need.
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    per_webhook: usize,
}

impl DeliveryWorker {
    pub fn new(st: AppState) -> Self {
        let max = st.config.webhook_concurrency.max(1);
        Self {
            recorder: super::recorder::OutcomeRecorder::start(st.store.clone()),
            st,
            permits: Arc::new(Semaphore::new(max)),
            max_in_flight: max,
            in_flight: Arc::default(),
            per_webhook: (max / 2).max(1),
        }
    }

    /// Loops: claim what is due, send it, sleep until woken or the poll interval passes.
    pub async fn run(self, cancel: CancellationToken) {
        let poll = self.st.config.worker_poll_interval;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            let claimed = match self.step().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error.cause = %e, "delivery worker could not claim work");
                    0
                }
            };
            if claimed == 0 {
                tokio::select! {
                    _ = self.st.bus.deliveries.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = cancel.cancelled() => break,
                }
            }
        }
        // Let in-flight attempts finish (bounded by the attempt timeout) and record them.
        let drain = self.st.config.webhook_timeout.as_std() + Duration::from_secs(5);
        let all = u32::try_from(self.max_in_flight).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(drain, self.permits.acquire_many(all)).await;
    }

    /// Claims as many due deliveries as there are free slots and starts sending them.
    /// Returns how many were claimed.
    pub async fn step(&self) -> Result<usize, crate::store::StoreError> {
        let free = self.permits.available_permits();
        // Claim in batches: with work in flight, wait until a few slots are free rather than
        // running one claim query per finished attempt.
        if free < self.max_in_flight && free < (self.max_in_flight / 8).max(1) {
            return Ok(0);
        }
        if free == 0 {
            // Wait for a slot instead of spinning.
            if let Ok(p) = self.permits.clone().acquire_owned().await {
                drop(p);
            }
            return Ok(1);
        }
        let now = self.st.clock.now();
        // Long enough for one attempt plus recording it; a crashed claimer's work is retried after it.
        let lease = self.st.config.webhook_timeout.as_chrono() + chrono::Duration::seconds(5);
        let saturated: Vec<String> = lock(&self.in_flight)
            .iter()
            .filter(|(_, n)| **n >= self.per_webhook)
            .map(|(w, _)| w.clone())
            .collect();
        let claimed = self
            .st
            .store
            .claim_due_deliveries(
                to_micros(now),
                to_micros(now + lease),
                free as i64,
                &saturated,
            )
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let n = claimed.len();
        // Admit up to each webhook's share; give the rest back for a later pass.
        let (claimed, over): (Vec<DeliveryRow>, Vec<DeliveryRow>) = {
            let mut counts = lock(&self.in_flight);
            claimed.into_iter().partition(|d| {
                let c = counts.entry(d.webhook_id.clone()).or_insert(0);
                if *c < self.per_webhook {
                    *c += 1;
                    true
                } else {
                    false
                }
            })
        };
        let over_ids: Vec<String> = over.into_iter().map(|d| d.id).collect();
        self.st.store.release_deliveries(&over_ids).await?;
        let event_ids: Vec<String> = claimed.iter().map(|d| d.event_id.clone()).collect();
        let webhook_ids: Vec<String> = claimed.iter().map(|d| d.webhook_id.clone()).collect();
        let events: HashMap<String, Arc<EventRow>> = self
            .st
            .store
            .events_by_ids(&event_ids)
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), Arc::new(e)))
            .collect();
        let webhooks: HashMap<String, Arc<WebhookRow>> = self
            .st
            .store
            .webhooks_by_ids(&webhook_ids)
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), Arc::new(w)))
            .collect();
        for d in claimed {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                break;
            };
            let st = self.st.clone();
            let recorder = self.recorder.clone();
            let in_flight = self.in_flight.clone();
            let event = events.get(&d.event_id).cloned();
            let webhook = webhooks.get(&d.webhook_id).cloned();
            tokio::spawn(async move {
                let webhook_id = d.webhook_id.clone();
                deliver(&st, &recorder, d, event, webhook).await;
                let mut counts = lock(&in_flight);
                if let Some(c) = counts.get_mut(&webhook_id) {
                    *c = c.saturating_sub(1);
                    if *c == 0 {
                        counts.remove(&webhook_id);
                    }
                }
                drop(counts);
                drop(permit);
                // A slot (and perhaps a webhook's share) came free: look for more work now.
                st.bus.deliveries.notify_one();
            });
        }
        Ok(n)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One claimed delivery: send, then record.
async fn deliver(
    st: &AppState,
    recorder: &super::recorder::OutcomeRecorder,
    d: DeliveryRow,
    event: Option<Arc<EventRow>>,
    webhook: Option<Arc<WebhookRow>>,
) {
    let now = st.clock.now();
    let withheld = match (&event, &webhook) {
        (Some(e), Some(w)) => match withheld(st, w, e, now).await {
            Ok(w) => w,
            Err(err) => {
                // Not known now: the lease expires and a later pass decides (at-least-once).
                tracing::warn!(delivery_id = %d.id, error.cause = %err, "could not check a subscription's owner");
                return;
            }
        },
        _ => None,
    };
    let result = match (&event, &webhook, withheld) {
        (_, _, Some(reason)) => not_sent(reason),
        (Some(e), Some(w), None) if w.enabled => {
            let body = envelope(e).to_string();
            send(st, w, e, body.as_bytes(), &d.id, now).await
        }
        _ => not_sent("the webhook or event no longer exists or is disabled"),
    };
    let final_failure = withheld.is_some() || webhook.as_ref().is_none_or(|w| !w.enabled);
    let mut record = outcome(st, &d, &result, st.clock.now(), final_failure);
    if withheld.is_some() {
        // Nothing was wrong with the endpoint: its health stays as it was.
        record.webhook_health = None;
    }
    let audit = delivery_audit(&d, event.as_deref(), &result, &record, st.clock.now());
    let recorded = recorder.record(record.clone(), audit).await;
    match recorded {
        Ok(_) => {
            tracing::info!(
                delivery_id = %d.id,
                webhook_id = %d.webhook_id,
                event_id = %d.event_id,
                attempt = record.attempts,
                status = %record.status,
                response_code = result.response_code,
                duration_ms = result.duration_ms,
                "webhook delivery attempt"
            );
            if record.status == DeliveryStatus::Pending {
                st.bus.deliveries.notify_one();
            }
            if record.status == DeliveryStatus::Failed
                && d.event_type == crate::domain::events::ROTATION_DUE
            {
                if let Err(e) = crate::domain::rotation_outcome::on_due_delivery_failed(
                    &st.ops(),
                    &d.event_id,
                    record.attempts,
                )
                .await
                {
                    tracing::warn!(error.cause = %e, "could not record a failed rotation");
                }
            }
        }
        // The lease expires and another pass (or replica) retries: at-least-once.
        Err(e) => {
            tracing::warn!(delivery_id = %d.id, error.cause = %e, "could not record a delivery attempt")
        }
    }
}

/// An attempt that was not made, failing for `reason`.
fn not_sent(reason: &str) -> AttemptResult {
    AttemptResult {
        success: false,
        response_code: None,
        duration_ms: 0,
        error: Some(reason.into()),
        retry_after: None,
        gone: false,
    }
}

/// Why an event must not go to a subscription's webhook now (SPEC §10: routed only for
/// paths the owner token may read at delivery time), or None for every other webhook.
async fn withheld(
    st: &AppState,
    w: &WebhookRow,
    e: &EventRow,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>, crate::store::StoreError> {
    if w.subscription_id.is_none() {
        return Ok(None);
    }
    let Some(sub) = st.store.subscription_of_webhook(&w.id).await? else {
        return Ok(Some("the subscription no longer exists"));
    };
    let readable = e
        .path
        .as_deref()
        .is_some_and(|p| crate::domain::subscriptions::owner_may_read(&sub, p, to_micros(now)));
    Ok((!readable).then_some("the subscription's owner may not read this path any more"))
}

/// Decides the delivery's next state from one attempt (SPEC §5 retry rules).
pub fn outcome(
    st: &AppState,
    d: &DeliveryRow,
    r: &AttemptResult,
    now: DateTime<Utc>,
    final_failure: bool,
) -> AttemptRecord {
    let attempts = d.attempts + 1;
    let schedule = &st.config.webhook_retry_schedule;
    let mut rec = AttemptRecord {
        delivery_id: d.id.clone(),
        webhook_id: d.webhook_id.clone(),
        status: DeliveryStatus::Pending,
        attempts,
        next_attempt_at: d.next_attempt_at,
        response_code: r.response_code.map(i64::from),
        duration_ms: r.duration_ms,
        last_error: r.error.clone(),
        now_us: to_micros(now),
        webhook_health: None,
        disable_reason: None,
    };
    if r.success {
        rec.status = DeliveryStatus::Success;
        rec.webhook_health = Some(WebhookHealth::Healthy);
    } else if r.gone {
        rec.status = DeliveryStatus::Failed;
        rec.disable_reason = Some("the endpoint answered 410 Gone".into());
    } else if final_failure || attempts as usize > schedule.len() {
        rec.status = DeliveryStatus::Failed;
        rec.webhook_health = Some(WebhookHealth::Failing);
    } else {
        let delay = schedule[(attempts - 1) as usize].seconds();
        let delay = r.retry_after.map_or(delay, |ra| {
            delay.max(i64::try_from(ra).unwrap_or(i64::MAX).min(86_400 * 7))
        });
        rec.status = DeliveryStatus::Pending;
        rec.next_attempt_at = to_micros(now + chrono::Duration::seconds(delay));
    }
    rec
}

/// The `webhook_delivery` audit row of one attempt.
pub fn delivery_audit(
    d: &DeliveryRow,
    event: Option<&EventRow>,
    r: &AttemptResult,
    rec: &AttemptRecord,
    now: DateTime<Utc>,
) -> AuditRow {
    let extra = json!({
        "delivery_id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "attempt": rec.attempts,
        "outcome": rec.status,
        "error": r.error,
    });
    AuditRow {
        success: r.success,
        status_code: r.response_code.map_or(0, i64::from),
        duration_ms: r.duration_ms,
        request_id: event.and_then(|e| e.request_id.clone()),
        ..crate::audit::system_row(
            &d.tenant_id,
            WORKER_IDENTITY,
            now,
            "webhook_delivery",
            event.and_then(|e| e.path.as_deref()),
            None,
            extra,
        )
    }
}
