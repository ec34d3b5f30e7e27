//! A forgotten password: the request, answered alike whether the account exists or not, and
//! the link it sends by email.

use super::texts::ResetEmail;
use super::{Recovery, RecoveryError, link_key, password_version};
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

/// The field the account arrives in, as the API names it.
pub const LOGIN_ID_FIELD: &str = "loginId";

/// A person's request for a link, from the page or the API.
#[derive(Debug, Clone, Copy)]
pub struct ForgotPassword<'a> {
    /// A username or an email address, as typed.
    pub login_id: &'a str,
    pub origin: &'a Origin,
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
        self.take_request_budget(request.origin, now).await?;
        let recovery = self.clone();
        let origin = request.origin.clone();
        tokio::spawn(async move {
            if let Err(error) = recovery.send_reset_link(&login_id, &origin, now).await {
                tracing::error!(%error, "cannot send a password reset link");
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

    async fn take_request_budget(
        &self,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RecoveryError> {
        match self
            .verify
            .take_request_budget("forgot-password", origin, now)
            .await?
        {
            Admitted::Now => Ok(()),
            Admitted::NotBefore(room_at) => Err(RecoveryError::Throttled {
                retry_after_seconds: retry_after_seconds(now, room_at),
            }),
        }
    }

    async fn send_reset_link(
        &self,
        login_id: &LoginId,
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
        let Some(address) = &user.email else {
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
        let event = AuditEvent::new(
            EventKind::PasswordResetRequest,
            Actor::Anonymous,
            origin,
            now,
        )
        .target(user.id)
        .detail("by", "email")
        .detail(
            "to",
            crate::domain::Destination::Email(address.clone()).masked(),
        );
        let issued = self.make_link(&found, &event, now).await?;
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

    /// Keeps a new link for `found`, bound to the password it has now, with `event`.
    async fn make_link(
        &self,
        found: &UserWithHash,
        event: &AuditEvent,
        now: Instant,
    ) -> Result<LinkIssued, RecoveryError> {
        let id = ChangePasswordId::parse(&random::token(32)).map_err(|e| {
            RecoveryError::Internal(anyhow::anyhow!("a new link is malformed: {e}"))
        })?;
        let expires_at = now.plus_seconds(LINK_LIFETIME_SECONDS);
        let link = NewPasswordLink {
            token_hash: link_key(&id),
            purpose: RESET,
            user: found.user.id,
            password_version: password_version(&found.password_hash),
            expires_at,
        };
        self.link_store.insert_link(&link, event).await?;
        Ok(LinkIssued { id, expires_at })
    }
}

fn parse_login_id(raw: &str) -> Result<LoginId, RecoveryError> {
    LoginId::parse(raw)
        .map_err(|e| RecoveryError::Invalid(vec![FieldError::new(LOGIN_ID_FIELD, e)]))
}
