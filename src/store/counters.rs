//! Counters of fixed windows on the `rate_limits` table, taken all at once or not at all: a
//! request refused by one of its limits counts against none of the others.

use super::{CounterStore, StoreError};
use crate::clock::Instant;
use crate::limits::Limit;

/// One counter: its key, the start of its current window, and the most it may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub window_start: i64,
    pub max: i64,
}

impl Counter {
    /// The counter under `key` in the window of `limit` that `now` falls in.
    pub fn in_window(key: String, limit: &Limit, now: Instant) -> Self {
        Self {
            key,
            window_start: limit.window_start(now),
            max: limit.max,
        }
    }
}

impl CounterStore {
    /// Adds one to each counter in one transaction, unless one of them is already at its max:
    /// then none is added, and the answer lists the positions of the full ones. Counters are
    /// touched in the order of their keys, so that concurrent requests lock the shared ones in
    /// one order and never deadlock.
    pub async fn take(&self, counters: &[Counter]) -> Result<Vec<usize>, StoreError> {
        let mut order: Vec<usize> = (0..counters.len()).collect();
        order.sort_by(|a, b| counters[*a].key.cmp(&counters[*b].key));
        let mut tx = self.store.writes().begin().await?;
        let mut full = Vec::new();
        for position in order {
            let counter = &counters[position];
            let count: i64 = sqlx::query_scalar(
                "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1 \
                 RETURNING count",
            )
            .bind(counter.key.clone())
            .bind(counter.window_start)
            .fetch_one(&mut *tx)
            .await?;
            if count > counter.max {
                full.push(position);
            }
        }
        if full.is_empty() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(full)
    }

    /// Takes back what `take` added (the request it was taken for turned out not to count).
    pub async fn give_back(&self, counters: &[Counter]) -> Result<(), StoreError> {
        let mut sorted: Vec<&Counter> = counters.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let mut tx = self.store.writes().begin().await?;
        for counter in sorted {
            sqlx::query(
                "UPDATE rate_limits SET count = count - 1 \
                 WHERE key = $1 AND window_start = $2 AND count > 0",
            )
            .bind(counter.key.clone())
            .bind(counter.window_start)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How far a counter got in its window (0 when nothing was taken).
    pub async fn count(&self, key: &str, window_start: i64) -> Result<i64, StoreError> {
        let count: Option<i64> = sqlx::query_scalar(
            "SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2",
        )
        .bind(key.to_owned())
        .bind(window_start)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(count.unwrap_or(0))
    }
}
