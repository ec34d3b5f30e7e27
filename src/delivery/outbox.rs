//! The development outbox: a sender that keeps its messages instead of sending them, so that
//! someone trying Tessera can read the codes at `/dev/outbox`.

use super::Delivery;
use super::message_context;
use crate::clock::Instant;
use crate::store::StoreError;

/// A message of the outbox with its text opened.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: String,
    pub channel: String,
    pub destination: String,
    /// An email's own subject (a password link's); a code's has none.
    pub subject: Option<String>,
    /// "(unreadable)" when it cannot be opened.
    pub body: String,
    pub status: String,
    pub created_at: Instant,
}

impl Delivery {
    /// The outbox's latest messages, newest first.
    pub async fn outbox_messages(&self, limit: i64) -> Result<Vec<OutboxMessage>, StoreError> {
        let stored = self
            .message_store
            .messages_of_sender("outbox", limit)
            .await?;
        Ok(stored
            .into_iter()
            .map(|m| {
                let body = self
                    .secrets
                    .open(&m.body, &message_context(&m.id))
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|_| "(unreadable)".into());
                OutboxMessage {
                    id: m.id,
                    channel: m.channel,
                    destination: m.destination,
                    subject: m.subject,
                    body,
                    status: m.status,
                    created_at: m.created_at,
                }
            })
            .collect())
    }
}
