//! Account recovery: a person who forgot their password asks for a one-time link by email
//! (`forgot.rs`), or, where the settings allow it, a code by text that makes the same link
//! (`code.rs`), and the link lets them choose a new one (`reset.rs`). A reset never logs
//! anyone in: the next login still asks for the second factor of a user who has one.

mod code;
mod forgot;
mod invite;
mod reset;
mod texts;

pub use code::{CODE_FIELD, ForgotCode};
pub use forgot::{ForgotPassword, LINK_LIFETIME_SECONDS, LOGIN_ID_FIELD, LinkIssued, ResetBy};
pub use invite::{BULK_INVITATIONS, INVITATION_LIFETIME_SECONDS, Invited};
pub use reset::{LinkFor, LinkState, PasswordReset, ResetPassword};

use crate::accounts::{AccountError, Accounts};
use crate::crypto::PasswordHasher;
use crate::crypto::random::lookup_digest;
use crate::domain::{ChangePasswordId, FieldError, Invalid};
use crate::store::{AuditStore, PasswordLinkStore, SettingStore, Store, UserStore};
use crate::two_factor::TwoFactor;
use crate::verify::{Verify, VerifyError};

/// Forgotten passwords: links asked for, sent and spent.
#[derive(Clone)]
pub struct Recovery {
    audit_store: AuditStore,
    link_store: PasswordLinkStore,
    /// The accounts settings: whether an unverified address names an account.
    setting_store: SettingStore,
    user_store: UserStore,
    hasher: PasswordHasher,
    /// The send budgets, the email itself and a texted code.
    verify: Verify,
    /// Whether the settings allow a code by text, and the phone it goes to.
    two_factor: TwoFactor,
    /// The accounts an invitation is made with.
    accounts: Accounts,
    /// What the emails call the server, and where their links lead.
    product_name: String,
    public_url: String,
}

impl Recovery {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        verify: Verify,
        two_factor: TwoFactor,
        accounts: Accounts,
        product_name: String,
        public_url: String,
    ) -> Self {
        Self {
            audit_store: store.audit(),
            link_store: store.password_links(),
            setting_store: store.settings(),
            user_store: store.users(),
            hasher,
            verify,
            two_factor,
            accounts,
            product_name,
            public_url,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// A field is blank, malformed or breaks a rule: nothing was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Too many requests came from this address.
    #[error("too many requests from this address; try again in {retry_after_seconds} seconds")]
    Throttled { retry_after_seconds: i64 },
    /// A texted code that does not prove the account's phone (or an account that was sent none).
    #[error("this code is not right")]
    WrongCode,
    /// No link has this secret (never made, or forgotten since it expired).
    #[error("this link is not valid")]
    UnknownLink,
    /// The link did its work already, ran out of time, or a change of password since voided it.
    #[error("{}", .0.sentence())]
    DeadLink(DeadLink),
    /// An account could not be made (an invitation's): the fields say why.
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Why a link that exists can no longer set a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLink {
    Used,
    Expired,
    /// The password changed after the link was sent.
    Voided,
}

impl DeadLink {
    pub fn sentence(self) -> &'static str {
        match self {
            DeadLink::Used => "this link was used already: ask for a new one if you need to",
            DeadLink::Expired => "this link has expired: ask for a new one",
            DeadLink::Voided => {
                "the password changed after this link was sent, so it no longer works: ask for a \
                 new one if you need to"
            }
        }
    }

    /// As the audit log records it.
    fn reason(self) -> &'static str {
        match self {
            DeadLink::Used => "link_used",
            DeadLink::Expired => "link_expired",
            DeadLink::Voided => "password_changed_since",
        }
    }
}

impl From<VerifyError> for RecoveryError {
    fn from(error: VerifyError) -> Self {
        RecoveryError::Internal(anyhow::Error::from(error))
    }
}

impl From<crate::store::StoreError> for RecoveryError {
    fn from(error: crate::store::StoreError) -> Self {
        RecoveryError::Internal(error.into())
    }
}

/// The field the new password arrives in, as the API names it.
pub const PASSWORD_FIELD: &str = "password";

/// The field a link's secret arrives in, as the API names it.
pub const CHANGE_PASSWORD_ID_FIELD: &str = "changePasswordId";

fn parse_link(raw: &str) -> Result<ChangePasswordId, RecoveryError> {
    ChangePasswordId::parse(raw).map_err(|e: Invalid| {
        RecoveryError::Invalid(vec![FieldError::new(CHANGE_PASSWORD_ID_FIELD, e)])
    })
}

/// What the store keeps of a link's secret.
fn link_key(id: &ChangePasswordId) -> String {
    lookup_digest(id.expose())
}

/// What a link keeps of the password it was made under: a change of password since voids it.
fn password_version(hash: &crate::crypto::PasswordHash) -> String {
    lookup_digest(hash.as_str())
}
