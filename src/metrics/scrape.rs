//! One scrape: the queue gauges are read from the store (small indexed queries, at the injected
//! clock's "now"), then the whole registry is encoded as OpenMetrics text.

use crate::clock::to_micros;
use crate::server::AppState;
use crate::store::StoreError;

/// Seconds from `since_us` to `now_us`, never negative; 0 when there is nothing.
fn age_seconds(now_us: i64, since_us: Option<i64>) -> f64 {
    since_us.map_or(0.0, |t| (now_us.saturating_sub(t)).max(0) as f64 / 1e6)
}

/// Sets the gauges from the store and renders the exposition.
pub async fn render(st: &AppState) -> Result<String, StoreError> {
    let m = &st.metrics;
    let _one_at_a_time = m.scrape_lock.lock().await;
    let now_us = to_micros(st.clock.now());
    let (pending, oldest_created) = st.store.pending_deliveries().await?;
    let backlog = st.store.scheduler_backlog(now_us).await?;
    m.webhook_queue_depth.set(pending);
    m.subscription_backlog
        .set(st.store.subscription_backlog().await?);
    m.webhook_oldest_pending
        .set(age_seconds(now_us, oldest_created));
    m.rotation_queue_depth.set(backlog.rotations_due);
    m.scheduler_lag
        .set(age_seconds(now_us, backlog.oldest_due_event_at));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &m.registry)
        .map_err(|_| StoreError::Corrupt("metrics could not be encoded".into()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::age_seconds;

    #[test]
    fn ages_are_never_negative() {
        assert_eq!(age_seconds(10_000_000, None), 0.0);
        assert_eq!(age_seconds(10_000_000, Some(7_500_000)), 2.5);
        assert_eq!(age_seconds(10_000_000, Some(12_000_000)), 0.0);
    }
}
