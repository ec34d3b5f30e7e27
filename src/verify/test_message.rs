//! A test message through one sender, for an administrator checking its settings: the text a
//! code would have, screened and counted by the fraud guard like any code, delivered once on
//! the path every message takes, its outcome answered at once and audited.

use super::engine::{StartRequest, sender_name, sid};
use super::{Channel, Destination, SenderKind, Verify, VerifyError, fraud};
use super::{generate_code, message_text};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::delivery::{Delivered, message_context};
use crate::store::NewMessage;

/// The budgets a test message takes are those of the administrator's test service.
const TEST_SERVICE: &str = "admin-test";

/// A test message an administrator asks for, through `sender` whichever sender is in force.
#[derive(Debug, Clone)]
pub struct TestMessage<'a> {
    pub sender: SenderKind,
    pub destination: Destination,
    pub channel: Channel,
    pub actor: Actor,
    pub origin: &'a Origin,
}

/// What became of a test message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// The sender took it; `reference` is what it answered (a mail server's queue id, a
    /// Twilio message sid), if anything.
    Delivered { reference: Option<String> },
    /// The sender's own account of the failure.
    Failed { message: String },
}

impl Verify {
    /// Sends a test message and waits for its outcome: no retry, so a failure is reported as
    /// the sender met it. Refusals (a destination the channel cannot reach, the fraud guard, a
    /// full budget) are errors, as for a code.
    pub async fn send_test_message(
        &self,
        test: &TestMessage<'_>,
        now: Instant,
    ) -> Result<TestOutcome, VerifyError> {
        let settings = self.delivery.delivery_settings().await?;
        if !test.destination.accepts(test.channel) {
            return Err(VerifyError::Invalid {
                param: "Channel",
                message: format!(
                    "the {} channel cannot reach {}",
                    test.channel,
                    test.destination.masked()
                ),
            });
        }
        let request = StartRequest {
            service_id: TEST_SERVICE,
            destination: test.destination.clone(),
            channel: test.channel,
            locale: None,
            context: None,
            user: match test.actor {
                Actor::User(id) => Some(id),
                _ => None,
            },
            own_method: false,
            origin: test.origin,
            service: None,
        };
        if let Err(refusal) = fraud::screen(&settings.fraud_guard, &test.destination, test.channel)
        {
            self.audit_refusal(&request, &refusal.message(), now).await;
            return Err(VerifyError::Refused(refusal));
        }
        self.check_send_limits(&settings, &request, now).await?;

        let service = &settings.service;
        let text = message_text(
            service,
            test.channel,
            &service.default_locale,
            &generate_code(service.code_length),
        );
        let id = sid("MM");
        let message = NewMessage {
            body: self.secrets.seal(text.as_bytes(), &message_context(&id)),
            idempotency_key: format!("{TEST_SERVICE}:{id}"),
            id,
            verification_id: None,
            sender: sender_name(test.sender).to_owned(),
            channel: test.channel.as_str().to_owned(),
            destination: test.destination.as_str().to_owned(),
            subject: None,
        };
        let outcome = match self
            .delivery
            .deliver_test_message(&settings, &message, now)
            .await?
        {
            Delivered::Sent { provider_ref } => TestOutcome::Delivered {
                reference: provider_ref,
            },
            Delivered::Failed { message, .. } => TestOutcome::Failed { message },
            // A test message is never left for a retry; this reads so should that change.
            Delivered::Queued => TestOutcome::Failed {
                message: "the message waits in the queue for another attempt".into(),
            },
        };
        self.audit_test(test, &message.id, &outcome, now).await;
        Ok(outcome)
    }

    async fn audit_test(
        &self,
        test: &TestMessage<'_>,
        message_id: &str,
        outcome: &TestOutcome,
        now: Instant,
    ) {
        let event = AuditEvent::new(
            EventKind::DeliveryTest,
            test.actor.clone(),
            test.origin,
            now,
        )
        .detail("sender", sender_name(test.sender))
        .detail("channel", test.channel.as_str())
        .detail("to", test.destination.masked())
        .detail("message", message_id);
        let event = match outcome {
            TestOutcome::Delivered { .. } => event.detail("outcome", "delivered"),
            TestOutcome::Failed { message } => event
                .detail("outcome", "failed")
                .detail("error", message.as_str()),
        };
        if let Err(error) = self.audit_store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
    }
}
