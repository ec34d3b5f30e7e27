//! Delivery: the durable queue of messages and the senders that carry them (the development
//! outbox, Twilio's Messages and Calls APIs, SMTP, a signed webhook) — and the calls to Twilio
//! Verify when it makes the codes.
//!
//! A message is a row before it is anything else, so a crash between accepting a request and
//! sending loses nothing: the request path tries to deliver at once (to tell the user about a
//! refused number), and the worker retries what failed for a passing reason, with backoff,
//! until it gives up and marks the message failed.

mod outbox;
mod smtp;
mod stored;
pub mod twilio;
mod webhook;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

pub use outbox::OutboxMessage;
pub use stored::DeliverySettingsError;

use crate::clock::Instant;
use crate::crypto::cipher::SecretBox;
use crate::delivery_settings::DeliverySettings;
use crate::domain::Channel;
use crate::store::{
    AttemptResult, MessageRecord, MessageStore, NewMessage, SettingStore, Store, StoreError,
    VerifyStore,
};

/// Sends messages: at once when a code is made, or later from the queue (`worker`).
#[derive(Clone)]
pub struct Delivery {
    message_store: MessageStore,
    setting_store: SettingStore,
    verify_store: VerifyStore,
    secrets: SecretBox,
    /// For the providers (Twilio, webhooks), with time-outs.
    http: reqwest::Client,
    /// The configuration's delivery settings; stored settings override them.
    defaults: Arc<DeliverySettings>,
}

impl Delivery {
    pub fn new(store: Store, secrets: SecretBox, defaults: DeliverySettings) -> Self {
        Self {
            message_store: store.messages(),
            setting_store: store.settings(),
            verify_store: store.verify(),
            secrets,
            http: http_client(),
            defaults: Arc::new(defaults),
        }
    }
}

/// A claimed message is reserved for the delivery time-out (which bounds the whole attempt)
/// plus this margin to record the outcome. No longer: a message whose node died mid-send waits
/// out the lease before another attempt, so a long lease only delays the code after a crash.
const LEASE_MARGIN_SECONDS: i64 = 5;
/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 6;

/// Why a send did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Trying again will not help (invalid number, landline, blocked country…). `code` is
    /// Twilio's error code where there is one.
    Permanent { code: Option<u32>, message: String },
    /// Trying again later may (a time-out, a 5xx, a rate limit at the provider).
    Transient(String),
}

/// What a delivery attempt made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Sent {
        provider_ref: Option<String>,
    },
    /// A passing failure: the worker tries again later.
    Queued,
    Failed {
        code: Option<u32>,
        message: String,
    },
}

/// Whether a passing failure is tried again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retries {
    /// By the worker, with backoff, up to [`MAX_ATTEMPTS`]: a code on its way to a user.
    Later,
    /// Never: a test message, whose outcome an administrator waits for.
    Never,
}

/// Backoff after `n` failed retries: 5 s, 10 s, 20 s… up to 10 minutes.
pub fn retry_delay_seconds(attempts: i64) -> i64 {
    (5_i64 << attempts.clamp(0, 7)).min(600)
}

pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

impl Delivery {
    /// Tries to deliver one queued message now. `None` when another node or the worker has
    /// it already.
    pub async fn deliver_message_now(
        &self,
        id: &str,
        now: Instant,
    ) -> Result<Option<Delivered>, StoreError> {
        let settings = self.settings_for_delivery().await;
        let Some(message) = self
            .message_store
            .claim_message(Some(id), now, lease_seconds(&settings))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            self.attempt(&settings, &message, Retries::Later, now)
                .await?,
        ))
    }

    /// Queues a test message already claimed and delivers it once, through the sender it
    /// names, as any message is: the outcome is the sender's own, a passing failure included.
    pub async fn deliver_test_message(
        &self,
        settings: &DeliverySettings,
        message: &NewMessage,
        now: Instant,
    ) -> Result<Delivered, StoreError> {
        let claimed = self
            .message_store
            .insert_claimed_message(message, now, lease_seconds(settings))
            .await?;
        self.attempt(settings, &claimed, Retries::Never, now).await
    }

    /// Queues a message that is not a code (a password link), due now.
    pub async fn queue_message(
        &self,
        message: &NewMessage,
        now: Instant,
    ) -> Result<(), StoreError> {
        self.message_store.insert_message(message, now).await
    }

    /// Delivers every message due now (what the worker does each tick; tests call it to
    /// drain the queue), one claim at a time. Returns how many were attempted.
    pub async fn deliver_due(&self, now: Instant) -> Result<usize, StoreError> {
        let mut attempted = 0;
        loop {
            // Read for each message, so a change of settings applies to the next one.
            let settings = self.settings_for_delivery().await;
            let Some(message) = self
                .message_store
                .claim_message(None, now, lease_seconds(&settings))
                .await?
            else {
                return Ok(attempted);
            };
            self.attempt(&settings, &message, Retries::Later, now)
                .await?;
            attempted += 1;
        }
    }

    async fn settings_for_delivery(&self) -> DeliverySettings {
        match self.delivery_settings().await {
            Ok(settings) => settings,
            Err(error) => {
                tracing::error!(%error, "cannot read delivery settings");
                DeliverySettings::default()
            }
        }
    }

    async fn attempt(
        &self,
        settings: &DeliverySettings,
        message: &MessageRecord,
        retries: Retries,
        now: Instant,
    ) -> Result<Delivered, StoreError> {
        let outcome = match self
            .secrets
            .open(&message.body, &message_context(&message.id))
        {
            // The time-out bounds the whole attempt (SMTP's applies to each command), so the
            // attempt ends inside its lease and no other node sends the message meanwhile.
            Ok(body) => tokio::time::timeout(
                Duration::from_secs(settings.timeout_seconds),
                self.send(settings, message, &String::from_utf8_lossy(&body)),
            )
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Transient(format!(
                    "the provider did not answer in {} s",
                    settings.timeout_seconds
                )))
            }),
            Err(error) => Err(SendError::Permanent {
                code: None,
                message: format!("the message cannot be opened: {error}"),
            }),
        };
        let (result, delivered) = match outcome {
            Ok(provider_ref) => (
                AttemptResult::Sent {
                    provider_ref: provider_ref.clone(),
                },
                Delivered::Sent { provider_ref },
            ),
            Err(SendError::Transient(error)) if retries == Retries::Never => (
                AttemptResult::Failed {
                    error: error.clone(),
                },
                Delivered::Failed {
                    code: None,
                    message: error,
                },
            ),
            Err(SendError::Transient(error)) if message.attempts < MAX_ATTEMPTS => (
                AttemptResult::Retry {
                    at: now.plus_seconds(retry_delay_seconds(message.attempts - 1)),
                    error: error.clone(),
                },
                Delivered::Queued,
            ),
            Err(SendError::Transient(error)) => (
                AttemptResult::Failed {
                    error: format!("gave up after {} attempts: {error}", message.attempts),
                },
                Delivered::Failed {
                    code: None,
                    message: "the message could not be delivered; try again later".into(),
                },
            ),
            Err(SendError::Permanent {
                code,
                message: error,
            }) => (
                AttemptResult::Failed {
                    error: error.clone(),
                },
                Delivered::Failed {
                    code,
                    message: error,
                },
            ),
        };
        let channel = message
            .channel
            .parse::<Channel>()
            .map(|c| c.as_str())
            .unwrap_or("?");
        let to = crate::domain::Destination::parse(&message.destination)
            .map(|d| d.masked())
            .unwrap_or_else(|_| "?".into());
        match &delivered {
            Delivered::Sent { .. } => {
                metrics::counter!("tessera_messages_total", "sender" => message.sender.clone(), "outcome" => "sent").increment(1);
                tracing::info!(message = %message.id, sender = %message.sender, channel, to = %to, "message delivered");
            }
            Delivered::Queued => {
                metrics::counter!("tessera_messages_total", "sender" => message.sender.clone(), "outcome" => "retry").increment(1);
                tracing::warn!(message = %message.id, sender = %message.sender, attempt = message.attempts, "delivery failed for now; will retry");
            }
            Delivered::Failed { message: why, .. } => {
                metrics::counter!("tessera_messages_total", "sender" => message.sender.clone(), "outcome" => "failed").increment(1);
                tracing::warn!(message = %message.id, sender = %message.sender, reason = %why, "delivery failed");
            }
        }
        self.message_store
            .finish_message(&message.id, &result, now)
            .await?;
        if let (
            Delivered::Sent {
                provider_ref: Some(reference),
            },
            Some(verification),
            "twilio_verify",
        ) = (
            &delivered,
            &message.verification_id,
            message.sender.as_str(),
        ) {
            self.verify_store
                .set_verification_provider_ref(verification, reference)
                .await?;
        }
        Ok(delivered)
    }

    async fn send(
        &self,
        settings: &DeliverySettings,
        message: &MessageRecord,
        body: &str,
    ) -> Result<Option<String>, SendError> {
        let channel: Channel = message.channel.parse().map_err(|_| SendError::Permanent {
            code: None,
            message: "unknown channel".into(),
        })?;
        match message.sender.as_str() {
            "outbox" => Ok(None),
            "twilio" => twilio::send_message(
                &self.http,
                &settings.twilio,
                settings.timeout_seconds,
                channel,
                &message.destination,
                body,
            )
            .await
            .map(Some),
            "twilio_verify" => twilio::start_verification(
                &self.http,
                &settings.twilio,
                settings.timeout_seconds,
                channel,
                &message.destination,
                body,
            )
            .await
            .map(Some),
            "smtp" if channel == Channel::Email => {
                smtp::send(
                    settings,
                    &message.destination,
                    message.subject.as_deref(),
                    body,
                )
                .await
            }
            "smtp" => Err(SendError::Permanent {
                code: None,
                message: "the SMTP sender only sends email; choose another sender for phones"
                    .into(),
            }),
            "webhook" => webhook::send(&self.http, settings, message, channel, body)
                .await
                .map(|()| None),
            other => Err(SendError::Permanent {
                code: None,
                message: format!("the {other} sender is not available"),
            }),
        }
    }
}

/// How long a claim reserves a message: the attempt's time-out plus room to record it.
fn lease_seconds(settings: &DeliverySettings) -> i64 {
    // The settings hold it between 1 and 60 seconds.
    i64::try_from(settings.timeout_seconds).unwrap_or(60) + LEASE_MARGIN_SECONDS
}

/// The associated data a message body is sealed with.
pub(crate) fn message_context(id: &str) -> String {
    format!("message:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_ten_minutes() {
        let delays: Vec<i64> = (0..9).map(retry_delay_seconds).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
    }
}
