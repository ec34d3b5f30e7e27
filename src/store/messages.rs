//! The delivery queue: messages to send, claimed by one worker at a time, and their outcome.

use super::verify::{AttemptResult, MESSAGE_COLUMNS, MessageRecord, NewMessage, message_from_row};
use super::{Backend, MessageStore, StoreError};
use crate::clock::Instant;

impl MessageStore {
    /// Claims a message to deliver: the one named, or the next one due. A claim is a lease;
    /// a message whose lease ran out (its node died mid-send) is due again.
    pub async fn claim_message(
        &self,
        id: Option<&str>,
        now: Instant,
        lease_seconds: i64,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let due = "((status = 'queued' AND next_attempt_at <= $1) OR (status = 'sending' AND lease_until < $1))";
        let skip_locked = match self.store.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "UPDATE messages SET status = 'sending', lease_until = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM messages WHERE {due} AND ($3 IS NULL OR id = $3) \
                         ORDER BY next_attempt_at LIMIT 1{skip_locked}) \
               AND {due} \
             RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(now.millis())
        .bind(now.plus_seconds(lease_seconds).millis())
        .bind(id.map(str::to_owned))
        .fetch_optional(self.store.writes())
        .await?;
        row.map(|r| message_from_row(&r)).transpose()
    }

    /// Queues a message claimed already by the caller, for one attempt of its own: the worker
    /// passes it by until the lease runs out.
    pub async fn insert_claimed_message(
        &self,
        message: &NewMessage,
        now: Instant,
        lease_seconds: i64,
    ) -> Result<MessageRecord, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO messages (id, verification_id, sender, channel, destination, \
               body_ciphertext, body_key_id, status, attempts, next_attempt_at, lease_until, \
               idempotency_key, created_at, subject) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'sending', 1, $8, $9, $10, $8, $11) \
             RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(message.id.clone())
        .bind(message.verification_id.clone())
        .bind(message.sender.clone())
        .bind(message.channel.clone())
        .bind(message.destination.clone())
        .bind(message.body.ciphertext.clone())
        .bind(message.body.key_id.clone())
        .bind(now.millis())
        .bind(now.plus_seconds(lease_seconds).millis())
        .bind(message.idempotency_key.clone())
        .bind(message.subject.clone())
        .fetch_one(self.store.writes())
        .await?;
        message_from_row(&row)
    }

    /// Queues a message that is not a code (a password link), due now.
    pub async fn insert_message(
        &self,
        message: &NewMessage,
        now: Instant,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        super::verify::insert_message(&mut tx, message, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn finish_message(
        &self,
        id: &str,
        result: &AttemptResult,
        now: Instant,
    ) -> Result<(), StoreError> {
        let query = match result {
            AttemptResult::Sent { provider_ref } => sqlx::query(
                "UPDATE messages SET status = 'sent', sent_at = $2, provider_ref = $3, \
                   lease_until = NULL, last_error = NULL WHERE id = $1",
            )
            .bind(id.to_owned())
            .bind(now.millis())
            .bind(provider_ref.clone()),
            AttemptResult::Retry { at, error } => sqlx::query(
                "UPDATE messages SET status = 'queued', next_attempt_at = $2, last_error = $3, \
                   lease_until = NULL WHERE id = $1",
            )
            .bind(id.to_owned())
            .bind(at.millis())
            .bind(error.clone()),
            AttemptResult::Failed { error } => sqlx::query(
                "UPDATE messages SET status = 'failed', last_error = $2, lease_until = NULL WHERE id = $1",
            )
            .bind(id.to_owned())
            .bind(error.clone()),
        };
        query.execute(self.store.writes()).await?;
        Ok(())
    }

    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| message_from_row(&r)).transpose()
    }

    /// Messages of one sender, newest first.
    pub async fn messages_of_sender(
        &self,
        sender: &str,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender = $1 ORDER BY created_at DESC, id LIMIT $2"
        ))
        .bind(sender.to_owned())
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(message_from_row).collect()
    }
}
