//! Setting an address: an administrator's, creating or changing a user (verified at once when
//! they vouch for it, else sent its link); a person's own change, whose new address waits beside
//! the one in force until its link is opened; and the link sent again.

use super::links::{LinkIssued, Purpose};
use super::texts::{ChangeNotice, Occasion};
use super::{AddressError, Addresses, EMAIL_FIELD, budget_origin};
use crate::accounts::{AccountError, NewEmail, UserFields};
use crate::audit::{Actor, Origin};
use crate::clock::Instant;
use crate::domain::{Destination, Email, FieldError, Invalid, LoginId, User, UserId};
use crate::verify::AccountEmail;

impl Addresses {
    /// Creates a user (the API, the console, the command line). An address the administrator
    /// does not vouch for is sent its link; the user is created even if the email cannot go
    /// now (it can be sent again).
    pub async fn create_user(
        &self,
        id: Option<UserId>,
        fields: &UserFields,
        email: NewEmail,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<User, AccountError> {
        let user = self
            .accounts
            .create_user(id, fields, email, actor.clone(), origin, now)
            .await?;
        self.link_new_address(&user, None, actor, origin, now).await;
        Ok(user)
    }

    /// Changes a user (the API, the console, the welcome step): a new address is in force at
    /// once, verified when the administrator vouches for it, else sent its link.
    pub async fn update_user(
        &self,
        id: UserId,
        fields: &UserFields,
        email: NewEmail,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<User, AccountError> {
        let before = self
            .accounts
            .user(id)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let user = self
            .accounts
            .update_user(id, fields, email, actor.clone(), origin, now)
            .await?;
        self.link_new_address(&user, before.email.as_ref(), actor, origin, now)
            .await;
        Ok(user)
    }

    /// Sends the link that lets a self-registered account in: to the address it was made with,
    /// as the person's own request (counted against the address it came from). Answers the
    /// address it went to.
    pub async fn send_registration_link(
        &self,
        user: &User,
        origin: &Origin,
        now: Instant,
    ) -> Result<Email, AddressError> {
        let address = user
            .email_awaiting_verification()
            .ok_or(AddressError::NothingToVerify)?;
        let actor = Actor::User(user.id);
        let issued = self
            .make_link(
                user,
                address,
                Purpose::NewAddress,
                actor.clone(),
                origin,
                now,
            )
            .await?;
        self.send_link(user, &issued, Occasion::Registration, &actor, origin, now)
            .await?;
        Ok(issued.to)
    }

    /// Sends its link to an address a change put in force unverified. A failure is logged: the
    /// change is made, and the link can be sent again.
    async fn link_new_address(
        &self,
        user: &User,
        before: Option<&Email>,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) {
        let Some(address) = user
            .email
            .as_ref()
            .filter(|_| user.verified_email().is_none())
        else {
            return;
        };
        if before.is_some_and(|b| b.key() == address.key()) {
            return;
        }
        let sent = async {
            let issued = self
                .make_link(
                    user,
                    address,
                    Purpose::NewAddress,
                    actor.clone(),
                    origin,
                    now,
                )
                .await?;
            self.send_link(user, &issued, Occasion::NewAddress, &actor, origin, now)
                .await
        };
        if let Err(error) = sent.await {
            tracing::warn!(%error, user = %user.id, "cannot send the link that verifies a new email address");
        }
    }

    /// A person's own new address, asked for from their session (behind re-authentication). It
    /// waits beside the address in force, which stays in force (a login id, where reset links
    /// go) until the new one's link is opened; a verified address in force is told of the
    /// request. Refused, with nothing written, when another account uses the address. Answers
    /// the address the link went to.
    pub async fn change_own_email(
        &self,
        user: UserId,
        raw: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<Email, AddressError> {
        let user = self
            .user_store
            .user(user)
            .await?
            .ok_or(AddressError::UserNotFound)?;
        let address = Email::parse(raw)
            .map_err(|e| AddressError::Invalid(vec![FieldError::new(EMAIL_FIELD, e)]))?;
        let is = |email: Option<&Email>| email.is_some_and(|e| e.key() == address.key());
        if is(user.verified_email()) {
            return Err(AddressError::Invalid(vec![FieldError::new(
                EMAIL_FIELD,
                Invalid::new("[unchanged]", "this is your email address already"),
            )]));
        }
        let actor = Actor::User(user.id);
        if is(user.email_awaiting_verification()) {
            return self.send_again(&user, actor, origin, now).await;
        }
        if let Some(other) = self
            .user_store
            .user_by_login_id(&LoginId::Email(address.clone()))
            .await?
            && other.user.id != user.id
        {
            return Err(AddressError::Invalid(vec![FieldError::new(
                EMAIL_FIELD,
                Invalid::new("[duplicate]", "another account uses this email address"),
            )]));
        }
        let issued = self
            .make_link(&user, &address, Purpose::Change, actor.clone(), origin, now)
            .await?;
        let occasion = match user.email {
            Some(_) => Occasion::Change,
            None => Occasion::NewAddress,
        };
        self.send_link(&user, &issued, occasion, &actor, origin, now)
            .await?;
        self.tell_the_old_address(&user, &address, origin, now)
            .await;
        Ok(issued.to)
    }

    /// Tells the verified address in force that the person asked to replace it, so that its
    /// owner hears of a change they did not ask for. A failure is logged.
    async fn tell_the_old_address(&self, user: &User, new: &Email, origin: &Origin, now: Instant) {
        let Some(old) = user.verified_email() else {
            return;
        };
        let masked = Destination::Email(new.clone()).masked();
        let words = ChangeNotice {
            product_name: &self.product_name,
            username: user.username.as_str(),
            new_address: &masked,
            asked_from: origin.ip.as_deref(),
        };
        let counted_from = budget_origin(&Actor::User(user.id), user.id, origin);
        let email = AccountEmail {
            user: user.id,
            to: old,
            subject: words.subject(),
            body: words.body(),
            origin: &counted_from,
        };
        if let Err(error) = self.verify.send_account_email(&email, now).await {
            tracing::warn!(%error, user = %user.id, "cannot tell the old email address of a change");
        }
    }

    /// Sends a new link for the address awaiting verification of `user`: the person's own
    /// request, or an administrator's. Answers the address it went to.
    pub async fn resend(
        &self,
        user: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Email, AddressError> {
        let user = self
            .user_store
            .user(user)
            .await?
            .ok_or(AddressError::UserNotFound)?;
        self.send_again(&user, actor, origin, now).await
    }

    async fn send_again(
        &self,
        user: &User,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Email, AddressError> {
        let address = user
            .email_awaiting_verification()
            .ok_or(AddressError::NothingToVerify)?
            .clone();
        let issued = self
            .make_link(user, &address, Purpose::Resend, actor.clone(), origin, now)
            .await?;
        let occasion = match (&user.email, &user.pending_email) {
            (Some(_), Some(_)) => Occasion::Change,
            _ => Occasion::NewAddress,
        };
        self.send_link(user, &issued, occasion, &actor, origin, now)
            .await?;
        Ok(issued.to)
    }

    /// FusionAuth's resend (`PUT /api/user/verify-email`): the user is named by their address in
    /// force. With `send`, a new link is emailed to the address awaiting verification (their new
    /// one, when they asked to change it); without, it is made for an application that sends
    /// its own email, and answered.
    pub async fn resend_by_address(
        &self,
        raw: &str,
        send: bool,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Option<LinkIssued>, AddressError> {
        let address = Email::parse(raw)
            .map_err(|e| AddressError::Invalid(vec![FieldError::new(EMAIL_FIELD, e)]))?;
        let found = self
            .user_store
            .user_by_login_id(&LoginId::Email(address))
            .await?
            .ok_or(AddressError::UserNotFound)?;
        let user = found.user;
        if send {
            self.send_again(&user, actor, origin, now).await?;
            return Ok(None);
        }
        let awaiting = user
            .email_awaiting_verification()
            .ok_or(AddressError::NothingToVerify)?
            .clone();
        self.make_link(
            &user,
            &awaiting,
            Purpose::ForApplication,
            actor,
            origin,
            now,
        )
        .await
        .map(Some)
    }
}
