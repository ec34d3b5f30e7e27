//! The notices worker: reads the audit log from where it stopped, notes the computer of each
//! login, and sends the notices the events call for. On every node; the cursor lets one node
//! claim each batch of events.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::rules::{self, Happened};
use super::texts::{LINK_DAYS, told};
use super::{NoticeError, NoticeSettings, Notices};
use crate::audit::{Actor, AuditEvent, EventKind};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{Destination, NoticeId};
use crate::store::{DeviceSeen, LoggedEvent, NewNotice};
use crate::verify::{AccountEmail, AccountText};

const TICK: Duration = Duration::from_secs(1);
/// Events read at a time.
const BATCH: i64 = 500;
/// A computer not logged in from for this long is new again (as long as a browser keeps its id).
const DEVICE_MEMORY_SECONDS: i64 = 400 * 86_400;

/// Starts the worker; it stops when `stop` turns true.
pub fn spawn(notices: Notices, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                match notices.tell_what_happened(Instant::now()).await {
                    Ok(read) if read == BATCH as usize => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::error!(%error, "notices worker: cannot read the audit log");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
        tracing::info!("notices worker stopped");
    })
}

impl Notices {
    /// Reads the events logged since the last pass, and tells each person of what they call
    /// for. Answers how many events it read (none when another node claimed them).
    pub async fn tell_what_happened(&self, now: Instant) -> Result<usize, NoticeError> {
        let cursor = self.notice_store.cursor().await?;
        let settled = now.plus_seconds(-self.settle_seconds);
        let events: Vec<LoggedEvent> = self
            .notice_store
            .events_after(cursor, BATCH)
            .await?
            .into_iter()
            .take_while(|e| self.settle_seconds == 0 || e.at.millis() <= settled.millis())
            .collect();
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(0);
        };
        if !self.notice_store.advance_cursor(cursor, last).await? {
            return Ok(0);
        }
        let seen = self.see_computers(&events, now).await?;
        let settings = self.settings().await?;
        for (event, device) in events.iter().zip(seen) {
            let Some(happened) = rules::notice_for(event, device) else {
                continue;
            };
            if !settings.tells(happened.kind) {
                continue;
            }
            if let Err(error) = self.tell(event, &happened, &settings, now).await {
                tracing::error!(%error, event = event.id, "cannot send a security notice");
            }
        }
        Ok(events.len())
    }

    /// Notes the computer of every login among `events`; for each event, whether its computer
    /// was known (`None` for an event that is not a login).
    async fn see_computers(
        &self,
        events: &[LoggedEvent],
        now: Instant,
    ) -> Result<Vec<Option<DeviceSeen>>, NoticeError> {
        let logins: Vec<_> = events.iter().map(rules::login_of).collect();
        let computers: Vec<_> = logins.iter().flatten().cloned().collect();
        let mut seen = self
            .notice_store
            .see_devices(&computers, now, DEVICE_MEMORY_SECONDS)
            .await?
            .into_iter();
        Ok(logins
            .iter()
            .map(|login| login.as_ref().and_then(|_| seen.next()))
            .collect())
    }

    /// Sends one notice to the person's verified address and, where the settings allow it,
    /// their phone; keeps its link first, so that it works when it arrives.
    async fn tell(
        &self,
        event: &LoggedEvent,
        happened: &Happened,
        settings: &NoticeSettings,
        now: Instant,
    ) -> Result<(), NoticeError> {
        let Some(user) = self.user_store.user(happened.user).await? else {
            return Ok(());
        };
        if !user.active {
            return Ok(());
        }
        let email = user.verified_email().filter(|_| settings.email).cloned();
        let phone = if settings.sms {
            self.two_factor
                .phone_of(user.id)
                .await
                .map_err(anyhow::Error::from)?
        } else {
            None
        };
        if email.is_none() && phone.is_none() {
            return Ok(());
        }
        let locale = self
            .verify
            .message_locale()
            .await
            .map_err(anyhow::Error::from)?;
        let id = NoticeId::parse(&random::token(32))
            .map_err(|e| anyhow::anyhow!("a new notice link is malformed: {e}"))?;
        let notice = NewNotice {
            link_key: super::link_key(&id),
            event_id: event.id,
            user: user.id,
            kind: happened.kind.as_str(),
            expires_at: now.plus_seconds(LINK_DAYS * 86_400),
        };
        if !self.notice_store.record_notice(&notice, now).await? {
            return Ok(());
        }
        let link = format!("{}/not-me/{}", self.public_url, id.expose());
        let security = format!("{}/security", self.public_url);
        let told = told(event, happened, &user, &self.product_name, &link, &security);
        // A notice is not a stranger's request: it counts against the account's, the
        // destination's and the server's budgets, not the address the event came from.
        let origin = crate::audit::Origin::default();
        let mut sent = AuditEvent::new(EventKind::NoticeSent, Actor::System, &origin, now)
            .target(user.id)
            .detail("notice", happened.kind.as_str())
            .detail("eventId", event.id);
        if let Some(address) = &email {
            let message = AccountEmail {
                user: user.id,
                to: address,
                subject: told.subject(&locale, &settings.templates),
                body: told.body(&locale, &settings.templates),
                origin: &origin,
            };
            let outcome = self.verify.send_account_email(&message, now).await;
            sent = sent.detail(
                "email",
                outcome_of(Destination::Email(address.clone()), outcome),
            );
        }
        if let Some(phone) = &phone {
            let message = AccountText {
                user: user.id,
                to: phone,
                body: told.sms(&locale, &settings.templates),
                origin: &origin,
            };
            let outcome = self.verify.send_account_text(&message, now).await;
            sent = sent.detail(
                "sms",
                outcome_of(Destination::Phone(phone.clone()), outcome),
            );
        }
        self.audit_store.record_event(&sent).await?;
        Ok(())
    }
}

/// Where a notice went, masked, or why it did not, as the audit log keeps it.
fn outcome_of(
    to: Destination,
    outcome: Result<(), crate::verify::VerifyError>,
) -> serde_json::Value {
    match outcome {
        Ok(()) => serde_json::json!({ "to": to.masked() }),
        Err(error) => serde_json::json!({ "to": to.masked(), "refused": error.to_string() }),
    }
}
