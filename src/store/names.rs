//! The pass of migration `canonical_names`: what `domain::canonical_names`
//! decides, written once, at the first start after the migration.

use sqlx::Row;

use super::{Store, StoreError, audit};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::canonical_names::{self, StoredNames};

const PENDING: &str = "migration.canonical_names";

/// Keys every user by its canonical names unless they collide; collisions and names the rules
/// refuse are logged and recorded as one `user.name_collision` event. Runs while the
/// migration's mark is there, and takes the mark in its own transaction, so that of two nodes
/// starting at once only one runs it.
pub(super) async fn canonicalise(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.writes().begin().await?;
    let marked = sqlx::query("DELETE FROM settings WHERE key = $1")
        .bind(PENDING)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if marked == 0 {
        return Ok(());
    }
    let rows = sqlx::query("SELECT id, username, username_key, email, email_key FROM users")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            Ok(StoredNames {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                username_key: row.try_get("username_key")?,
                email: row.try_get("email")?,
                email_key: row.try_get("email_key")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let plan = canonical_names::plan(&rows);
    // Keys are unique at every statement: each changed row first gives up its keys, so that
    // one row may take a key another row is leaving.
    for changed in &plan.changes {
        sqlx::query(
            "UPDATE users SET username_key = $2, \
               email_key = CASE WHEN email_key IS NULL THEN NULL ELSE $2 END WHERE id = $1",
        )
        .bind(&changed.id)
        .bind(format!("\u{1}moving {}", changed.id))
        .execute(&mut *tx)
        .await?;
    }
    for changed in &plan.changes {
        sqlx::query(
            "UPDATE users SET username = $2, username_key = $3, email = $4, email_key = $5 \
             WHERE id = $1",
        )
        .bind(&changed.id)
        .bind(&changed.username)
        .bind(&changed.username_key)
        .bind(&changed.email)
        .bind(&changed.email_key)
        .execute(&mut *tx)
        .await?;
    }
    if !plan.is_clean() {
        let collisions: Vec<serde_json::Value> = plan
            .collisions
            .iter()
            .map(|c| serde_json::json!({"field": c.field, "key": c.key, "userIds": c.ids}))
            .collect();
        let refused: Vec<serde_json::Value> = plan
            .refused
            .iter()
            .map(|(id, field)| serde_json::json!({"field": field, "userId": id}))
            .collect();
        let event = AuditEvent::new(
            EventKind::NameCollision,
            Actor::System,
            &Origin::default(),
            Instant::now(),
        )
        .detail("collisions", collisions)
        .detail("refused", refused);
        audit::record(&mut tx, &event).await?;
    }
    tx.commit().await?;
    if plan.is_clean() {
        tracing::info!(
            renamed = plan.changes.len(),
            "usernames and emails keyed canonically"
        );
    } else {
        tracing::warn!(renamed = plan.changes.len(), "{}", plan.report());
    }
    Ok(())
}
