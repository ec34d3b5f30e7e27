//! The delivery worker: a background task that delivers what is due, on every node.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Instant;
use crate::store::Store;

use super::Delivery;

const TICK: Duration = Duration::from_millis(500);
/// Events counted against limits (whose windows are a day at most), and rows that expired, are
/// kept this long (for the audit of a recent incident), then forgotten.
const RETENTION_SECONDS: i64 = 2 * 86_400;
/// Sent and failed messages are kept this long (to answer "did my code go out?"), then deleted.
const MESSAGE_RETENTION_SECONDS: i64 = 30 * 86_400;
/// Housekeeping runs at start-up and then hourly.
const HOUSEKEEPING_EVERY_TICKS: u64 = 7200;

/// Starts the worker; it stops when `stop` turns true, finishing the message in hand.
pub fn spawn(delivery: Delivery, store: Store, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        loop {
            let now = Instant::now();
            if let Err(error) = delivery.deliver_due(now).await {
                tracing::error!(%error, "delivery worker: cannot read the queue");
            }
            ticks += 1;
            if ticks % HOUSEKEEPING_EVERY_TICKS == 1 {
                housekeeping(&store, now).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
        tracing::info!("delivery worker stopped");
    })
}

async fn housekeeping(store: &Store, now: Instant) {
    let horizon = now.plus_seconds(-RETENTION_SECONDS);
    if let Err(error) = store.counters().prune(horizon).await {
        tracing::warn!(%error, "housekeeping: cannot prune rate limits");
    }
    match store.sweep_expired(horizon).await {
        Ok(report) if report.total() > 0 => {
            tracing::info!(?report, "housekeeping: expired rows removed")
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "housekeeping: cannot remove expired rows"),
    }
    match store
        .forget_finished_messages(now.plus_seconds(-MESSAGE_RETENTION_SECONDS))
        .await
    {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "housekeeping: old messages removed"),
        Err(error) => tracing::warn!(%error, "housekeeping: cannot remove old messages"),
    }
}
