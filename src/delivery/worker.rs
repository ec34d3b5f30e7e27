//! The delivery worker: a background task that delivers what is due, on every node.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Instant;
use crate::core::Core;

const TICK: Duration = Duration::from_millis(500);
/// Rate-limit windows older than this are pruned.
const RATE_LIMIT_HORIZON_SECONDS: i64 = 2 * 86_400;

/// Starts the worker; it stops when `stop` turns true, finishing the message in hand.
pub fn spawn(core: Core, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        loop {
            let now = Instant::now();
            if let Err(error) = core.deliver_due(now).await {
                tracing::error!(%error, "delivery worker: cannot read the queue");
            }
            ticks += 1;
            if ticks % 7200 == 1
                && let Err(error) = core
                    .store
                    .prune_rate_limits(now.plus_seconds(-RATE_LIMIT_HORIZON_SECONDS))
                    .await
            {
                tracing::warn!(%error, "delivery worker: cannot prune rate limits");
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
