//! App passwords: a keyed digest of each (never the secret), per user, with the last use noted
//! at most once a minute. Revoking one deletes its row.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{AppPasswordStore, StoreError, audit, flag};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::UserId;

/// How stale `last_used_at` may get before a use writes it again: one write a minute per app
/// password, not one per request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// An app password as its owner's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordRecord {
    /// Its public id (`ap_…`), which its events name.
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    /// Made in a session that gave a second factor.
    pub two_factor: bool,
    pub created_at: Instant,
    pub last_used_at: Option<Instant>,
}

/// An app password to keep.
#[derive(Debug, Clone)]
pub struct NewAppPassword {
    pub id: String,
    pub user: UserId,
    pub name: String,
    pub secret_hash: String,
    pub two_factor: bool,
}

/// How keeping one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredAppPassword {
    Stored,
    /// The user has `max` already: nothing was written.
    Full,
    /// No such user, or not active.
    NoActiveUser,
}

const COLUMNS: &str = "id, user_id, name, two_factor, created_at, last_used_at";

/// What becomes of a user's app passwords with a change, in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppPasswords {
    Kept,
    Revoked,
}

/// Revokes every app password of `user`: how many there were.
pub(super) async fn revoke_all_app_passwords(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: UserId,
) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM app_passwords WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

impl AppPasswordStore {
    /// Keeps `new` with `event` unless its user already has `max` (counted under the user's
    /// row, taken first, so that two at once cannot both pass the count).
    pub async fn insert_app_password(
        &self,
        new: &NewAppPassword,
        max: i64,
        event: &AuditEvent,
    ) -> Result<StoredAppPassword, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let user = new.user.to_string();
        let taken = sqlx::query("UPDATE users SET id = id WHERE id = $1 AND active = 1")
            .bind(user.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if taken == 0 {
            tx.rollback().await?;
            return Ok(StoredAppPassword::NoActiveUser);
        }
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords WHERE user_id = $1")
            .bind(user.clone())
            .fetch_one(&mut *tx)
            .await?;
        if held >= max {
            tx.rollback().await?;
            return Ok(StoredAppPassword::Full);
        }
        sqlx::query(
            "INSERT INTO app_passwords (id, user_id, name, secret_hash, two_factor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id.clone())
        .bind(user)
        .bind(new.name.clone())
        .bind(new.secret_hash.clone())
        .bind(flag(new.two_factor))
        .bind(event.at.millis())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(StoredAppPassword::Stored)
    }

    /// A user's app passwords, oldest first.
    pub async fn app_passwords_of(
        &self,
        user: UserId,
    ) -> Result<Vec<AppPasswordRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_passwords WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The app password whose secret has this digest, whoever's it is.
    pub async fn app_password_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<AppPasswordRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_passwords WHERE secret_hash = $1"
        ))
        .bind(secret_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Notes a use at `now`, unless one was noted within the last minute.
    pub async fn note_app_password_use(&self, id: &str, now: Instant) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE app_passwords SET last_used_at = $2 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(id.to_owned())
        .bind(now.millis())
        .bind(now.millis() - LAST_USED_RESOLUTION_MS)
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    /// Deletes the user's app password `id`, with `event`: its name, or `None` when the user
    /// has no such app password.
    pub async fn revoke_app_password(
        &self,
        user: UserId,
        id: &str,
        event: &AuditEvent,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let name: Option<String> = sqlx::query_scalar(
            "DELETE FROM app_passwords WHERE user_id = $1 AND id = $2 RETURNING name",
        )
        .bind(user.to_string())
        .bind(id.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        match &name {
            Some(name) => {
                audit::record(&mut tx, &event.clone().detail("name", name.clone())).await?;
                tx.commit().await?;
            }
            None => tx.rollback().await?,
        }
        Ok(name)
    }
}

fn from_row(row: &AnyRow) -> Result<AppPasswordRecord, StoreError> {
    let user: String = row.try_get("user_id")?;
    let two_factor: i64 = row.try_get("two_factor")?;
    Ok(AppPasswordRecord {
        id: row.try_get("id")?,
        user_id: UserId::parse(&user)
            .map_err(|_| StoreError::Corrupt(format!("app password of user {user:?}")))?,
        name: row.try_get("name")?,
        two_factor: two_factor != 0,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Instant::from_millis),
    })
}
