use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::ApiKeyStore;
use super::{StoreError, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;

/// How stale `last_used_at` may get before a request updates it: one write a minute per key,
/// not one per request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub insert_instant: i64,
    pub revoked_instant: Option<i64>,
    pub last_used_instant: Option<i64>,
}

impl ApiKeyStore {
    pub async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.to_owned())
        .bind(name.to_owned())
        .bind(key_hash.to_owned())
        .bind(event.at.millis())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live key with this hash, noting its use.
    pub async fn use_api_key(
        &self,
        key_hash: &str,
        now: Instant,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, created_at, revoked_at, last_used_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        let Some(record) = row.map(|r| key_from_row(&r)).transpose()? else {
            return Ok(None);
        };
        if record
            .last_used_instant
            .is_none_or(|at| now.millis() - at > LAST_USED_RESOLUTION_MS)
        {
            sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                .bind(record.id.clone())
                .bind(now.millis())
                .execute(self.store.writes())
                .await?;
        }
        Ok(Some(record))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, revoked_at, last_used_at FROM api_keys ORDER BY created_at",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    pub async fn revoke_api_key(&self, id: &str, event: &AuditEvent) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let revoked =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.to_owned())
                .bind(event.at.millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if revoked == 0 {
            return Ok(false);
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        insert_instant: row.try_get("created_at")?,
        revoked_instant: row.try_get("revoked_at")?,
        last_used_instant: row.try_get("last_used_at")?,
    })
}
