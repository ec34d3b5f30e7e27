//! Administrators' one-time access codes: one row per user at most, its SHA-256 and expiry.
//! Issuing replaces the row, revoking or using it deletes it (using it is a statement of a
//! login's code check, `code_check::statements::SPEND_ACCESS_CODE`).

use sqlx::Row;

use super::{StoreError, TwoFactorStore, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::UserId;

/// A live access code, as the admin console shows it (never the code: only its digest is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessCodeRecord {
    /// Its public id (`ac_…`), which its events name.
    pub id: String,
    pub created_at: Instant,
    pub expires_at: Instant,
}

/// An access code to store for a user, replacing any they had.
#[derive(Debug, Clone)]
pub struct NewAccessCode {
    pub id: String,
    pub user: UserId,
    pub code_hash: String,
    pub expires_at: Instant,
}

/// How issuing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuedAccessCode {
    /// Stored; `replaced`: an unused, unexpired one was there and is gone.
    Stored { replaced: bool },
    /// No such user, or not active: nothing was written.
    NoActiveUser,
}

impl TwoFactorStore {
    /// Stores `code` in place of the user's earlier one, with `event` (which gains `replaced`
    /// when a live code was replaced), if the user exists and is active.
    pub async fn issue_access_code(
        &self,
        code: &NewAccessCode,
        event: &AuditEvent,
    ) -> Result<IssuedAccessCode, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        let earlier: Vec<i64> =
            sqlx::query_scalar("DELETE FROM access_codes WHERE user_id = $1 RETURNING expires_at")
                .bind(code.user.to_string())
                .fetch_all(&mut *tx)
                .await?;
        let stored = sqlx::query(
            "INSERT INTO access_codes (user_id, id, code_hash, created_at, expires_at) \
             SELECT id, $2, $3, $4, $5 FROM users WHERE id = $1 AND active = 1",
        )
        .bind(code.user.to_string())
        .bind(code.id.clone())
        .bind(code.code_hash.clone())
        .bind(now.millis())
        .bind(code.expires_at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if stored == 0 {
            tx.rollback().await?;
            return Ok(IssuedAccessCode::NoActiveUser);
        }
        let replaced = earlier.iter().any(|expires| *expires > now.millis());
        let event = if replaced {
            event.clone().detail("replaced", true)
        } else {
            event.clone()
        };
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(IssuedAccessCode::Stored { replaced })
    }

    /// Deletes the user's unexpired access code, with `event` (which gains its id): the id of
    /// the code revoked, or `None` when there was none.
    pub async fn revoke_access_code(
        &self,
        user: UserId,
        event: &AuditEvent,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let revoked: Option<String> = sqlx::query_scalar(
            "DELETE FROM access_codes WHERE user_id = $1 AND expires_at > $2 RETURNING id",
        )
        .bind(user.to_string())
        .bind(event.at.millis())
        .fetch_optional(&mut *tx)
        .await?;
        match &revoked {
            Some(id) => {
                audit::record(&mut tx, &event.clone().detail("accessCodeId", id.clone())).await?;
                tx.commit().await?;
            }
            None => tx.rollback().await?,
        }
        Ok(revoked)
    }

    /// The user's access code that is unused and unexpired at `now`, if any.
    pub async fn live_access_code(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<Option<AccessCodeRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, created_at, expires_at FROM access_codes \
             WHERE user_id = $1 AND expires_at > $2",
        )
        .bind(user.to_string())
        .bind(now.millis())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|row| {
            Ok(AccessCodeRecord {
                id: row.try_get("id")?,
                created_at: Instant::from_millis(row.try_get("created_at")?),
                expires_at: Instant::from_millis(row.try_get("expires_at")?),
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }
}
