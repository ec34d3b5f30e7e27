//! A forgotten password: the request, answered alike whether the account exists or not, and
//! the link it sends by email.

use super::texts::ResetEmail;
use super::{Recovery, RecoveryError, link_key, password_version};
use crate::account_policy;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{ChangePasswordId, FieldError, LoginId};
use crate::limits::retry_after_seconds;
use crate::store::{NewPasswordLink, UserWithHash};
use crate::verify::{AccountEmail, Admitted};

/// How long a link works: long enough to open an email, short enough that one found later in a
/// mailbox is dead.
pub const LINK_LIFETIME_SECONDS: i64 = 15 * 60;

/// The purpose a reset link is kept under.
pub(super) const RESET: &str = "reset";
/// The purpose of the link a temporary password's login answers with.
pub(super) const REQUIRED: &str = "required";
/// The purpose of an invitation's link.
pub(super) const INVITATION: &str = "invitation";

/// The field the account arrives in, as the API names it.
pub const LOGIN_ID_FIELD: &str = "loginId";

/// A person's request for a link, from the page or the API.
#[derive(Debug, Clone, Copy)]
pub struct ForgotPassword<'a> {
    /// A username or an email address, as typed.
    pub login_id: &'a str,
    pub by: ResetBy,
    pub origin: &'a Origin,
}

/// How the person asks to prove the account is theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetBy {
    /// A link to the account's email address.
    Email,
    /// A code to the account's phone, where the settings allow it (`code.rs`).
    Sms,
}

/// A link made for an application that sends its own email (an API key's request).
#[derive(Debug, Clone)]
pub struct LinkIssued {
    pub id: ChangePasswordId,
    pub expires_at: Instant,
}

impl Recovery {
    /// Asks for a reset link by email. The answer is the same whether the account exists or
    /// not: after the request is counted against its address, the account is looked up and the
    /// email sent in the background, so not even the time taken tells.
    pub async fn forgot_password(
        &self,
        request: &ForgotPassword<'_>,
        now: Instant,
    ) -> Result<(), RecoveryError> {
        let login_id = parse_login_id(request.login_id)?;
        self.take_request_budget("forgot-password", request.origin, now)
            .await?;
        let recovery = self.clone();
        let origin = request.origin.clone();
        let by = request.by;
        tokio::spawn(async move {
            if let Err(error) = recovery.send_reset(&login_id, by, &origin, now).await {
                tracing::error!(%error, "cannot send a password reset message");
            }
        });
        Ok(())
    }

    /// Makes a link for an application that sends its own email: the caller holds an API key,
    /// so an unknown account is said (`None`).
    pub async fn issue_reset_link(
        &self,
        login_id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Option<LinkIssued>, RecoveryError> {
        let login_id = parse_login_id(login_id)?;
        let Some(found) = self.user_store.user_by_login_id(&login_id).await? else {
            return Ok(None);
        };
        if !found.user.active {
            return Ok(None);
        }
        let event = AuditEvent::new(EventKind::PasswordResetRequest, actor, origin, now)
            .target(found.user.id)
            .detail("by", "api");
        self.make_link(&found, &event, now).await.map(Some)
    }

    /// The link a login with a temporary password answers with, instead of a session: the
    /// person chooses a password of their own with it, then logs in again.
    pub async fn required_change_link(
        &self,
        found: &UserWithHash,
        origin: &Origin,
        now: Instant,
    ) -> Result<LinkIssued, RecoveryError> {
        let event = AuditEvent::new(
            EventKind::PasswordChangeRequired,
            Actor::User(found.user.id),
            origin,
            now,
        )
        .target(found.user.id);
        self.make_link_for(found, REQUIRED, LINK_LIFETIME_SECONDS, None, &event, now)
            .await
    }

    /// Counts a request against its address, before any account is looked up.
    pub(super) async fn take_request_budget(
        &self,
        purpose: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RecoveryError> {
        match self
            .verify
            .take_request_budget(purpose, origin, now)
            .await?
        {
            Admitted::Now => Ok(()),
            Admitted::NotBefore(room_at) => Err(RecoveryError::Throttled {
                retry_after_seconds: retry_after_seconds(now, room_at),
            }),
        }
    }

    async fn send_reset(
        &self,
        login_id: &LoginId,
        by: ResetBy,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RecoveryError> {
        let Some(found) = self.user_store.user_by_login_id(login_id).await? else {
            tracing::info!(target: "security", "a password reset was asked for an unknown account");
            return Ok(());
        };
        let user = &found.user;
        if !user.active {
            tracing::info!(target: "security", user = %user.id, "a password reset was asked for a deactivated account");
            return Ok(());
        }
        if !self.names_the_account(user, login_id).await? {
            tracing::info!(target: "security", user = %user.id, "a password reset was asked by an unverified address");
            return Ok(());
        }
        if by == ResetBy::Sms {
            return self.send_reset_code(&found, origin, now).await;
        }
        // Only to an address proven the user's: a link to one set but never verified could
        // hand the account to whoever owns that mailbox.
        let Some(address) = user.verified_email() else {
            let event = AuditEvent::new(
                EventKind::PasswordResetRequest,
                Actor::Anonymous,
                origin,
                now,
            )
            .target(user.id)
            .detail("by", "none");
            self.audit_store.record_event(&event).await?;
            return Ok(());
        };
        self.email_reset_link(&found, address, "email", origin, now)
            .await
    }

    /// Emails a reset link to the verified address of `user`, as the answer to a disowned
    /// security notice (`notices/`): nobody asked by name, the account is known. Answers the
    /// address it went to, masked; `None` when the account has no verified address.
    pub async fn send_reset_email(
        &self,
        user: crate::domain::UserId,
        origin: &Origin,
        now: Instant,
    ) -> Result<Option<String>, RecoveryError> {
        let Some(found) = self.user_store.user_with_hash(user).await? else {
            return Ok(None);
        };
        let Some(address) = found.user.verified_email() else {
            return Ok(None);
        };
        self.email_reset_link(&found, address, "notice", origin, now)
            .await?;
        Ok(Some(
            crate::domain::Destination::Email(address.clone()).masked(),
        ))
    }

    /// Makes a reset link for `found` and emails it to `address`, its verified one; `by` says
    /// in the audit log what asked for it.
    async fn email_reset_link(
        &self,
        found: &UserWithHash,
        address: &crate::domain::Email,
        by: &'static str,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RecoveryError> {
        let user = &found.user;
        let event = AuditEvent::new(
            EventKind::PasswordResetRequest,
            Actor::Anonymous,
            origin,
            now,
        )
        .target(user.id)
        .detail("by", by)
        .detail(
            "to",
            crate::domain::Destination::Email(address.clone()).masked(),
        );
        let issued = self.make_link(found, &event, now).await?;
        let link = format!("{}/reset-password/{}", self.public_url, issued.id.expose());
        let words = ResetEmail {
            product_name: &self.product_name,
            username: user.username.as_str(),
            link: &link,
            minutes: LINK_LIFETIME_SECONDS / 60,
            asked_from: origin.ip.as_deref(),
        };
        let email = AccountEmail {
            user: user.id,
            to: address,
            subject: words.subject(),
            body: words.body(),
            origin,
        };
        self.verify.send_account_email(&email, now).await?;
        Ok(())
    }

    /// Whether `login_id` may stand for `user` here as at a login: an unverified address does
    /// not, unless the settings let it log in (a texted code must not start from an address
    /// nobody proved).
    async fn names_the_account(
        &self,
        user: &crate::domain::User,
        login_id: &LoginId,
    ) -> Result<bool, RecoveryError> {
        if !account_policy::unverified_login_id(user, login_id) {
            return Ok(true);
        }
        let stored = self
            .setting_store
            .setting(account_policy::SETTINGS_KEY)
            .await?;
        let settings = account_policy::AccountSettings::from_stored(stored.as_deref());
        Ok(account_policy::may_log_in_with(&settings, user, login_id))
    }

    /// Keeps a new link for `found`, bound to the password it has now, with `event`.
    pub(super) async fn make_link(
        &self,
        found: &UserWithHash,
        event: &AuditEvent,
        now: Instant,
    ) -> Result<LinkIssued, RecoveryError> {
        self.make_link_for(found, RESET, LINK_LIFETIME_SECONDS, None, event, now)
            .await
    }

    /// Keeps a new link for `found`, as `make_link` does, for `purpose`; `emailed_to`: the
    /// address an invitation's link goes to, which its use proves.
    pub(super) async fn make_link_for(
        &self,
        found: &UserWithHash,
        purpose: &'static str,
        lifetime_seconds: i64,
        emailed_to: Option<&crate::domain::Email>,
        event: &AuditEvent,
        now: Instant,
    ) -> Result<LinkIssued, RecoveryError> {
        let id = ChangePasswordId::parse(&random::token(32)).map_err(|e| {
            RecoveryError::Internal(anyhow::anyhow!("a new link is malformed: {e}"))
        })?;
        let expires_at = now.plus_seconds(lifetime_seconds);
        let link = NewPasswordLink {
            token_hash: link_key(&id),
            purpose,
            user: found.user.id,
            password_version: password_version(&found.password_hash),
            expires_at,
            email_key: emailed_to.map(|e| e.key().to_owned()),
        };
        self.link_store.insert_link(&link, event).await?;
        Ok(LinkIssued { id, expires_at })
    }
}

pub(super) fn parse_login_id(raw: &str) -> Result<LoginId, RecoveryError> {
    LoginId::parse(raw)
        .map_err(|e| RecoveryError::Invalid(vec![FieldError::new(LOGIN_ID_FIELD, e)]))
}
