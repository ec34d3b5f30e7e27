//! Security notices: the audit log read in order from a cursor, the computers each account has
//! logged in from, and each notice sent with its "this was not me" link (found by the digest of
//! the link's secret, which is never kept). The notices service decides; this executes.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::revoke_all_sessions;
use super::{NoticeStore, StoreError, audit, trusted_computers};
use crate::audit::{AuditEvent, Origin};
use crate::clock::Instant;
use crate::domain::UserId;

const CURSOR: &str = "notices";

/// An event of the audit log, as the notices worker reads it.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub id: i64,
    pub at: Instant,
    pub kind: String,
    pub actor: String,
    pub target: Option<String>,
    pub origin: Origin,
    pub details: serde_json::Value,
}

/// Whether an account had logged in from a computer before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSeen {
    /// The account's first known computer (its first login, or the first since notices began).
    First,
    /// A computer new to an account that has others.
    New,
    /// A computer the account logged in from before.
    Known,
}

/// A notice to keep, as the service made it.
#[derive(Debug, Clone)]
pub struct NewNotice {
    pub link_key: String,
    pub event_id: i64,
    pub user: UserId,
    pub kind: &'static str,
    pub expires_at: Instant,
}

/// A notice as kept, with the event it told of.
#[derive(Debug, Clone)]
pub struct NoticeRecord {
    pub user: UserId,
    pub kind: String,
    pub created_at: Instant,
    pub expires_at: Instant,
    pub disowned_at: Option<Instant>,
    pub event: LoggedEvent,
}

const EVENT_COLUMNS: &str = "e.id, e.at, e.event, e.actor, e.target, e.ip, e.user_agent, \
                             e.device, e.details";

impl NoticeStore {
    /// The id of the last event the worker has read.
    pub async fn cursor(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT last_event_id FROM notice_cursor WHERE name = $1")
            .bind(CURSOR)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("last_event_id")?,
            None => 0,
        })
    }

    /// Up to `limit` events after `after`, in the order they were logged.
    pub async fn events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Moves the cursor from `from` to `to`, only if it is still at `from`: of the nodes that
    /// read the same events, one claims them. `false`: another node did.
    pub async fn advance_cursor(&self, from: i64, to: i64) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE notice_cursor SET last_event_id = $3 WHERE name = $1 AND last_event_id = $2",
        )
        .bind(CURSOR)
        .bind(from)
        .bind(to)
        .execute(self.store.writes())
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    /// Notes each login's computer for its account, in one transaction, and answers whether
    /// each was seen before. A computer is remembered `keep_seconds` after its last login.
    pub async fn see_devices(
        &self,
        logins: &[(UserId, String)],
        now: Instant,
        keep_seconds: i64,
    ) -> Result<Vec<DeviceSeen>, StoreError> {
        let expires_at = now.plus_seconds(keep_seconds).millis();
        let mut tx = self.store.writes().begin().await?;
        let mut seen = Vec::with_capacity(logins.len());
        for (user, device) in logins {
            let known = sqlx::query(
                "UPDATE known_devices SET last_seen = $3, expires_at = $4 \
                 WHERE user_id = $1 AND device = $2",
            )
            .bind(user.to_string())
            .bind(device.clone())
            .bind(now.millis())
            .bind(expires_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if known > 0 {
                seen.push(DeviceSeen::Known);
                continue;
            }
            let others: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM known_devices WHERE user_id = $1")
                    .bind(user.to_string())
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
            // An account deleted since it logged in has no computers to remember; its row
            // would break the foreign key and lose the whole batch.
            let inserted = sqlx::query(
                "INSERT INTO known_devices (user_id, device, first_seen, last_seen, expires_at) \
                 SELECT $1, $2, $3, $3, $4 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)",
            )
            .bind(user.to_string())
            .bind(device.clone())
            .bind(now.millis())
            .bind(expires_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            seen.push(if inserted == 0 {
                DeviceSeen::Known
            } else if others == 0 {
                DeviceSeen::First
            } else {
                DeviceSeen::New
            });
        }
        tx.commit().await?;
        Ok(seen)
    }

    /// Keeps a notice. `false`, with nothing written: the event already has its notice.
    pub async fn record_notice(
        &self,
        notice: &NewNotice,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let kept = sqlx::query(
            "INSERT INTO security_notices (link_key, event_id, user_id, kind, created_at, \
               expires_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(notice.link_key.clone())
        .bind(notice.event_id)
        .bind(notice.user.to_string())
        .bind(notice.kind)
        .bind(now.millis())
        .bind(notice.expires_at.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected();
        Ok(kept == 1)
    }

    pub async fn notice(&self, link_key: &str) -> Result<Option<NoticeRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT n.user_id, n.kind, n.created_at, n.expires_at, n.disowned_at, \
               {EVENT_COLUMNS} \
             FROM security_notices n JOIN audit_events e ON e.id = n.event_id \
             WHERE n.link_key = $1"
        ))
        .bind(link_key.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|row| {
            let user: String = row.try_get("user_id")?;
            Ok(NoticeRecord {
                user: UserId::parse(&user)
                    .map_err(|_| StoreError::Corrupt(format!("notice of user {user:?}")))?,
                kind: row.try_get("kind")?,
                created_at: Instant::from_millis(row.try_get("created_at")?),
                expires_at: Instant::from_millis(row.try_get("expires_at")?),
                disowned_at: row
                    .try_get::<Option<i64>, _>("disowned_at")?
                    .map(Instant::from_millis),
                event: event_from_row(&row)?,
            })
        })
        .transpose()
    }

    /// The person says the notice's event was not theirs: marks the notice, ends every session
    /// of its account and the trust of every computer, with the event, in one transaction;
    /// only while the notice is unexpired and not yet disowned. Of many at once, one does it.
    pub async fn disown(
        &self,
        link_key: &str,
        user: UserId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        let marked = sqlx::query(
            "UPDATE security_notices SET disowned_at = $3 \
             WHERE link_key = $1 AND user_id = $2 AND disowned_at IS NULL AND expires_at > $3",
        )
        .bind(link_key.to_owned())
        .bind(user.to_string())
        .bind(now.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        let sessions = revoke_all_sessions(&mut tx, user, now).await?;
        let trusts = trusted_computers::revoke_trusts(&mut tx, user, None, now).await?;
        let app_passwords = super::app_passwords::revoke_all_app_passwords(&mut tx, user).await?;
        let event = event
            .clone()
            .detail("sessionsEnded", sessions)
            .detail("trustsRevoked", trusts)
            .detail("appPasswordsRevoked", app_passwords);
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn event_from_row(row: &AnyRow) -> Result<LoggedEvent, StoreError> {
    let details: String = row.try_get("details")?;
    Ok(LoggedEvent {
        id: row.try_get("id")?,
        at: Instant::from_millis(row.try_get("at")?),
        kind: row.try_get("event")?,
        actor: row.try_get("actor")?,
        target: row.try_get("target")?,
        origin: Origin {
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            device: row.try_get("device")?,
        },
        details: serde_json::from_str(&details).unwrap_or_default(),
    })
}
