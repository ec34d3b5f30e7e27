//! "This was not me": the page a notice's link opens says what happened; its button ends every
//! session of the account and the trust of every computer, and emails a link to choose a new
//! password. The link works for seven days, and once; it lets nobody in (the password link it
//! sends lives 15 minutes, and the next login still asks for the second factor).

use super::rules::{self, Happened};
use super::texts::told;
use super::{NOTICE_ID_FIELD, NoticeError, NoticeKind, Notices, link_key};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{FieldError, Invalid, NoticeId};
use crate::store::{DeviceSeen, NoticeRecord};

/// What the page of a notice's link shows.
#[derive(Debug, Clone)]
pub struct NoticeState {
    pub kind: NoticeKind,
    pub username: String,
    /// What happened, as the notice said it.
    pub what: String,
    pub when: String,
    pub from: Option<String>,
    pub browser: Option<String>,
    /// When the person said it was not them, if they did.
    pub disowned_at: Option<Instant>,
}

/// The outcome of "this was not me".
#[derive(Debug, Clone)]
pub struct Disowned {
    pub state: NoticeState,
    /// `false`: the notice had been disowned already (by an earlier press, or one at the same
    /// time), and nothing more was done.
    pub now: bool,
    /// The address a link to choose a new password went to, masked, if one did.
    pub reset_sent_to: Option<String>,
}

impl Notices {
    /// The notice a link was sent with, for its page. Opening it changes nothing.
    pub async fn notice_state(&self, raw: &str, now: Instant) -> Result<NoticeState, NoticeError> {
        let (_, record) = self.live_notice(raw, now).await?;
        self.state_of(&record).await
    }

    /// Ends every session of the notice's account and the trust of every computer, and emails
    /// a link to choose a new password; once per notice, however many times it is asked.
    pub async fn disown(
        &self,
        raw: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<Disowned, NoticeError> {
        let (key, record) = self.live_notice(raw, now).await?;
        if record.disowned_at.is_some() {
            return Ok(Disowned {
                state: self.state_of(&record).await?,
                now: false,
                reset_sent_to: None,
            });
        }
        let event = AuditEvent::new(
            EventKind::NoticeDisowned,
            Actor::User(record.user),
            origin,
            now,
        )
        .target(record.user)
        .detail("notice", record.kind.clone())
        .detail("eventId", record.event.id);
        let now_disowned = self.notice_store.disown(&key, record.user, &event).await?;
        let reset_sent_to = if now_disowned {
            // The account is safe once its sessions are over; a failed email is the log's.
            match self
                .recovery
                .send_reset_email(record.user, origin, now)
                .await
            {
                Ok(sent_to) => sent_to,
                Err(error) => {
                    tracing::error!(%error, user = %record.user, "cannot email a password link after a disowned notice");
                    None
                }
            }
        } else {
            None
        };
        let record = self
            .notice_store
            .notice(&key)
            .await?
            .ok_or(NoticeError::UnknownLink)?;
        Ok(Disowned {
            state: self.state_of(&record).await?,
            now: now_disowned,
            reset_sent_to,
        })
    }

    /// The notice of a link, unless the link is malformed, unknown, or expired before anyone
    /// disowned it.
    async fn live_notice(
        &self,
        raw: &str,
        now: Instant,
    ) -> Result<(String, NoticeRecord), NoticeError> {
        let id = NoticeId::parse(raw).map_err(|e: Invalid| {
            NoticeError::Invalid(vec![FieldError::new(NOTICE_ID_FIELD, e)])
        })?;
        let key = link_key(&id);
        let record = self
            .notice_store
            .notice(&key)
            .await?
            .ok_or(NoticeError::UnknownLink)?;
        link_verdict(&record, now)?;
        Ok((key, record))
    }

    async fn state_of(&self, record: &NoticeRecord) -> Result<NoticeState, NoticeError> {
        let user = self
            .user_store
            .user(record.user)
            .await?
            .ok_or(NoticeError::UnknownLink)?;
        let happened = happened_of(record)?;
        let told = told(&record.event, &happened, &user, &self.product_name, "", "");
        Ok(NoticeState {
            kind: happened.kind,
            username: user.username.to_string(),
            what: told.what(),
            when: told.when.clone(),
            from: record.event.origin.ip.clone(),
            browser: record.event.origin.user_agent.clone(),
            disowned_at: record.disowned_at,
        })
    }
}

/// Whether a notice's link still works: until it expires, or for ever once it was used (its
/// page then says when).
fn link_verdict(record: &NoticeRecord, now: Instant) -> Result<(), NoticeError> {
    if record.disowned_at.is_none() && now.millis() >= record.expires_at.millis() {
        return Err(NoticeError::Expired);
    }
    Ok(())
}

/// What a kept notice told of, read again from its event.
fn happened_of(record: &NoticeRecord) -> Result<Happened, NoticeError> {
    let happened = rules::notice_for(&record.event, Some(DeviceSeen::New)).ok_or_else(|| {
        NoticeError::Internal(anyhow::anyhow!(
            "notice of event {} no longer reads as one",
            record.event.id
        ))
    })?;
    Ok(happened)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;
    use crate::store::LoggedEvent;

    fn record(expires_at: i64, disowned_at: Option<i64>) -> NoticeRecord {
        let user = UserId::new();
        NoticeRecord {
            user,
            kind: "newComputer".into(),
            created_at: Instant::from_millis(0),
            expires_at: Instant::from_millis(expires_at),
            disowned_at: disowned_at.map(Instant::from_millis),
            event: LoggedEvent {
                id: 7,
                at: Instant::from_millis(0),
                kind: EventKind::LoginSuccess.as_str().into(),
                actor: format!("user:{user}"),
                target: Some(user.to_string()),
                origin: Origin::default(),
                details: serde_json::json!({}),
            },
        }
    }

    #[test]
    fn a_link_works_until_it_expires_and_a_used_one_still_shows_when() {
        let now = Instant::from_millis(1_000);
        assert!(link_verdict(&record(2_000, None), now).is_ok());
        assert!(matches!(
            link_verdict(&record(1_000, None), now),
            Err(NoticeError::Expired)
        ));
        assert!(link_verdict(&record(500, Some(400)), now).is_ok());
    }

    #[test]
    fn a_kept_notice_reads_again_as_what_it_told() {
        let happened = happened_of(&record(2_000, None)).unwrap();
        assert_eq!(happened.kind, NoticeKind::NewComputer);
    }
}
