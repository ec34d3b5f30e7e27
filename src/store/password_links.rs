//! One-time password links: made when a person asks to reset a forgotten password, spent by the
//! change they make (`users.rs`, `set_password`, in the change's own transaction). Found by the
//! digest of their secret, which is never kept.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{PasswordLinkStore, StoreError, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::UserId;

/// A link to keep, as the service made it.
#[derive(Debug, Clone)]
pub struct NewPasswordLink {
    pub token_hash: String,
    /// What the link is for (`reset`), as its audit events and the page name it.
    pub purpose: &'static str,
    pub user: UserId,
    /// A digest of the password hash the link was made under: a change since voids it.
    pub password_version: String,
    pub expires_at: Instant,
    /// The key of the address an invitation's link was emailed to.
    pub email_key: Option<String>,
}

/// A link as kept.
#[derive(Debug, Clone)]
pub struct PasswordLinkRecord {
    pub purpose: String,
    pub user: UserId,
    pub password_version: String,
    pub created_at: Instant,
    pub expires_at: Instant,
    pub used_at: Option<Instant>,
    pub email_key: Option<String>,
}

impl PasswordLinkStore {
    /// Keeps a new link, with the event that says it was made.
    pub async fn insert_link(
        &self,
        link: &NewPasswordLink,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query(
            "INSERT INTO password_links (token_hash, purpose, user_id, password_version, \
               created_at, expires_at, email_key) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(link.token_hash.clone())
        .bind(link.purpose.to_owned())
        .bind(link.user.to_string())
        .bind(link.password_version.clone())
        .bind(event.at.millis())
        .bind(link.expires_at.millis())
        .bind(link.email_key.clone())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn link(&self, token_hash: &str) -> Result<Option<PasswordLinkRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT purpose, user_id, password_version, created_at, expires_at, used_at, \
               email_key FROM password_links WHERE token_hash = $1",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| link_from_row(&r)).transpose()
    }
}

/// Spends a link for the change being written in `tx`: true when it was unspent and unexpired,
/// and is now spent. Of two changes racing with one link, one spends it; the other's statement
/// finds it spent.
pub(super) async fn spend_link(
    tx: &mut Transaction<'_, Any>,
    token_hash: &str,
    user: UserId,
    now: Instant,
) -> Result<bool, StoreError> {
    let spent = sqlx::query(
        "UPDATE password_links SET used_at = $3 \
         WHERE token_hash = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash.to_owned())
    .bind(user.to_string())
    .bind(now.millis())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(spent == 1)
}

fn link_from_row(row: &AnyRow) -> Result<PasswordLinkRecord, StoreError> {
    let user: String = row.try_get("user_id")?;
    Ok(PasswordLinkRecord {
        purpose: row.try_get("purpose")?,
        user: UserId::parse(&user)
            .map_err(|e| StoreError::Corrupt(format!("password_links.user_id: {}", e.message)))?,
        password_version: row.try_get("password_version")?,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        expires_at: Instant::from_millis(row.try_get("expires_at")?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")?
            .map(Instant::from_millis),
        email_key: row.try_get("email_key")?,
    })
}
