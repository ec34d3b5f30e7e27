//! Settings an administrator changes at run time, stored as JSON under a key.

use super::{SettingStore, StoreError, audit};
use crate::audit::AuditEvent;

impl SettingStore {
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key.to_owned())
                .fetch_optional(self.store.pool())
                .await?,
        )
    }

    pub async fn put_setting(
        &self,
        key: &str,
        value: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3, updated_by = $4",
        )
        .bind(key.to_owned())
        .bind(value.to_owned())
        .bind(event.at.millis())
        .bind(event.actor.to_string())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
