use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::VerifyStore;
use crate::clock::Instant;

/// What became of an insert that a name and a cap may refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CappedInsert {
    Inserted,
    /// One with the same unique key is there.
    Duplicate,
    /// The parent already holds as many as it may.
    Full,
}

impl CappedInsert {
    /// What an `INSERT … ON CONFLICT DO NOTHING` that passed the cap did.
    fn of_rows(inserted: u64) -> Self {
        if inserted == 1 {
            CappedInsert::Inserted
        } else {
            CappedInsert::Duplicate
        }
    }
}

/// Locks the parent row (a no-op update: a row lock on PostgreSQL, the write lock on SQLite) so
/// that simultaneous inserts under one parent are counted one after another, then counts its
/// children. The table and column names are constants of this module, never input.
async fn lock_parent_and_count(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    parent: &str,
    children: &str,
    parent_column: &str,
    parent_sid: &str,
) -> Result<i64, StoreError> {
    sqlx::query(&format!(
        "UPDATE {parent} SET updated_at = updated_at WHERE sid = $1"
    ))
    .bind(parent_sid.to_owned())
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {children} WHERE {parent_column} = $1"
    ))
    .bind(parent_sid.to_owned())
    .fetch_one(&mut **tx)
    .await?)
}

#[derive(Debug, Clone)]
pub struct RateLimitRecord {
    pub sid: String,
    pub service_sid: String,
    pub unique_name: String,
    pub description: Option<String>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

#[derive(Debug, Clone)]
pub struct BucketRecord {
    pub sid: String,
    pub rate_limit_sid: String,
    pub max: i64,
    pub interval: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl VerifyStore {
    /// Adds a limit unless the service has one of this name, or already `cap` limits. The
    /// service's row is locked first (a no-op update), so simultaneous creations are counted one
    /// after another and the cap holds exactly.
    pub async fn insert_rate_limit(
        &self,
        limit: &RateLimitRecord,
        cap: i64,
    ) -> Result<CappedInsert, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let count = lock_parent_and_count(
            &mut tx,
            "verify_services",
            "verify_rate_limits",
            "service_sid",
            &limit.service_sid,
        )
        .await?;
        if count >= cap {
            return Ok(CappedInsert::Full);
        }
        let done = sqlx::query(
            "INSERT INTO verify_rate_limits (sid, service_sid, unique_name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(limit.sid.clone())
        .bind(limit.service_sid.clone())
        .bind(limit.unique_name.clone())
        .bind(limit.description.clone())
        .bind(limit.created_at.millis())
        .bind(limit.updated_at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(CappedInsert::of_rows(done))
    }

    pub async fn rate_limits(&self, service_sid: &str) -> Result<Vec<RateLimitRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT sid, service_sid, unique_name, description, created_at, updated_at FROM verify_rate_limits \
             WHERE service_sid = $1 ORDER BY created_at, sid",
        )
        .bind(service_sid.to_owned())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(limit_from_row).collect()
    }

    pub async fn update_rate_limit(
        &self,
        sid: &str,
        description: Option<&str>,
        now: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE verify_rate_limits SET description = $2, updated_at = $3 WHERE sid = $1",
        )
        .bind(sid.to_owned())
        .bind(description.map(str::to_owned))
        .bind(now.millis())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    pub async fn delete_rate_limit(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM verify_rate_limits WHERE sid = $1")
            .bind(sid.to_owned())
            .execute(self.store.writes())
            .await?
            .rows_affected()
            == 1)
    }

    /// `false` when the limit already has a bucket of this interval.
    /// Adds a bucket unless its rate limit has one of this interval, or already `cap` buckets;
    /// the rate limit's row is locked first, as in [`Store::insert_rate_limit`].
    pub async fn insert_bucket(
        &self,
        bucket: &BucketRecord,
        cap: i64,
    ) -> Result<CappedInsert, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let count = lock_parent_and_count(
            &mut tx,
            "verify_rate_limits",
            "verify_buckets",
            "rate_limit_sid",
            &bucket.rate_limit_sid,
        )
        .await?;
        if count >= cap {
            return Ok(CappedInsert::Full);
        }
        let done = sqlx::query(
            "INSERT INTO verify_buckets (sid, rate_limit_sid, max_count, interval_seconds, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(bucket.sid.clone())
        .bind(bucket.rate_limit_sid.clone())
        .bind(bucket.max)
        .bind(bucket.interval)
        .bind(bucket.created_at.millis())
        .bind(bucket.updated_at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(CappedInsert::of_rows(done))
    }

    pub async fn buckets(&self, rate_limit_sid: &str) -> Result<Vec<BucketRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT sid, rate_limit_sid, max_count, interval_seconds, created_at, updated_at FROM verify_buckets \
             WHERE rate_limit_sid = $1 ORDER BY interval_seconds",
        )
        .bind(rate_limit_sid.to_owned())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BucketRecord {
                    sid: r.try_get("sid")?,
                    rate_limit_sid: r.try_get("rate_limit_sid")?,
                    max: r.try_get("max_count")?,
                    interval: r.try_get("interval_seconds")?,
                    created_at: Instant::from_millis(r.try_get("created_at")?),
                    updated_at: Instant::from_millis(r.try_get("updated_at")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn update_bucket(
        &self,
        sid: &str,
        max: i64,
        interval: i64,
        now: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE verify_buckets SET max_count = $2, interval_seconds = $3, updated_at = $4 WHERE sid = $1")
            .bind(sid.to_owned())
            .bind(max)
            .bind(interval)
            .bind(now.millis())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }

    pub async fn delete_bucket(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM verify_buckets WHERE sid = $1")
            .bind(sid.to_owned())
            .execute(self.store.writes())
            .await?
            .rows_affected()
            == 1)
    }
}

fn limit_from_row(r: &AnyRow) -> Result<RateLimitRecord, StoreError> {
    Ok(RateLimitRecord {
        sid: r.try_get("sid")?,
        service_sid: r.try_get("service_sid")?,
        unique_name: r.try_get("unique_name")?,
        description: r.try_get("description")?,
        created_at: Instant::from_millis(r.try_get("created_at")?),
        updated_at: Instant::from_millis(r.try_get("updated_at")?),
    })
}
