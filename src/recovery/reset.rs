//! A link spent: the new password set, every session ended and every trusted computer
//! forgotten, in one transaction that also spends the link, so that of many uses at once one
//! sets a password.

use super::{
    DeadLink, PASSWORD_FIELD, Recovery, RecoveryError, link_key, parse_link, password_version,
};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{
    ChangePasswordId, Destination, FieldError, Invalid, Password, User, UserId, Username,
};
use crate::store::{
    AppPasswords, EndSessions, PasswordChange, PasswordLinkRecord, PasswordSet, ProvenAddress,
    Trusts,
};

/// A new password by a link (no `Debug`: it holds the password as typed).
#[derive(Clone, Copy)]
pub struct ResetPassword<'a> {
    pub change_password_id: &'a str,
    pub new_password: &'a str,
    pub origin: &'a Origin,
}

/// A link that can still set a password, and whose.
#[derive(Debug, Clone)]
pub struct LinkState {
    pub username: Username,
    pub expires_at: Instant,
    pub purpose: LinkFor,
}

/// What a link was sent for, as its page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFor {
    /// A forgotten password.
    Reset,
    /// A login with a temporary password.
    TemporaryPassword,
    /// An invitation to an account made without a password.
    Invitation,
}

impl LinkFor {
    fn of(stored: &str) -> Self {
        match stored {
            super::forgot::REQUIRED => LinkFor::TemporaryPassword,
            super::forgot::INVITATION => LinkFor::Invitation,
            _ => LinkFor::Reset,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub user: UserId,
    pub username: Username,
    pub sessions_ended: u64,
}

impl Recovery {
    /// Whether a link can still set a password: what its page shows before the form.
    pub async fn link_state(&self, raw: &str, now: Instant) -> Result<LinkState, RecoveryError> {
        let id = parse_link(raw)?;
        let (link, found) = self.live_link(&id, now).await?;
        Ok(LinkState {
            username: found.user.username,
            expires_at: link.expires_at,
            purpose: LinkFor::of(&link.purpose),
        })
    }

    /// Sets a new password by a link. The new one follows the rules of a new account's and may
    /// not be the current one. Every session ends and every computer's trust with it: whoever
    /// knew the old password is logged out, and the next login asks for the second factor.
    pub async fn reset_password(
        &self,
        reset: &ResetPassword<'_>,
        now: Instant,
    ) -> Result<PasswordReset, RecoveryError> {
        let id = parse_link(reset.change_password_id);
        let new = Password::new_choice(reset.new_password)
            .map_err(|e| FieldError::new(PASSWORD_FIELD, e));
        let (id, new) = match (id, new) {
            (Ok(id), Ok(new)) => (id, new),
            (id, new) => {
                let mut fields = match id {
                    Err(RecoveryError::Invalid(fields)) => fields,
                    _ => Vec::new(),
                };
                fields.extend(new.err());
                return Err(RecoveryError::Invalid(fields));
            }
        };
        let (link, found) = match self.live_link(&id, now).await {
            Err(RecoveryError::DeadLink(dead)) => {
                self.refused(&id, dead, reset.origin, now).await?;
                return Err(RecoveryError::DeadLink(dead));
            }
            other => other?,
        };
        let user = found.user.id;
        let reused = self
            .hasher
            .verify(&new, &found.password_hash)
            .await
            .map_err(anyhow::Error::from)?
            .is_right();
        if reused {
            return Err(RecoveryError::Invalid(vec![FieldError::new(
                PASSWORD_FIELD,
                Invalid::new(
                    "[reused]",
                    "choose a password you have not used here: this is your current password",
                ),
            )]));
        }
        let hash = self.hasher.hash(&new).await.map_err(anyhow::Error::from)?;
        let key = link_key(&id);
        let event = AuditEvent::new(
            EventKind::PasswordReset,
            Actor::User(user),
            reset.origin,
            now,
        )
        .target(user)
        .detail("purpose", link.purpose.clone());
        // An invitation went to the user's address: choosing a password by it proves that mailbox.
        let proven = invitation_proves(&link, &found.user);
        let verified = proven.map(|_| {
            AuditEvent::new(
                EventKind::EmailVerified,
                Actor::User(user),
                reset.origin,
                now,
            )
            .target(user)
            .detail("by", "invitation")
            .detail(
                "to",
                found
                    .user
                    .email
                    .clone()
                    .map(|e| Destination::Email(e).masked())
                    .unwrap_or_default(),
            )
        });
        let change = PasswordChange {
            hash: &hash,
            // Bound to the password the link was checked against: a change meanwhile wins.
            replacing: Some(&found.password_hash),
            spends: Some(&key),
            change_required: false,
            verifies_email: proven
                .zip(verified.as_ref())
                .map(|(email_key, event)| ProvenAddress { email_key, event }),
            sessions: EndSessions::All,
            trusts: Trusts::Revoked,
            app_passwords: AppPasswords::Revoked,
        };
        match self.user_store.set_password(user, &change, &event).await? {
            PasswordSet::Set { sessions_ended } => {
                tracing::info!(target: "security", %user, sessions_ended, "password reset by a link");
                Ok(PasswordReset {
                    user,
                    username: found.user.username,
                    sessions_ended,
                })
            }
            PasswordSet::LinkSpent => {
                self.refused(&id, DeadLink::Used, reset.origin, now).await?;
                Err(RecoveryError::DeadLink(DeadLink::Used))
            }
            PasswordSet::ChangedMeanwhile => {
                self.refused(&id, DeadLink::Voided, reset.origin, now)
                    .await?;
                Err(RecoveryError::DeadLink(DeadLink::Voided))
            }
            PasswordSet::NoSuchUser => Err(RecoveryError::UnknownLink),
        }
    }

    /// The link and its user, while the link can set a password.
    async fn live_link(
        &self,
        id: &ChangePasswordId,
        now: Instant,
    ) -> Result<(PasswordLinkRecord, crate::store::UserWithHash), RecoveryError> {
        let link = self
            .link_store
            .link(&link_key(id))
            .await?
            .ok_or(RecoveryError::UnknownLink)?;
        let found = self
            .user_store
            .user_with_hash(link.user)
            .await?
            .ok_or(RecoveryError::UnknownLink)?;
        match link_verdict(&link, &password_version(&found.password_hash), now) {
            Some(dead) => Err(RecoveryError::DeadLink(dead)),
            None => Ok((link, found)),
        }
    }

    /// Records a use of a link that could no longer set a password.
    async fn refused(
        &self,
        id: &ChangePasswordId,
        dead: DeadLink,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RecoveryError> {
        let Some(link) = self.link_store.link(&link_key(id)).await? else {
            return Ok(());
        };
        let event = AuditEvent::new(
            EventKind::PasswordResetFailure,
            Actor::Anonymous,
            origin,
            now,
        )
        .target(link.user)
        .detail("reason", dead.reason());
        self.audit_store.record_event(&event).await?;
        Ok(())
    }
}

/// The key of the address an invitation's link was emailed to, while it is still the user's
/// address awaiting verification: the link's use proves it.
pub fn invitation_proves<'a>(link: &'a PasswordLinkRecord, user: &User) -> Option<&'a str> {
    let key = link.email_key.as_deref()?;
    let address = user.email.as_ref()?;
    let proves = link.purpose == super::forgot::INVITATION
        && address.key() == key
        && user.email_verified_at.is_none();
    proves.then_some(key)
}

/// Why a link can no longer set a password, if it cannot: spent first, then out of time, then
/// voided by a change of password since it was made.
pub fn link_verdict(
    link: &PasswordLinkRecord,
    current_version: &str,
    now: Instant,
) -> Option<DeadLink> {
    if link.used_at.is_some() {
        Some(DeadLink::Used)
    } else if link.expires_at <= now {
        Some(DeadLink::Expired)
    } else if link.password_version != current_version {
        Some(DeadLink::Voided)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(used: bool, expires_at: i64) -> PasswordLinkRecord {
        PasswordLinkRecord {
            purpose: "reset".into(),
            user: UserId::new(),
            password_version: "v1".into(),
            created_at: Instant::from_millis(0),
            expires_at: Instant::from_millis(expires_at),
            used_at: used.then(|| Instant::from_millis(10)),
            email_key: None,
        }
    }

    #[test]
    fn a_link_works_once_within_its_time_under_the_password_it_was_made_for() {
        let now = Instant::from_millis(500);
        assert_eq!(link_verdict(&link(false, 1000), "v1", now), None);
        assert_eq!(
            link_verdict(&link(true, 1000), "v1", now),
            Some(DeadLink::Used)
        );
        assert_eq!(
            link_verdict(&link(false, 500), "v1", now),
            Some(DeadLink::Expired)
        );
        assert_eq!(
            link_verdict(&link(false, 1000), "v2", now),
            Some(DeadLink::Voided)
        );
    }

    #[test]
    fn a_spent_link_says_so_even_after_it_expired_or_the_password_changed() {
        let late = Instant::from_millis(5000);
        assert_eq!(
            link_verdict(&link(true, 1000), "v2", late),
            Some(DeadLink::Used)
        );
    }
}
