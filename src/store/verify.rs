//! Storage of the verify engine and the delivery queue. Every transition is one conditional
//! UPDATE, so checks, approvals, sends and claims hold under races and across nodes.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::VerifyStore;
use crate::clock::Instant;
use crate::crypto::cipher::Sealed;

const VERIFICATION_COLUMNS: &str = "id, service_id, destination, channel, status, provider, \
    provider_ref, code_hash, code_ciphertext, code_key_id, locale, check_attempts, send_attempts, \
    context, created_at, updated_at, expires_at";

pub(super) const MESSAGE_COLUMNS: &str = "id, verification_id, sender, channel, destination, \
    body_ciphertext, body_key_id, status, attempts, provider_ref, last_error, created_at, sent_at, \
    subject";

#[derive(Debug, Clone)]
pub struct VerificationRecord {
    pub id: String,
    pub service_id: String,
    pub destination: String,
    pub channel: String,
    pub status: String,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub code_hash: Option<String>,
    pub code: Option<Sealed>,
    pub locale: String,
    pub check_attempts: i64,
    pub send_attempts: i64,
    pub context: Option<String>,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub struct NewVerification {
    pub id: String,
    pub service_id: String,
    pub destination: String,
    pub channel: String,
    pub provider: String,
    pub code_hash: Option<String>,
    pub code: Option<Sealed>,
    pub locale: String,
    pub context: Option<String>,
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub verification_id: Option<String>,
    pub sender: String,
    pub channel: String,
    pub destination: String,
    /// An email's subject, for a message that is not a code (a code's is the sender's own).
    pub subject: Option<String>,
    pub body: Sealed,
    pub idempotency_key: String,
}

#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub id: String,
    pub verification_id: Option<String>,
    pub sender: String,
    pub channel: String,
    pub destination: String,
    pub subject: Option<String>,
    pub body: Sealed,
    pub status: String,
    pub attempts: i64,
    pub provider_ref: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Instant,
    pub sent_at: Option<Instant>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptResult {
    Sent { provider_ref: Option<String> },
    Retry { at: Instant, error: String },
    Failed { error: String },
}

impl VerifyStore {
    /// Marks the destination's pending verifications that ran out of time as expired.
    pub async fn expire_verifications(
        &self,
        service_id: &str,
        destination: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE verifications SET status = 'expired', updated_at = $3 \
             WHERE service_id = $1 AND destination = $2 AND status = 'pending' AND expires_at <= $3",
        )
        .bind(service_id.to_owned())
        .bind(destination.to_owned())
        .bind(now.millis())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    pub async fn pending_verification(
        &self,
        service_id: &str,
        destination: &str,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications \
             WHERE service_id = $1 AND destination = $2 AND status = 'pending'"
        ))
        .bind(service_id.to_owned())
        .bind(destination.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| verification_from_row(&r)).transpose()
    }

    pub async fn verification(&self, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| verification_from_row(&r)).transpose()
    }

    /// Creates a verification with its first send (and the message to deliver, when Tessera
    /// delivers it). `false` when another pending verification for the destination won a race.
    pub async fn create_verification(
        &self,
        new: &NewVerification,
        send_id: &str,
        message: Option<&NewMessage>,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO verifications (id, service_id, destination, channel, status, provider, \
               code_hash, code_ciphertext, code_key_id, locale, send_attempts, context, \
               created_at, updated_at, expires_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, 1, $10, $11, $11, $12)",
        )
        .bind(new.id.clone())
        .bind(new.service_id.clone())
        .bind(new.destination.clone())
        .bind(new.channel.clone())
        .bind(new.provider.clone())
        .bind(new.code_hash.clone())
        .bind(new.code.as_ref().map(|c| c.ciphertext.clone()))
        .bind(new.code.as_ref().map(|c| c.key_id.clone()))
        .bind(new.locale.clone())
        .bind(new.context.clone())
        .bind(now.millis())
        .bind(new.expires_at.millis())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        insert_send(&mut tx, send_id, &new.id, &new.channel, now).await?;
        if let Some(message) = message {
            insert_message(&mut tx, message, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Counts one more send of a pending verification (within `max_sends`) and queues its
    /// message. `None` when it is no longer pending or has no sends left.
    pub async fn add_send(
        &self,
        verification_id: &str,
        channel: &str,
        max_sends: i64,
        send_id: &str,
        message: Option<&NewMessage>,
        now: Instant,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE verifications SET send_attempts = send_attempts + 1, channel = $2, updated_at = $3 \
             WHERE id = $1 AND status = 'pending' AND expires_at > $3 AND send_attempts < $4 \
             RETURNING {VERIFICATION_COLUMNS}"
        ))
        .bind(verification_id.to_owned())
        .bind(channel.to_owned())
        .bind(now.millis())
        .bind(max_sends)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        insert_send(&mut tx, send_id, verification_id, channel, now).await?;
        if let Some(message) = message {
            insert_message(&mut tx, message, now).await?;
        }
        tx.commit().await?;
        verification_from_row(&row).map(Some)
    }

    /// Takes one check attempt before the code is compared, so concurrent checks cannot
    /// outrun the limit.
    pub async fn reserve_check(
        &self,
        verification_id: &str,
        max_checks: i64,
        now: Instant,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE verifications SET check_attempts = check_attempts + 1, updated_at = $2 \
             WHERE id = $1 AND status = 'pending' AND expires_at > $2 AND check_attempts < $3 \
             RETURNING {VERIFICATION_COLUMNS}"
        ))
        .bind(verification_id.to_owned())
        .bind(now.millis())
        .bind(max_checks)
        .fetch_optional(self.store.writes())
        .await?;
        row.map(|r| verification_from_row(&r)).transpose()
    }

    /// Moves a verification from one status to another; only one caller wins a transition.
    pub async fn transition_verification(
        &self,
        verification_id: &str,
        from: &str,
        to: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE verifications SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2",
        )
        .bind(verification_id.to_owned())
        .bind(from.to_owned())
        .bind(to.to_owned())
        .bind(now.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Approves a verification after a check that took one of its attempts compared the right
    /// code; only one caller wins. Also from `max_attempts_reached`: a check over the limit may
    /// have marked it so while this one, within the limit, was comparing.
    pub async fn approve_verification(
        &self,
        verification_id: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE verifications SET status = 'approved', updated_at = $2 \
             WHERE id = $1 AND status IN ('pending', 'max_attempts_reached')",
        )
        .bind(verification_id.to_owned())
        .bind(now.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    pub async fn set_verification_provider_ref(
        &self,
        verification_id: &str,
        provider_ref: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE verifications SET provider_ref = $2 WHERE id = $1")
            .bind(verification_id.to_owned())
            .bind(provider_ref.to_owned())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }

    /// Cancels the pending verifications made for `context`, except the one to `keep`.
    pub async fn cancel_context(
        &self,
        context: &str,
        keep: Option<&str>,
        now: Instant,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE verifications SET status = 'canceled', updated_at = $3 \
             WHERE context = $1 AND status = 'pending' AND ($2 IS NULL OR destination <> $2)",
        )
        .bind(context.to_owned())
        .bind(keep.map(str::to_owned))
        .bind(now.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected())
    }

    pub async fn pending_for_context(
        &self,
        context: &str,
    ) -> Result<Vec<VerificationRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE context = $1 AND status = 'pending'"
        ))
        .bind(context.to_owned())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(verification_from_row).collect()
    }

    pub async fn verification_sends(
        &self,
        verification_id: &str,
    ) -> Result<Vec<(String, String, Instant)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, channel, at FROM verification_sends WHERE verification_id = $1 ORDER BY at, id",
        )
        .bind(verification_id.to_owned())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("channel")?,
                    Instant::from_millis(r.try_get("at")?),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

async fn insert_send(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    verification_id: &str,
    channel: &str,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO verification_sends (id, verification_id, channel, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.to_owned())
    .bind(verification_id.to_owned())
    .bind(channel.to_owned())
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn insert_message(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    message: &NewMessage,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO messages (id, verification_id, sender, channel, destination, body_ciphertext, \
           body_key_id, status, next_attempt_at, idempotency_key, created_at, subject) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $8, $10)",
    )
    .bind(message.id.clone())
    .bind(message.verification_id.clone())
    .bind(message.sender.clone())
    .bind(message.channel.clone())
    .bind(message.destination.clone())
    .bind(message.body.ciphertext.clone())
    .bind(message.body.key_id.clone())
    .bind(now.millis())
    .bind(message.idempotency_key.clone())
    .bind(message.subject.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn verification_from_row(row: &AnyRow) -> Result<VerificationRecord, StoreError> {
    let code = match (
        row.try_get::<Option<String>, _>("code_ciphertext")?,
        row.try_get::<Option<String>, _>("code_key_id")?,
    ) {
        (Some(ciphertext), Some(key_id)) => Some(Sealed { key_id, ciphertext }),
        _ => None,
    };
    Ok(VerificationRecord {
        id: row.try_get("id")?,
        service_id: row.try_get("service_id")?,
        destination: row.try_get("destination")?,
        channel: row.try_get("channel")?,
        status: row.try_get("status")?,
        provider: row.try_get("provider")?,
        provider_ref: row.try_get("provider_ref")?,
        code_hash: row.try_get("code_hash")?,
        code,
        locale: row.try_get("locale")?,
        check_attempts: row.try_get("check_attempts")?,
        send_attempts: row.try_get("send_attempts")?,
        context: row.try_get("context")?,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        updated_at: Instant::from_millis(row.try_get("updated_at")?),
        expires_at: Instant::from_millis(row.try_get("expires_at")?),
    })
}

pub(super) fn message_from_row(row: &AnyRow) -> Result<MessageRecord, StoreError> {
    Ok(MessageRecord {
        id: row.try_get("id")?,
        verification_id: row.try_get("verification_id")?,
        sender: row.try_get("sender")?,
        channel: row.try_get("channel")?,
        destination: row.try_get("destination")?,
        subject: row.try_get("subject")?,
        body: Sealed {
            key_id: row.try_get("body_key_id")?,
            ciphertext: row.try_get("body_ciphertext")?,
        },
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        provider_ref: row.try_get("provider_ref")?,
        last_error: row.try_get("last_error")?,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        sent_at: row
            .try_get::<Option<i64>, _>("sent_at")?
            .map(Instant::from_millis),
    })
}
