//! Messages that are not codes (an email with a link to reset a forgotten password, a security
//! notice by email or text): written by the service that sends them, screened and counted by
//! the same send budgets as the codes, queued and delivered on the path every message takes,
//! through the sender of the delivery settings.

use super::engine::{StartRequest, sender_name, sid};
use super::{Channel, DeliverySettings, Destination, SenderKind, Verify, VerifyError};
use crate::audit::Origin;
use crate::clock::Instant;
use crate::delivery::message_context;
use crate::domain::{Email, PhoneNumber, UserId};
use crate::store::{Counter, NewMessage};

/// The budgets an account email takes are those of Tessera's own codes: a flood of reset
/// requests uses up the same allowance per account, address and destination as a flood of codes.
const ACCOUNT_SERVICE: &str = "tessera";

/// An email to one person's address. No `Debug`: the body holds a live link.
pub struct AccountEmail<'a> {
    pub user: UserId,
    pub to: &'a Email,
    pub subject: String,
    pub body: String,
    pub origin: &'a Origin,
}

/// A text message to one person's phone. No `Debug`: the body holds a live link.
pub struct AccountText<'a> {
    pub user: UserId,
    pub to: &'a PhoneNumber,
    pub body: String,
    pub origin: &'a Origin,
}

/// What one account message is, whichever way it goes.
struct AccountMessage<'a> {
    user: UserId,
    destination: Destination,
    channel: Channel,
    subject: Option<String>,
    body: &'a str,
    origin: &'a Origin,
}

impl Verify {
    /// Queues an email and tries to deliver it at once (the worker retries a passing failure).
    /// Refused, with nothing queued, when a send budget is full or no sender carries email (the
    /// caller's own event says what the email was for).
    pub async fn send_account_email(
        &self,
        email: &AccountEmail<'_>,
        now: Instant,
    ) -> Result<(), VerifyError> {
        let message = AccountMessage {
            user: email.user,
            destination: Destination::Email(email.to.clone()),
            channel: Channel::Email,
            subject: Some(email.subject.clone()),
            body: &email.body,
            origin: email.origin,
        };
        self.send_account_message(&message, now).await
    }

    /// Queues a text message and tries to deliver it at once, as `send_account_email` does.
    pub async fn send_account_text(
        &self,
        text: &AccountText<'_>,
        now: Instant,
    ) -> Result<(), VerifyError> {
        let message = AccountMessage {
            user: text.user,
            destination: Destination::Phone(text.to.clone()),
            channel: Channel::Sms,
            subject: None,
            body: &text.body,
            origin: text.origin,
        };
        self.send_account_message(&message, now).await
    }

    /// The locale account messages are written in: the delivery settings' default.
    pub async fn message_locale(&self) -> Result<String, VerifyError> {
        Ok(self
            .delivery
            .delivery_settings()
            .await?
            .service
            .default_locale)
    }

    async fn send_account_message(
        &self,
        message: &AccountMessage<'_>,
        now: Instant,
    ) -> Result<(), VerifyError> {
        let settings = self.delivery.delivery_settings().await?;
        let sender = account_message_sender(&settings, message.channel).map_err(|problem| {
            VerifyError::Invalid {
                param: "Channel",
                message: problem.to_owned(),
            }
        })?;
        let request = StartRequest {
            service_id: ACCOUNT_SERVICE,
            destination: message.destination.clone(),
            channel: message.channel,
            locale: None,
            context: None,
            user: Some(message.user),
            own_method: false,
            origin: message.origin,
            service: None,
        };
        self.check_send_limits(&settings, &request, now).await?;
        let id = sid("MM");
        let queued = NewMessage {
            body: self
                .secrets
                .seal(message.body.as_bytes(), &message_context(&id)),
            idempotency_key: format!("{ACCOUNT_SERVICE}:{id}"),
            verification_id: None,
            sender: sender_name(sender).to_owned(),
            channel: message.channel.as_str().to_owned(),
            destination: message.destination.as_str().to_owned(),
            subject: message.subject.clone(),
            id,
        };
        self.delivery.queue_message(&queued, now).await?;
        // A failure now is the worker's to retry; the person was told the message is on its way.
        self.delivery.deliver_message_now(&queued.id, now).await?;
        Ok(())
    }
}

impl Verify {
    /// Counts a request that may send an account email (a forgotten password's) against the
    /// client address's send budget, before anyone is looked up: a flood from one address is
    /// refused alike whether the accounts it names exist or not. `purpose` keeps the count
    /// apart from the address's code sends, which the email itself counts against.
    pub async fn take_request_budget(
        &self,
        purpose: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<Admitted, VerifyError> {
        let settings = self.delivery.delivery_settings().await?;
        let guard = &settings.fraud_guard;
        let (true, Some(ip)) = (guard.enabled, origin.ip.as_deref()) else {
            return Ok(Admitted::Now);
        };
        let counter = Counter::new(format!("{purpose}:ip:{ip}"), &guard.per_ip, now);
        Ok(match self.counter_store.take(&[counter]).await?.first() {
            None => Admitted::Now,
            Some(full) => Admitted::NotBefore(full.room_at),
        })
    }
}

/// Whether a request was let through its address's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    Now,
    /// The budget is full until then.
    NotBefore(Instant),
}

/// Which sender carries an account message: the one of the delivery settings, when it carries
/// the channel. (Twilio Verify, when it makes the codes, sends only its own messages: the
/// sender setting still names who carries the rest.)
pub fn account_message_sender(
    settings: &DeliverySettings,
    channel: Channel,
) -> Result<SenderKind, &'static str> {
    match (settings.sender, channel) {
        (SenderKind::Outbox | SenderKind::Webhook, _) => Ok(settings.sender),
        (SenderKind::Smtp, Channel::Email) => Ok(settings.sender),
        (SenderKind::Twilio, channel) if channel != Channel::Email => Ok(settings.sender),
        (SenderKind::Twilio, _) => Err(
            "the delivery settings send through Twilio's Messages API, which carries no email: \
             choose SMTP, a webhook or the outbox as the sender",
        ),
        (SenderKind::Smtp, _) => Err(
            "the delivery settings send through SMTP, which carries no text message: choose \
             Twilio, a webhook or the outbox as the sender",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_messages_go_through_a_sender_that_carries_their_channel() {
        let mut settings = DeliverySettings::default();
        for sender in [SenderKind::Outbox, SenderKind::Smtp, SenderKind::Webhook] {
            settings.sender = sender;
            assert_eq!(
                account_message_sender(&settings, Channel::Email),
                Ok(sender)
            );
        }
        for sender in [SenderKind::Outbox, SenderKind::Twilio, SenderKind::Webhook] {
            settings.sender = sender;
            assert_eq!(account_message_sender(&settings, Channel::Sms), Ok(sender));
        }
        settings.sender = SenderKind::Twilio;
        assert!(account_message_sender(&settings, Channel::Email).is_err());
        settings.sender = SenderKind::Smtp;
        assert!(account_message_sender(&settings, Channel::Sms).is_err());
    }
}
