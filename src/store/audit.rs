use sqlx::{Any, Row, Transaction};

use super::AuditStore;
use super::StoreError;
use super::row::{Param, bind_all};
use crate::audit::{AuditEvent, AuditFilter, StoredEvent};

pub(super) const INSERT: &str = "INSERT INTO audit_events (at, actor, target, event, ip, user_agent, details, device) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Writes an event inside the caller's transaction, so the event and the change commit together.
pub(super) async fn record(
    tx: &mut Transaction<'_, Any>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    bind_all(sqlx::query(INSERT), event_params(event))
        .execute(&mut **tx)
        .await?;
    // Counted as written: a commit that fails after this is rare, and then overcounts by one.
    crate::audit::metrics::count(event);
    Ok(())
}

pub(super) fn event_params(event: &AuditEvent) -> Vec<Param> {
    vec![
        event.at.millis().into(),
        event.actor.to_string().into(),
        event.target.clone().into(),
        event.kind.as_str().into(),
        event.origin.ip.clone().into(),
        event.origin.user_agent.clone().into(),
        event.details.to_string().into(),
        event.origin.device.clone().into(),
    ]
}

impl AuditStore {
    /// An event that is not part of a change (a failed login, a logout).
    pub async fn record_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.store
            .write_together(vec![(INSERT, event_params(event))])
            .await?;
        crate::audit::metrics::count(event);
        Ok(())
    }

    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, target, event, ip, user_agent, details FROM audit_events \
             WHERE ($1 IS NULL OR target = $1) AND ($2 IS NULL OR event = $2) \
               AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4) \
             ORDER BY id DESC LIMIT $5 OFFSET $6",
        )
        .bind(filter.target.clone())
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.since.map(|i| i.millis()))
        .bind(filter.until.map(|i| i.millis()))
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let details: String = row.try_get("details")?;
                Ok(StoredEvent {
                    id: row.try_get("id")?,
                    insert_instant: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    target: row.try_get("target")?,
                    event: row.try_get("event")?,
                    ip_address: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    details: serde_json::from_str(&details).unwrap_or_default(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
