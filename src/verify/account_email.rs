//! Emails that are not codes (a link to reset a forgotten password): written by the service
//! that sends them, screened and counted by the same send budgets as the codes, queued and
//! delivered on the path every message takes, through the sender of the delivery settings.

use super::engine::{StartRequest, sender_name, sid};
use super::{Channel, DeliverySettings, Destination, SenderKind, Verify, VerifyError};
use crate::audit::Origin;
use crate::clock::Instant;
use crate::delivery::message_context;
use crate::domain::{Email, UserId};
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

impl Verify {
    /// Queues an email and tries to deliver it at once (the worker retries a passing failure).
    /// Refused, with nothing queued, when a send budget is full or no sender carries email (the
    /// caller's own event says what the email was for).
    pub async fn send_account_email(
        &self,
        email: &AccountEmail<'_>,
        now: Instant,
    ) -> Result<(), VerifyError> {
        let settings = self.delivery.delivery_settings().await?;
        let sender = account_email_sender(&settings).map_err(|message| VerifyError::Invalid {
            param: "Channel",
            message: message.to_owned(),
        })?;
        let destination = Destination::Email(email.to.clone());
        let request = StartRequest {
            service_id: ACCOUNT_SERVICE,
            destination: destination.clone(),
            channel: Channel::Email,
            locale: None,
            context: None,
            user: Some(email.user),
            own_method: false,
            origin: email.origin,
            service: None,
        };
        self.check_send_limits(&settings, &request, now).await?;
        let id = sid("MM");
        let message = NewMessage {
            body: self
                .secrets
                .seal(email.body.as_bytes(), &message_context(&id)),
            idempotency_key: format!("{ACCOUNT_SERVICE}:{id}"),
            verification_id: None,
            sender: sender_name(sender).to_owned(),
            channel: Channel::Email.as_str().to_owned(),
            destination: destination.as_str().to_owned(),
            subject: Some(email.subject.clone()),
            id,
        };
        self.delivery.queue_message(&message, now).await?;
        // A failure now is the worker's to retry; the person was told the email is on its way.
        self.delivery.deliver_message_now(&message.id, now).await?;
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

/// Which sender carries an account email: the one of the delivery settings, when it sends
/// email. (Twilio Verify, when it makes the codes, sends only its own messages: the sender
/// setting still names who carries the rest.)
pub fn account_email_sender(settings: &DeliverySettings) -> Result<SenderKind, &'static str> {
    match settings.sender {
        SenderKind::Outbox | SenderKind::Smtp | SenderKind::Webhook => Ok(settings.sender),
        SenderKind::Twilio => Err(
            "the delivery settings send through Twilio's Messages API, which carries no email: \
             choose SMTP, a webhook or the outbox as the sender",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_emails_go_through_a_sender_that_carries_email() {
        let mut settings = DeliverySettings::default();
        for sender in [SenderKind::Outbox, SenderKind::Smtp, SenderKind::Webhook] {
            settings.sender = sender;
            assert_eq!(account_email_sender(&settings), Ok(sender));
        }
        settings.sender = SenderKind::Twilio;
        assert!(account_email_sender(&settings).is_err());
    }
}
