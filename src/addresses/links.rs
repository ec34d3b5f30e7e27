//! Verification links: made for the address awaiting verification and emailed; opened on a page
//! that asks for a press of its button (a mail scanner that fetches the link verifies nothing);
//! spent by the verification they make, in its transaction.

use super::texts::{Occasion, VerifyEmail};
use super::{AddressError, Addresses, DeadLink, budget_origin, link_key, parse_link};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{Destination, Email, User, Username, VerificationId};
use crate::store::{EmailLinkRecord, LinkVerification, NewEmailLink};
use crate::verify::{AccountEmail, VerifyError};

/// How long a link works: a day, to reach a mailbox read once a day; then a new one is asked.
pub const LINK_LIFETIME_SECONDS: i64 = 24 * 3600;

/// A link made (and, unless an application sends its own, emailed).
#[derive(Debug, Clone)]
pub struct LinkIssued {
    pub id: VerificationId,
    /// The address it proves.
    pub to: Email,
    pub expires_at: Instant,
}

/// A link that can still verify its address: what its page shows before the button.
#[derive(Debug, Clone)]
pub struct LinkState {
    pub username: Username,
    pub email: Email,
    pub expires_at: Instant,
}

/// Why a link is made, as its event records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// An administrator set the address, or the person gave it at the welcome step.
    NewAddress,
    /// The person asked for the address in place of the one in force.
    Change,
    /// Sent again for the address awaiting verification.
    Resend,
    /// Made for an application that sends its own email.
    ForApplication,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::NewAddress => "new_address",
            Purpose::Change => "change",
            Purpose::Resend => "resend",
            Purpose::ForApplication => "api",
        }
    }
}

impl Addresses {
    /// Keeps a new link proving `address` for `user`, with the event that says it was made
    /// (and, for a change, the address waiting beside the one in force).
    pub(super) async fn make_link(
        &self,
        user: &User,
        address: &Email,
        purpose: Purpose,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<LinkIssued, AddressError> {
        let id = VerificationId::parse(&random::token(32))
            .map_err(|e| anyhow::anyhow!("a new link is malformed: {}", e.message))?;
        let expires_at = now.plus_seconds(LINK_LIFETIME_SECONDS);
        let event = AuditEvent::new(EventKind::EmailVerificationSent, actor, origin, now)
            .target(user.id)
            .detail("occasion", purpose.as_str())
            .detail("to", Destination::Email(address.clone()).masked());
        let link = NewEmailLink {
            token_hash: link_key(&id),
            user: user.id,
            email: address.clone(),
            expires_at,
            asks_change: purpose == Purpose::Change,
        };
        self.link_store.insert_link(&link, &event).await?;
        Ok(LinkIssued {
            id,
            to: address.clone(),
            expires_at,
        })
    }

    /// Emails a link made by `make_link` to the address it proves.
    pub(super) async fn send_link(
        &self,
        user: &User,
        issued: &LinkIssued,
        occasion: Occasion,
        actor: &Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), AddressError> {
        let link = format!("{}/verify-email/{}", self.public_url, issued.id.expose());
        let words = VerifyEmail {
            product_name: &self.product_name,
            username: user.username.as_str(),
            link: &link,
            hours: LINK_LIFETIME_SECONDS / 3600,
            occasion,
        };
        let counted_from = budget_origin(actor, user.id, origin);
        let email = AccountEmail {
            user: user.id,
            to: &issued.to,
            subject: words.subject(),
            body: words.body(),
            origin: &counted_from,
        };
        self.verify
            .send_account_email(&email, now)
            .await
            .map_err(not_sent)
    }

    /// Whether a link can still verify its address, and which: what its page shows.
    pub async fn link_state(&self, raw: &str, now: Instant) -> Result<LinkState, AddressError> {
        let (link, user) = self.link_and_user(&link_key(&parse_link(raw)?)).await?;
        match link_verdict(&link, &user, now) {
            Some(dead) => Err(AddressError::DeadLink(dead)),
            None => Ok(LinkState {
                username: user.username,
                email: link.email,
                expires_at: link.expires_at,
            }),
        }
    }

    /// Verifies the address a link was sent to: it becomes the user's address in force,
    /// verified (a person's new address replaces the old one now). The link is spent in the
    /// same transaction, so of many uses at once one verifies.
    pub async fn verify_email(
        &self,
        raw: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<User, AddressError> {
        let key = link_key(&parse_link(raw)?);
        let (link, user) = self.link_and_user(&key).await?;
        if let Some(dead) = link_verdict(&link, &user, now) {
            return Err(self.refused(&link, dead, origin, now).await);
        }
        let replaced = user.email.is_some()
            && user
                .pending_email
                .as_ref()
                .is_some_and(|p| p.key() == link.email.key());
        let event = AuditEvent::new(EventKind::EmailVerified, Actor::User(user.id), origin, now)
            .target(user.id)
            .detail("by", "link")
            .detail("to", Destination::Email(link.email.clone()).masked())
            .detail("replaced", replaced);
        match self.link_store.verify_by_link(&key, &link, &event).await? {
            LinkVerification::Verified(user) => {
                tracing::info!(target: "security", user = %user.id, "email address verified by a link");
                Ok(*user)
            }
            LinkVerification::LinkSpent => {
                Err(self.refused(&link, DeadLink::Used, origin, now).await)
            }
            LinkVerification::NoLongerAwaited => {
                // Verified meanwhile (another link, a code), or changed again.
                let (_, now_user) = self.link_and_user(&key).await?;
                let dead = match link_verdict(&link, &now_user, now) {
                    Some(dead) => dead,
                    None => DeadLink::Voided,
                };
                Err(self.refused(&link, dead, origin, now).await)
            }
            LinkVerification::Taken => {
                let event = refusal(&link, "address_taken", origin, now);
                self.audit_store.record_event(&event).await?;
                Err(AddressError::Taken)
            }
        }
    }

    async fn link_and_user(&self, key: &str) -> Result<(EmailLinkRecord, User), AddressError> {
        let link = self
            .link_store
            .link(key)
            .await?
            .ok_or(AddressError::UnknownLink)?;
        let user = self
            .user_store
            .user(link.user)
            .await?
            .ok_or(AddressError::UnknownLink)?;
        Ok((link, user))
    }

    /// Records a use of a link that could no longer verify its address; the error to answer.
    async fn refused(
        &self,
        link: &EmailLinkRecord,
        dead: DeadLink,
        origin: &Origin,
        now: Instant,
    ) -> AddressError {
        let event = refusal(link, dead.reason(), origin, now);
        match self.audit_store.record_event(&event).await {
            Ok(()) => AddressError::DeadLink(dead),
            Err(error) => AddressError::Internal(error.into()),
        }
    }
}

fn refusal(link: &EmailLinkRecord, reason: &str, origin: &Origin, now: Instant) -> AuditEvent {
    AuditEvent::new(
        EventKind::EmailVerificationFailure,
        Actor::Anonymous,
        origin,
        now,
    )
    .target(link.user)
    .detail("reason", reason)
}

/// A send's failure as the caller hears it: refused (a budget, the sender) or broken.
fn not_sent(error: VerifyError) -> AddressError {
    match error {
        VerifyError::Internal(error) => AddressError::Internal(error),
        refused => AddressError::NotSent(refused),
    }
}

/// Why a link can no longer verify its address, if it cannot: spent first, then its address
/// verified already, then out of time, then no longer the address awaiting verification.
pub fn link_verdict(link: &EmailLinkRecord, user: &User, now: Instant) -> Option<DeadLink> {
    let proves = |email: Option<&Email>| email.is_some_and(|e| e.key() == link.email.key());
    if link.used_at.is_some() {
        Some(DeadLink::Used)
    } else if proves(user.verified_email()) {
        Some(DeadLink::AlreadyVerified)
    } else if link.expires_at <= now {
        Some(DeadLink::Expired)
    } else if !proves(user.email_awaiting_verification()) {
        Some(DeadLink::Voided)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Roles, UserId};

    fn email(raw: &str) -> Email {
        Email::parse(raw).unwrap()
    }

    fn link(to: &str, used: bool, expires_at: i64) -> EmailLinkRecord {
        EmailLinkRecord {
            user: UserId::new(),
            email: email(to),
            created_at: Instant::from_millis(0),
            expires_at: Instant::from_millis(expires_at),
            used_at: used.then(|| Instant::from_millis(10)),
        }
    }

    fn user(address: &str, verified: bool, pending: Option<&str>) -> User {
        User {
            id: UserId::new(),
            username: Username::parse("ann").unwrap(),
            email: Some(email(address)),
            email_verified_at: verified.then(|| Instant::from_millis(1)),
            pending_email: pending.map(email),
            full_name: None,
            mobile_phone: None,
            roles: Roles::user(),
            active: true,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: None,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
            password_changed_at: Instant::from_millis(0),
            last_login_at: None,
        }
    }

    #[test]
    fn a_link_verifies_once_within_its_time_the_address_still_awaiting_verification() {
        let now = Instant::from_millis(500);
        let unverified = user("a@example.com", false, None);
        assert_eq!(
            link_verdict(&link("a@example.com", false, 1000), &unverified, now),
            None
        );
        assert_eq!(
            link_verdict(&link("A@example.com", false, 1000), &unverified, now),
            None,
            "addresses compare by their keys"
        );
        assert_eq!(
            link_verdict(&link("a@example.com", true, 1000), &unverified, now),
            Some(DeadLink::Used)
        );
        assert_eq!(
            link_verdict(&link("a@example.com", false, 500), &unverified, now),
            Some(DeadLink::Expired)
        );
        assert_eq!(
            link_verdict(&link("old@example.com", false, 1000), &unverified, now),
            Some(DeadLink::Voided)
        );
    }

    #[test]
    fn a_new_address_is_verified_by_its_own_link_and_the_old_addresses_links_say_so() {
        let now = Instant::from_millis(500);
        let changing = user("a@example.com", true, Some("b@example.com"));
        assert_eq!(
            link_verdict(&link("b@example.com", false, 1000), &changing, now),
            None
        );
        assert_eq!(
            link_verdict(&link("a@example.com", false, 1000), &changing, now),
            Some(DeadLink::AlreadyVerified)
        );
        let changed_again = user("a@example.com", true, Some("c@example.com"));
        assert_eq!(
            link_verdict(&link("b@example.com", false, 1000), &changed_again, now),
            Some(DeadLink::Voided)
        );
    }
}
