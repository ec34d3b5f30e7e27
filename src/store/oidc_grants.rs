//! OpenID Connect's grants: what a code is traded for (kept by `exchange_code`,
//! `oidc_exchange.rs`), and the refresh tokens that renew it, each spent by the refresh that
//! makes the next.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{OidcStore, StoreError, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::UserId;

/// A grant, as the service made it or the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub user: UserId,
    pub session_id: String,
    pub scope: String,
    pub auth_time: Instant,
    pub amr: Vec<String>,
    /// `offline_access`: it outlives the sign-in's session.
    pub offline: bool,
    pub created_at: Instant,
    pub expires_at: Instant,
    pub revoked_at: Option<Instant>,
}

/// What a person allowed a client, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub client_id: String,
    pub scope: String,
    pub granted_at: Instant,
}

/// What a person's revocation of an application took away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdrawn {
    pub consent: bool,
    pub grants: u64,
}

/// What became of a refresh token presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshSpend {
    /// Spent now, its successor kept: the grant it renews.
    Rotated(String),
    /// Spent before (by an earlier refresh, or one at the same time): the grant it belonged to.
    AlreadySpent(String),
    Unknown,
}

pub(super) const GRANT_COLUMNS: &str = "id, client_id, user_id, session_id, scope, auth_time, amr, \
    offline, created_at, expires_at, revoked_at";

impl OidcStore {
    pub async fn grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM oidc_grants WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| grant_from_row(&r)).transpose()
    }

    /// The grants of a user not revoked and not expired, newest first.
    pub async fn live_grants_of(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM oidc_grants \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC"
        ))
        .bind(user.to_string())
        .bind(now.millis())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// The grant a refresh token belongs to, whether spent or not.
    pub async fn refresh_token_grant(
        &self,
        token_hash: &str,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
             WHERE t.token_hash = $1",
            GRANT_COLUMNS
                .split(", ")
                .map(|c| format!("g.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(token_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| grant_from_row(&r)).transpose()
    }

    /// Spends a refresh token and keeps its successor with the event, in one transaction, only
    /// while it is unspent.
    pub async fn spend_refresh_token(
        &self,
        token_hash: &str,
        next_hash: &str,
        event: &AuditEvent,
    ) -> Result<RefreshSpend, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        let row = sqlx::query(
            "UPDATE oidc_refresh_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL RETURNING grant_id",
        )
        .bind(token_hash.to_owned())
        .bind(now.millis())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            let spent =
                sqlx::query("SELECT grant_id FROM oidc_refresh_tokens WHERE token_hash = $1")
                    .bind(token_hash.to_owned())
                    .fetch_optional(self.store.pool())
                    .await?;
            return Ok(match spent {
                Some(row) => RefreshSpend::AlreadySpent(row.try_get("grant_id")?),
                None => RefreshSpend::Unknown,
            });
        };
        let grant_id: String = row.try_get("grant_id")?;
        insert_refresh_token(&mut tx, next_hash, &grant_id, now).await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(RefreshSpend::Rotated(grant_id))
    }

    /// Revokes a grant (its tokens stop working), with the event. `false`: it was revoked
    /// already, or never was.
    pub async fn revoke_grant(&self, id: &str, event: &AuditEvent) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let revoked = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
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

impl OidcStore {
    /// The clients a person allowed, and what they allowed each.
    pub async fn consents_of(&self, user: UserId) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, scope, granted_at FROM oidc_consents WHERE user_id = $1 \
             ORDER BY granted_at",
        )
        .bind(user.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ConsentRecord {
                    client_id: row.try_get("client_id")?,
                    scope: row.try_get("scope")?,
                    granted_at: Instant::from_millis(row.try_get("granted_at")?),
                })
            })
            .collect()
    }

    /// When each client last received tokens for the person (a code traded or a refresh).
    pub async fn last_tokens_of(&self, user: UserId) -> Result<Vec<(String, Instant)>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.client_id AS client_id, MAX(t.created_at) AS last_at \
             FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
             WHERE g.user_id = $1 GROUP BY g.client_id",
        )
        .bind(user.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("client_id")?,
                    Instant::from_millis(row.try_get("last_at")?),
                ))
            })
            .collect()
    }

    /// Forgets what a person allowed a client and revokes every grant of theirs with it, in one
    /// transaction with the event (its `grants` detail set to how many). Nothing is written,
    /// and nothing answered withdrawn, when there was neither.
    pub async fn withdraw_application(
        &self,
        user: UserId,
        client_id: &str,
        event: AuditEvent,
    ) -> Result<Withdrawn, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let consent =
            sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
                .bind(user.to_string())
                .bind(client_id.to_owned())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
        let grants = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $3 \
             WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
        )
        .bind(user.to_string())
        .bind(client_id.to_owned())
        .bind(event.at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let withdrawn = Withdrawn { consent, grants };
        if !consent && grants == 0 {
            return Ok(withdrawn);
        }
        let grants_detail = i64::try_from(grants).unwrap_or(i64::MAX);
        audit::record(&mut tx, &event.detail("grants", grants_detail)).await?;
        tx.commit().await?;
        Ok(withdrawn)
    }
}

async fn insert_refresh_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token_hash: &str,
    grant_id: &str,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash.to_owned())
    .bind(grant_id.to_owned())
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn grant_from_row(row: &AnyRow) -> Result<GrantRecord, StoreError> {
    let user: String = row.try_get("user_id")?;
    let amr: String = row.try_get("amr")?;
    Ok(GrantRecord {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        user: UserId::parse(&user)
            .map_err(|_| StoreError::Corrupt(format!("grant of user {user:?}")))?,
        session_id: row.try_get("session_id")?,
        scope: row.try_get("scope")?,
        auth_time: Instant::from_millis(row.try_get("auth_time")?),
        amr: serde_json::from_str(&amr).map_err(|e| StoreError::Corrupt(format!("amr: {e}")))?,
        offline: row.try_get::<i64, _>("offline")? == 1,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        expires_at: Instant::from_millis(row.try_get("expires_at")?),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(Instant::from_millis),
    })
}
