//! One-time links that verify an email address: made when an address awaits verification, spent
//! by the verification they make, in its transaction. Found by the digest of their secret, which
//! is never kept.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::users::{COLUMNS as USER_COLUMNS, user_from_row};
use super::{EmailLinkStore, StoreError, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{Email, User, UserId};

/// A link to keep, as the service made it.
#[derive(Debug, Clone)]
pub struct NewEmailLink {
    pub token_hash: String,
    pub user: UserId,
    /// The address the link proves.
    pub email: Email,
    pub expires_at: Instant,
    /// The person asked for `email` in place of their address: it waits beside the address in
    /// force, written with the link.
    pub asks_change: bool,
}

/// A link as kept.
#[derive(Debug, Clone)]
pub struct EmailLinkRecord {
    pub user: UserId,
    pub email: Email,
    pub created_at: Instant,
    pub expires_at: Instant,
    pub used_at: Option<Instant>,
}

/// How `verify_by_link` ended: only `Verified` wrote anything.
#[derive(Debug, Clone)]
pub enum LinkVerification {
    /// The address is the user's address in force, verified; any address awaiting is gone.
    Verified(Box<User>),
    /// Another use spent the link first, or it expired.
    LinkSpent,
    /// The address is no longer the one awaiting verification (changed, or verified since).
    NoLongerAwaited,
    /// Another user has the address in force now.
    Taken,
}

impl EmailLinkStore {
    /// Keeps a new link with the event that says it was made (and, for a change the person
    /// asked for, their new address awaiting it), in one transaction.
    pub async fn insert_link(
        &self,
        link: &NewEmailLink,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        if link.asks_change {
            sqlx::query(
                "UPDATE users SET pending_email = $2, pending_email_key = $3, updated_at = $4 \
                 WHERE id = $1",
            )
            .bind(link.user.to_string())
            .bind(link.email.as_str().to_owned())
            .bind(link.email.key().to_owned())
            .bind(event.at.millis())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO email_links (token_hash, user_id, email, email_key, created_at, \
               expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(link.token_hash.clone())
        .bind(link.user.to_string())
        .bind(link.email.as_str().to_owned())
        .bind(link.email.key().to_owned())
        .bind(event.at.millis())
        .bind(link.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn link(&self, token_hash: &str) -> Result<Option<EmailLinkRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, email, email_key, created_at, expires_at, used_at \
             FROM email_links WHERE token_hash = $1",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| link_from_row(&r)).transpose()
    }

    /// Spends the link and makes its address the user's verified address in force, with the
    /// event, in one transaction: only while the link is unspent and unexpired, and its address
    /// is still the one awaiting verification (the person's new address, else the address in
    /// force while unverified: `User::email_awaiting_verification`). Of many uses at once, one
    /// verifies.
    pub async fn verify_by_link(
        &self,
        token_hash: &str,
        link: &EmailLinkRecord,
        event: &AuditEvent,
    ) -> Result<LinkVerification, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        if !spend_link(&mut tx, token_hash, link.user, now).await? {
            return Ok(LinkVerification::LinkSpent);
        }
        let row = sqlx::query(&format!(
            "UPDATE users SET email = $2, email_key = $3, email_verified_at = $4, \
               pending_email = NULL, pending_email_key = NULL, updated_at = $4 \
             WHERE id = $1 AND COALESCE(pending_email_key, \
               CASE WHEN email_verified_at IS NULL THEN email_key END) = $3 \
             RETURNING {USER_COLUMNS}"
        ))
        .bind(link.user.to_string())
        .bind(link.email.as_str().to_owned())
        .bind(link.email.key().to_owned())
        .bind(now.millis())
        .fetch_optional(&mut *tx)
        .await;
        let row = match row {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(LinkVerification::NoLongerAwaited),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Ok(LinkVerification::Taken);
            }
            Err(other) => return Err(other.into()),
        };
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(LinkVerification::Verified(Box::new(
            user_from_row(&row)?.user,
        )))
    }
}

async fn spend_link(
    tx: &mut Transaction<'_, Any>,
    token_hash: &str,
    user: UserId,
    now: Instant,
) -> Result<bool, StoreError> {
    let spent = sqlx::query(
        "UPDATE email_links SET used_at = $3 \
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

fn link_from_row(row: &AnyRow) -> Result<EmailLinkRecord, StoreError> {
    let user: String = row.try_get("user_id")?;
    let email: String = row.try_get("email")?;
    let key: String = row.try_get("email_key")?;
    Ok(EmailLinkRecord {
        user: UserId::parse(&user)
            .map_err(|e| StoreError::Corrupt(format!("email_links.user_id: {}", e.message)))?,
        email: Email::from_stored(&email, &key),
        created_at: Instant::from_millis(row.try_get("created_at")?),
        expires_at: Instant::from_millis(row.try_get("expires_at")?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")?
            .map(Instant::from_millis),
    })
}
