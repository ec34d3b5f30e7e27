//! Trusted computers: a token that spares a user the second factor on one computer for a
//! while. Its digest is kept, renewed at each use, and the digests it had before are kept as
//! spent while the trust lives, so that a copy used after the original is recognised.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{StoreError, TwoFactorStore, audit};
use crate::audit::{AuditEvent, Origin};
use crate::clock::Instant;
use crate::domain::UserId;

const TRUST_COLUMNS: &str =
    "id, user_id, application_id, created_at, expires_at, last_used_at, ip, user_agent";

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustRecord {
    pub id: String,
    #[serde(skip)]
    pub user_id: UserId,
    pub application_id: Option<String>,
    pub insert_instant: i64,
    pub expiration_instant: i64,
    pub last_used_instant: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A computer to trust.
#[derive(Debug, Clone)]
pub struct NewTrust {
    /// Its public id (`tc_…`), which lists show.
    pub id: String,
    pub token_hash: String,
    pub user: UserId,
    pub application_id: Option<String>,
    /// The digest of the browser id cookie the trust is bound to; `None` for a token that
    /// stands alone (the API's `twoFactorTrustId`).
    pub browser_hash: Option<String>,
    pub expires_at: Instant,
}

impl TwoFactorStore {
    pub async fn insert_trust(
        &self,
        new: &NewTrust,
        origin: &Origin,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query(
            "INSERT INTO trusted_computers (id, token_hash, user_id, application_id, created_at, \
               expires_at, last_used_at, ip, user_agent, browser_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $5, $7, $8, $9)",
        )
        .bind(new.id.clone())
        .bind(new.token_hash.clone())
        .bind(new.user.to_string())
        .bind(new.application_id.clone())
        .bind(event.at.millis())
        .bind(new.expires_at.millis())
        .bind(origin.ip.clone())
        .bind(origin.user_agent.clone())
        .bind(new.browser_hash.clone())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's live trust behind this token, when it is bound to no browser or to this one.
    pub async fn live_trust(
        &self,
        token_hash: &str,
        user: UserId,
        browser_hash: Option<&str>,
        now: Instant,
    ) -> Result<Option<TrustRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TRUST_COLUMNS} FROM trusted_computers \
             WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3 \
               AND (browser_hash IS NULL OR browser_hash = $4)"
        ))
        .bind(token_hash.to_owned())
        .bind(user.to_string())
        .bind(now.millis())
        .bind(browser_hash.map(str::to_owned))
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| trust_from_row(&r)).transpose()
    }

    /// Spends a live trust's token for a new one, noting the use; the old token's digest is
    /// kept as spent. One conditional update: of two logins racing with one token, exactly one
    /// renews it.
    pub async fn renew_trust(
        &self,
        old_hash: &str,
        new_hash: &str,
        user: UserId,
        browser_hash: Option<&str>,
        now: Instant,
    ) -> Result<Option<TrustRecord>, StoreError> {
        let mut write = self.store.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE trusted_computers SET token_hash = $2, last_used_at = $4 \
             WHERE token_hash = $1 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $4 \
               AND (browser_hash IS NULL OR browser_hash = $5) \
             RETURNING {TRUST_COLUMNS}"
        ))
        .bind(old_hash.to_owned())
        .bind(new_hash.to_owned())
        .bind(user.to_string())
        .bind(now.millis())
        .bind(browser_hash.map(str::to_owned))
        .fetch_optional(&mut *write.tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let trust = trust_from_row(&row)?;
        sqlx::query(
            "INSERT INTO spent_trust_tokens (token_hash, trust_id, spent_at) VALUES ($1, $2, $3)",
        )
        .bind(old_hash.to_owned())
        .bind(trust.id.clone())
        .bind(now.millis())
        .execute(&mut *write.tx)
        .await?;
        write.commit().await?;
        Ok(Some(trust))
    }

    /// The live trust that once had this token, and when it was spent.
    pub async fn spent_trust(
        &self,
        token_hash: &str,
        now: Instant,
    ) -> Result<Option<(TrustRecord, Instant)>, StoreError> {
        let columns = TRUST_COLUMNS
            .split(", ")
            .map(|column| format!("t.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = sqlx::query(&format!(
            "SELECT {columns}, s.spent_at FROM spent_trust_tokens s \
             JOIN trusted_computers t ON t.id = s.trust_id \
             WHERE s.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2"
        ))
        .bind(token_hash.to_owned())
        .bind(now.millis())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| {
            Ok((
                trust_from_row(&r)?,
                Instant::from_millis(r.try_get("spent_at")?),
            ))
        })
        .transpose()
    }

    pub async fn trusts(&self, user: UserId, now: Instant) -> Result<Vec<TrustRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TRUST_COLUMNS} FROM trusted_computers \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC"
        ))
        .bind(user.to_string())
        .bind(now.millis())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(trust_from_row).collect()
    }

    /// Revokes one trusted computer of the user, or all of them (`id` = None).
    pub async fn revoke_trusts(
        &self,
        user: UserId,
        id: Option<&str>,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let revoked = revoke_trusts(&mut tx, user, id, event.at).await?;
        if revoked > 0 {
            audit::record(&mut tx, &event.clone().detail("revoked", revoked)).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }
}

pub(super) async fn revoke_trusts(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    id: Option<&str>,
    now: Instant,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE trusted_computers SET revoked_at = $3 \
         WHERE user_id = $1 AND ($2 IS NULL OR id = $2) AND revoked_at IS NULL",
    )
    .bind(user.to_string())
    .bind(id.map(str::to_owned))
    .bind(now.millis())
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

fn trust_from_row(row: &AnyRow) -> Result<TrustRecord, StoreError> {
    let user_id: String = row.try_get("user_id")?;
    Ok(TrustRecord {
        id: row.try_get("id")?,
        user_id: UserId::parse(&user_id).map_err(|e| {
            StoreError::Corrupt(format!("trusted_computers.user_id: {}", e.message))
        })?,
        application_id: row.try_get("application_id")?,
        insert_instant: row.try_get("created_at")?,
        expiration_instant: row.try_get("expires_at")?,
        last_used_instant: row.try_get("last_used_at")?,
        ip_address: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}
