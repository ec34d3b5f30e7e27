//! Invitations: instead of choosing a password for someone, an administrator has a link sent to
//! their address, with which they choose their own (a new account made without a password, or
//! any account that never logged in, one at a time or all at once).

use super::forgot::INVITATION;
use super::texts::InvitationEmail;
use super::{Recovery, RecoveryError};
use crate::accounts::{NewEmail, UserFields};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{User, UserId, Username};
use crate::verify::AccountEmail;

/// How long an invitation's link works: long enough for someone who reads their email weekly.
pub const INVITATION_LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

/// The most accounts one bulk invitation reaches; an administrator sends the next ones after.
pub const BULK_INVITATIONS: i64 = 500;

/// What became of the invitations asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invited {
    pub sent: Vec<Username>,
    /// Those not invited, and why: no address, deactivated, a send limit.
    pub skipped: Vec<(Username, String)>,
}

impl Recovery {
    /// Sends each user named an invitation to choose their password.
    pub async fn invite(
        &self,
        users: &[UserId],
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Invited, RecoveryError> {
        let mut invited = Invited::default();
        for id in users {
            let Some(found) = self.user_store.user_with_hash(*id).await? else {
                continue;
            };
            let name = found.user.username.clone();
            let Some(address) = found.user.email.clone() else {
                invited.skipped.push((name, "no email address".into()));
                continue;
            };
            if !found.user.active {
                invited.skipped.push((name, "deactivated".into()));
                continue;
            }
            let event = AuditEvent::new(EventKind::UserInvite, actor.clone(), origin, now)
                .target(found.user.id)
                .detail(
                    "to",
                    crate::domain::Destination::Email(address.clone()).masked(),
                );
            let issued = self
                .make_link_for(
                    &found,
                    INVITATION,
                    INVITATION_LIFETIME_SECONDS,
                    Some(&address),
                    &event,
                    now,
                )
                .await?;
            let link = format!("{}/reset-password/{}", self.public_url, issued.id.expose());
            let words = InvitationEmail {
                product_name: &self.product_name,
                username: name.as_str(),
                link: &link,
                days: INVITATION_LIFETIME_SECONDS / 86_400,
            };
            // An administrator's invitations are not a stranger's flood: they count against the
            // account's, the destination's and the server's budgets, not the administrator's
            // address's.
            let counted = Origin {
                ip: None,
                ..origin.clone()
            };
            let email = AccountEmail {
                user: found.user.id,
                to: &address,
                subject: words.subject(),
                body: words.body(),
                origin: &counted,
            };
            match self.verify.send_account_email(&email, now).await {
                Ok(()) => invited.sent.push(name),
                Err(error) => invited.skipped.push((name, error.to_string())),
            }
        }
        Ok(invited)
    }

    /// Makes an account whose person chooses their own password by the invitation sent to its
    /// address (verified at once when the administrator vouches for it, `email`). The account
    /// stands even if the email is refused (a send limit): the answer says so, and the
    /// invitation can be sent again.
    pub async fn create_invited_user(
        &self,
        id: Option<UserId>,
        fields: &UserFields,
        email: NewEmail,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(User, Invited), RecoveryError> {
        let user = self
            .accounts
            .create_invited_user(id, fields, email, actor.clone(), origin, now)
            .await?;
        let invited = self.invite(&[user.id], actor, origin, now).await?;
        Ok((user, invited))
    }

    /// Invites every active account with an email address that never logged in (at most
    /// `BULK_INVITATIONS` at once): the accounts made in the console or by an import.
    pub async fn invite_never_logged_in(
        &self,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Invited, RecoveryError> {
        let ids = self.user_store.never_logged_in(BULK_INVITATIONS).await?;
        self.invite(&ids, actor, origin, now).await
    }
}
