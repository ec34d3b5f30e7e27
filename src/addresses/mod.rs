//! Email addresses: which are verified, the one-time links that verify them (`links.rs`), an
//! administrator's setting of an address and a person's change of their own (`change.rs`), and
//! the account settings (whether an unverified address may log in). The words of the emails
//! are pure functions (`texts.rs`).
//!
//! An address proves itself by a link sent to it: opened within 24 hours, once, while it is
//! still the address awaiting verification. Until then it is no login id (unless the
//! administrator allows it) and no destination of a reset link. A person's own new address
//! waits beside the one in force, which stays in force until the new one is verified.

mod change;
mod links;
mod texts;

pub use links::{LINK_LIFETIME_SECONDS, LinkIssued, LinkState, link_verdict};

use crate::account_policy::{AccountSettings, SETTINGS_KEY};
use crate::accounts::Accounts;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random::lookup_digest;
use crate::domain::{FieldError, Invalid, UserId, VerificationId};
use crate::store::{AuditStore, EmailLinkStore, SettingStore, Store, StoreError, UserStore};
use crate::verify::{Verify, VerifyError};

/// Email addresses: links asked for, sent and opened; changes of address; the account settings.
#[derive(Clone)]
pub struct Addresses {
    audit_store: AuditStore,
    link_store: EmailLinkStore,
    setting_store: SettingStore,
    user_store: UserStore,
    /// An administrator's creation or change of a user, which may set an address.
    accounts: Accounts,
    /// The send budgets and the email itself.
    verify: Verify,
    /// What the emails call the server, and where their links lead.
    product_name: String,
    public_url: String,
}

impl Addresses {
    pub fn new(
        store: Store,
        accounts: Accounts,
        verify: Verify,
        product_name: String,
        public_url: String,
    ) -> Self {
        Self {
            audit_store: store.audit(),
            link_store: store.email_links(),
            setting_store: store.settings(),
            user_store: store.users(),
            accounts,
            verify,
            product_name,
            public_url,
        }
    }

    /// The account settings in force.
    pub async fn account_settings(&self) -> Result<AccountSettings, AddressError> {
        let stored = self.setting_store.setting(SETTINGS_KEY).await?;
        Ok(AccountSettings::from_stored(stored.as_deref()))
    }

    /// Replaces the account settings (checked: a domain of the allow-list that is no domain is
    /// refused by name); they apply to the next login or sign-up on every node. Answers them as
    /// kept.
    pub async fn set_account_settings(
        &self,
        settings: AccountSettings,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<AccountSettings, AddressError> {
        let settings = settings.checked().map_err(AddressError::Invalid)?;
        let json = serde_json::to_string(&settings).map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(EventKind::SettingsChange, actor, origin, now)
            .detail("key", SETTINGS_KEY)
            .detail("unverifiedEmailLogin", settings.unverified_email_login)
            .detail("selfRegistration", settings.self_registration)
            .detail("registrationDomains", settings.registration_domains.clone());
        self.setting_store
            .put_setting(SETTINGS_KEY, &json, &event)
            .await?;
        Ok(settings)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// A field is blank, malformed, too long or breaks a rule: nothing was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such user")]
    UserNotFound,
    /// No address awaits verification: the one in force is verified, or there is none.
    #[error("no email address awaits verification")]
    NothingToVerify,
    /// No link has this secret (never made, or forgotten since it expired).
    #[error("this link is not valid")]
    UnknownLink,
    /// The link did its work already, ran out of time, or its address is no longer the one
    /// awaiting verification.
    #[error("{}", .0.sentence())]
    DeadLink(DeadLink),
    /// Another user has the address in force now: nothing was written.
    #[error("another account uses this email address now")]
    Taken,
    /// The link is kept but its email could not go: a send budget is full, or no sender
    /// carries email. Asking again later sends a new one.
    #[error("the email could not be sent: {0}")]
    NotSent(VerifyError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for AddressError {
    fn from(error: StoreError) -> Self {
        AddressError::Internal(error.into())
    }
}

/// Why a link that exists can no longer verify its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLink {
    Used,
    /// Its address is the user's, verified (by another link, a code, or an administrator).
    AlreadyVerified,
    Expired,
    /// The address awaiting verification changed after the link was sent.
    Voided,
}

impl DeadLink {
    pub fn sentence(self) -> &'static str {
        match self {
            DeadLink::Used => "this link was used already: the address it was sent to is verified",
            DeadLink::AlreadyVerified => "this email address is verified already: nothing to do",
            DeadLink::Expired => "this link has expired: ask for a new one",
            DeadLink::Voided => {
                "the email address changed after this link was sent, so it no longer works: \
                 use the link sent to the new address"
            }
        }
    }

    /// As the audit log records it.
    fn reason(self) -> &'static str {
        match self {
            DeadLink::Used => "link_used",
            DeadLink::AlreadyVerified => "already_verified",
            DeadLink::Expired => "link_expired",
            DeadLink::Voided => "address_changed_since",
        }
    }
}

/// The field a link's secret arrives in, as the API names it.
pub const VERIFICATION_ID_FIELD: &str = "verificationId";

/// The field an address arrives in, as the API and the pages name it.
pub const EMAIL_FIELD: &str = "email";

fn parse_link(raw: &str) -> Result<VerificationId, AddressError> {
    VerificationId::parse(raw).map_err(|e: Invalid| {
        AddressError::Invalid(vec![FieldError::new(VERIFICATION_ID_FIELD, e)])
    })
}

/// What the store keeps of a link's secret.
fn link_key(id: &VerificationId) -> String {
    lookup_digest(id.expose())
}

/// The origin a send is counted from. A person's own request counts against the address it
/// comes from; an administrator's does not (an application creating users in bulk would use
/// the budget up), while the budgets of the user, the destination and the server still hold.
fn budget_origin(actor: &Actor, user: UserId, origin: &Origin) -> Origin {
    match actor {
        Actor::User(id) if *id == user => origin.clone(),
        Actor::Anonymous => origin.clone(),
        Actor::User(_) | Actor::ApiKey(_) | Actor::Cli | Actor::System => Origin {
            ip: None,
            ..origin.clone()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_administrators_send_is_not_counted_against_the_address_it_comes_from() {
        let user = UserId::new();
        let origin = Origin {
            ip: Some("192.0.2.7".into()),
            ..Origin::default()
        };
        assert_eq!(
            budget_origin(&Actor::User(user), user, &origin).ip,
            origin.ip
        );
        assert_eq!(
            budget_origin(&Actor::Anonymous, user, &origin).ip,
            origin.ip
        );
        for admin in [
            Actor::User(UserId::new()),
            Actor::ApiKey("ak_1".into()),
            Actor::Cli,
        ] {
            assert_eq!(budget_origin(&admin, user, &origin).ip, None, "{admin:?}");
        }
    }
}
