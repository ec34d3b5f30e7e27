use sqlx::{Any, Row, Transaction};

use super::SessionStore;
use super::row::{Columns, Param, bind_all};
use super::{StoreError, audit, users::revoke_all_sessions};
use crate::audit::{AuditEvent, Origin};
use crate::clock::Instant;
use crate::domain::{LoginType, UserId};

pub(super) const COLUMNS: &str = "id, user_id, kind, amr, application_id, created_at, authenticated_at, \
    expires_at, revoked_at, last_seen_at, remembered";

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub user_id: UserId,
    /// How the session is used: a web session's refresh token is the pages' cookie, an API
    /// session's is traded at `/api/jwt/refresh`; neither is accepted in the other's place.
    pub kind: LoginType,
    pub amr: Vec<String>,
    pub application_id: Option<String>,
    /// SHA-256 of the refresh token; the token itself is only ever in the client's hands.
    pub refresh_hash: String,
    pub now: Instant,
    pub expires_at: Instant,
    /// A web session opened with "Remember me": its cookie outlives the browser's session.
    pub remembered: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: UserId,
    pub kind: LoginType,
    pub amr: Vec<String>,
    pub application_id: Option<String>,
    pub created_at: Instant,
    pub authenticated_at: Instant,
    pub expires_at: Instant,
    pub revoked_at: Option<Instant>,
    /// The last recorded use of a web session (at most once a minute); its opening at first.
    pub last_seen_at: Instant,
    /// Opened with "Remember me".
    pub remembered: bool,
}

impl SessionRecord {
    pub fn is_live(&self, now: Instant) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

impl SessionStore {
    /// Opens a session after a login: the user's last-login time, the session row and the
    /// audit event commit together.
    pub async fn open_session(
        &self,
        new: &NewSession,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut write = self.store.begin_write().await?;
        insert_session_in(&mut write.tx, new).await?;
        audit::record(&mut write.tx, event).await?;
        write.commit().await
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE id = $1"))
            .bind(id.to_owned())
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// The session behind a refresh token, live or not.
    pub async fn session_by_refresh_hash(
        &self,
        refresh_hash: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE refresh_hash = $1"
        ))
        .bind(refresh_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// Swaps a live session's refresh token for a new one, when the session is of `kind`, and
    /// keeps the old token's digest as spent. One conditional update: of two clients racing
    /// with the same refresh token, exactly one gets the new one.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        kind: LoginType,
        now: Instant,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut write = self.store.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE sessions SET refresh_hash = $2, refreshed_at = $3 \
             WHERE refresh_hash = $1 AND kind = $4 AND revoked_at IS NULL AND expires_at > $3 \
             RETURNING {COLUMNS}"
        ))
        .bind(old_hash.to_owned())
        .bind(new_hash.to_owned())
        .bind(now.millis())
        .bind(kind.as_str())
        .fetch_optional(&mut *write.tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session = session_from_row(&row)?;
        sqlx::query(
            "INSERT INTO spent_refresh_tokens (token_hash, session_id, spent_at) VALUES ($1, $2, $3)",
        )
        .bind(old_hash.to_owned())
        .bind(session.id.clone())
        .bind(now.millis())
        .execute(&mut *write.tx)
        .await?;
        write.commit().await?;
        Ok(Some(session))
    }

    /// The session that traded in this refresh token, and when it did, while the session row
    /// is kept.
    pub async fn spent_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(SessionRecord, Instant)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {}, t.spent_at FROM spent_refresh_tokens t \
             JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1",
            prefixed_columns("s.")
        ))
        .bind(token_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| {
            Ok((
                session_from_row(&r)?,
                Instant::from_millis(r.try_get("spent_at")?),
            ))
        })
        .transpose()
    }

    /// Revokes one live session, found by id or by refresh-token hash.
    pub async fn revoke_session(
        &self,
        id: Option<&str>,
        refresh_hash: Option<&str>,
        event: &AuditEvent,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE sessions SET revoked_at = $3 \
             WHERE (id = $1 OR refresh_hash = $2) AND revoked_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(id.map(str::to_owned))
        .bind(refresh_hash.map(str::to_owned))
        .bind(event.at.millis())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session = session_from_row(&row)?;
        let mut event = event.clone().target(session.user_id);
        event = event.detail("sessionId", session.id.clone());
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(Some(session))
    }

    pub async fn revoke_user_sessions(
        &self,
        user: UserId,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let revoked = revoke_all_sessions(&mut tx, user, event.at).await?;
        audit::record(&mut tx, &event.clone().detail("sessions", revoked)).await?;
        tx.commit().await?;
        Ok(revoked)
    }
}

/// `COLUMNS`, each behind `prefix` (a table's alias).
fn prefixed_columns(prefix: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|column| format!("{prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn session_from_row(row: &impl Columns) -> Result<SessionRecord, StoreError> {
    let user_id: String = row.column("user_id")?;
    let kind: String = row.column("kind")?;
    let amr: String = row.column("amr")?;
    Ok(SessionRecord {
        id: row.column("id")?,
        user_id: UserId::parse(&user_id)
            .map_err(|e| StoreError::Corrupt(format!("sessions.user_id: {}", e.message)))?,
        kind: LoginType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("sessions.kind: {kind}")))?,
        amr: amr.split_whitespace().map(str::to_owned).collect(),
        application_id: row.column("application_id")?,
        created_at: Instant::from_millis(row.column("created_at")?),
        authenticated_at: Instant::from_millis(row.column("authenticated_at")?),
        expires_at: Instant::from_millis(row.column("expires_at")?),
        revoked_at: row
            .column::<Option<i64>>("revoked_at")?
            .map(Instant::from_millis),
        last_seen_at: Instant::from_millis(row.column("last_seen_at")?),
        remembered: row.column::<i64>("remembered")? != 0,
    })
}

impl SessionStore {
    /// The live session of `kind` behind a refresh token (a web session's cookie holds it).
    pub async fn live_session_by_refresh_hash(
        &self,
        refresh_hash: &str,
        kind: LoginType,
        now: Instant,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions \
             WHERE refresh_hash = $1 AND kind = $3 AND revoked_at IS NULL AND expires_at > $2"
        ))
        .bind(refresh_hash.to_owned())
        .bind(now.millis())
        .bind(kind.as_str())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// Records a use of a live session at `now`.
    pub async fn touch_session(&self, id: &str, now: Instant) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_owned())
            .bind(now.millis())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }

    /// A user's live sessions, newest first, with where they came from.
    pub async fn live_sessions(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<Vec<(SessionRecord, Option<String>, Option<String>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, ip, user_agent FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC"
        ))
        .bind(user.to_string())
        .bind(now.millis())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    session_from_row(r)?,
                    r.try_get("ip")?,
                    r.try_get("user_agent")?,
                ))
            })
            .collect()
    }

    /// Records a fresh re-authentication on a session: its factors and time.
    /// Records a session's new proof of its factors, with the event that tells it when there is
    /// one (an enrolment's is the method's own event).
    pub async fn reauthenticate_session(
        &self,
        id: &str,
        amr: &[String],
        now: Instant,
        event: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query("UPDATE sessions SET amr = $2, authenticated_at = $3 WHERE id = $1")
            .bind(id.to_owned())
            .bind(amr.join(" "))
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        if let Some(event) = event {
            audit::record(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends one session of a user (not someone else's).
    pub async fn end_user_session(
        &self,
        user: UserId,
        id: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let ended = sqlx::query(
            "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id.to_owned())
        .bind(user.to_string())
        .bind(event.at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if ended == 0 {
            return Ok(false);
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn insert_pending_secret(
        &self,
        id_hash: &str,
        user: UserId,
        secret: &crate::crypto::cipher::Sealed,
        expires_at: Instant,
        now: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_secrets (id_hash, user_id, secret_ciphertext, secret_key_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash.to_owned())
        .bind(user.to_string())
        .bind(secret.ciphertext.clone())
        .bind(secret.key_id.clone())
        .bind(now.millis())
        .bind(expires_at.millis())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    pub async fn pending_secret(
        &self,
        id_hash: &str,
        user: UserId,
        now: Instant,
    ) -> Result<Option<crate::crypto::cipher::Sealed>, StoreError> {
        let row = sqlx::query(
            "SELECT secret_ciphertext, secret_key_id FROM pending_secrets \
             WHERE id_hash = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(id_hash.to_owned())
        .bind(user.to_string())
        .bind(now.millis())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| {
            Ok(crate::crypto::cipher::Sealed {
                ciphertext: r.try_get("secret_ciphertext")?,
                key_id: r.try_get("secret_key_id")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    pub async fn delete_pending_secret(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pending_secrets WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }
}

/// Notes the login on the user row and inserts its session, inside the caller's transaction.
pub(super) const TOUCH_LAST_LOGIN: &str = "UPDATE users SET last_login_at = $2 WHERE id = $1";
pub(super) const INSERT_SESSION: &str = "INSERT INTO sessions (id, user_id, amr, application_id, \
    refresh_hash, created_at, authenticated_at, expires_at, ip, user_agent, kind, last_seen_at, \
    remembered) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $6, $11)";

pub(super) fn touch_params(new: &NewSession) -> Vec<Param> {
    vec![new.user_id.to_string().into(), new.now.millis().into()]
}

pub(super) fn session_params(new: &NewSession) -> Vec<Param> {
    vec![
        new.id.clone().into(),
        new.user_id.to_string().into(),
        new.amr.join(" ").into(),
        new.application_id.clone().into(),
        new.refresh_hash.clone().into(),
        new.now.millis().into(),
        new.expires_at.millis().into(),
        new.origin.ip.clone().into(),
        new.origin.user_agent.clone().into(),
        new.kind.as_str().to_owned().into(),
        super::flag(new.remembered).into(),
    ]
}

pub(super) async fn insert_session_in(
    tx: &mut Transaction<'_, Any>,
    new: &NewSession,
) -> Result<(), StoreError> {
    bind_all(sqlx::query(TOUCH_LAST_LOGIN), touch_params(new))
        .execute(&mut **tx)
        .await?;
    bind_all(sqlx::query(INSERT_SESSION), session_params(new))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
