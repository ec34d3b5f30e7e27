//! Counters of rolling windows (`limit_events`), taken all at once or not at all: a request
//! refused by one of its limits counts against none of the others.

use super::{CounterStore, StoreError};
use crate::clock::Instant;
use crate::limits::Limit;

/// One event to count: under `key`, at `at`, admitted while fewer than `max` events under the
/// key fall in the `window_millis` before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub max: i64,
    pub window_millis: i64,
    pub at: Instant,
}

impl Counter {
    /// The event at `now` under `key`, counted against `limit`.
    pub fn new(key: String, limit: &Limit, now: Instant) -> Self {
        Self {
            key,
            max: limit.max,
            window_millis: limit.window_seconds.saturating_mul(1000),
            at: now,
        }
    }

    /// Events at or before this instant have left the window.
    fn window_opens_after(&self) -> i64 {
        self.at.millis().saturating_sub(self.window_millis)
    }
}

/// A counter that was full, and when the first of its events leaves the window to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub position: usize,
    pub room_at: Instant,
}

impl CounterStore {
    /// Counts one event on each counter in one transaction, unless one of them is already at
    /// its max: then none is counted, and the answer lists the full ones. Keys are locked in
    /// sorted order, so that concurrent requests sharing keys never deadlock.
    pub async fn take(&self, counters: &[Counter]) -> Result<Vec<Full>, StoreError> {
        let mut order: Vec<usize> = (0..counters.len()).collect();
        order.sort_by(|a, b| counters[*a].key.cmp(&counters[*b].key));
        let mut tx = self.store.writes().begin().await?;
        let mut full = Vec::new();
        for position in order {
            let counter = &counters[position];
            // The key's row is the lock: a second request for the key waits here until the
            // first commits, and then counts what the first added.
            sqlx::query(
                "INSERT INTO limit_keys (key, last_at) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at",
            )
            .bind(counter.key.clone())
            .bind(counter.at.millis())
            .execute(&mut *tx)
            .await?;
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM limit_events WHERE key = $1 AND at > $2")
                    .bind(counter.key.clone())
                    .bind(counter.window_opens_after())
                    .fetch_one(&mut *tx)
                    .await?;
            if count >= counter.max {
                // Room comes when the events beyond max - 1 have left: the (count - max + 1)th
                // oldest is the last of them.
                let oldest: i64 = sqlx::query_scalar(
                    "SELECT at FROM limit_events WHERE key = $1 AND at > $2 \
                     ORDER BY at LIMIT 1 OFFSET $3",
                )
                .bind(counter.key.clone())
                .bind(counter.window_opens_after())
                .bind(count - counter.max)
                .fetch_one(&mut *tx)
                .await?;
                full.push(Full {
                    position,
                    room_at: Instant::from_millis(oldest.saturating_add(counter.window_millis)),
                });
            }
        }
        if !full.is_empty() {
            tx.rollback().await?;
            full.sort_by_key(|f| f.position);
            return Ok(full);
        }
        for counter in counters {
            sqlx::query("INSERT INTO limit_events (key, at) VALUES ($1, $2)")
                .bind(counter.key.clone())
                .bind(counter.at.millis())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(full)
    }

    /// Takes back what `take` counted (the request it was counted for turned out not to count).
    pub async fn give_back(&self, counters: &[Counter]) -> Result<(), StoreError> {
        let mut sorted: Vec<&Counter> = counters.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let mut tx = self.store.writes().begin().await?;
        for counter in sorted {
            sqlx::query(
                "DELETE FROM limit_events WHERE id IN \
                 (SELECT id FROM limit_events WHERE key = $1 AND at = $2 LIMIT 1)",
            )
            .bind(counter.key.clone())
            .bind(counter.at.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many events under the counter's key fall in its window.
    pub async fn count(&self, counter: &Counter) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM limit_events WHERE key = $1 AND at > $2")
                .bind(counter.key.clone())
                .bind(counter.window_opens_after())
                .fetch_one(self.store.pool())
                .await?,
        )
    }

    /// Forgets events, and keys not counted against, older than `before`: housekeeping, with
    /// a horizon beyond the longest window.
    pub async fn prune(&self, before: Instant) -> Result<u64, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let events = sqlx::query("DELETE FROM limit_events WHERE at < $1")
            .bind(before.millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM limit_keys WHERE last_at < $1")
            .bind(before.millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(events)
    }
}
