//! Security notices: a person is told, by email to their verified address (and by text, where
//! the administrator allows it), when their account is logged in to from a new computer, its
//! password changes, a second factor is added or removed, recovery codes are used or renewed,
//! or an administrator resets its second factors or lets it in with an access code. The
//! notices are read from the audit log (`worker.rs`, the rules in `rules.rs`), so every path to
//! a change tells the same. Each carries a "this was not me" link (`disown.rs`) that ends every
//! session and sends a link to choose a new password. The words are in `texts.rs`, the
//! administrator's choices in `settings.rs`.

mod disown;
mod rules;
mod settings;
mod texts;
pub mod worker;

pub use disown::{Disowned, NoticeState};
pub use rules::Happened;
pub use settings::{NoticeSettings, PARTS, PLACEHOLDERS, SETTINGS_KEY};
pub use texts::{LINK_DAYS, built_in};

use serde::{Deserialize, Serialize};

use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random::lookup_digest;
use crate::domain::{FieldError, NoticeId};
use crate::recovery::Recovery;
use crate::store::{AuditStore, Backend, NoticeStore, SettingStore, Store, UserStore};
use crate::two_factor::TwoFactor;
use crate::verify::Verify;

macro_rules! notice_kinds {
    ($($variant:ident => $name:literal,)*) => {
        /// What a notice tells of, by the name the settings and templates use.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        pub enum NoticeKind {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl NoticeKind {
            pub const ALL: &[NoticeKind] = &[$(NoticeKind::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(NoticeKind::$variant => $name,)*
                }
            }
        }
    };
}

notice_kinds! {
    NewComputer => "newComputer",
    PasswordChanged => "passwordChanged",
    MethodAdded => "methodAdded",
    MethodRemoved => "methodRemoved",
    RecoveryCodeUsed => "recoveryCodeUsed",
    RecoveryCodesRenewed => "recoveryCodesRenewed",
    TwoFactorReset => "twoFactorReset",
    AccessCodeUsed => "accessCodeUsed",
}

impl NoticeKind {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// What the console's checkbox says.
    pub fn label(self) -> &'static str {
        match self {
            NoticeKind::NewComputer => "A login from a computer the account had not used",
            NoticeKind::PasswordChanged => "The password changed",
            NoticeKind::MethodAdded => "A second factor added",
            NoticeKind::MethodRemoved => "A second factor removed",
            NoticeKind::RecoveryCodeUsed => "A recovery code used to log in",
            NoticeKind::RecoveryCodesRenewed => "New recovery codes made",
            NoticeKind::TwoFactorReset => "An administrator reset the second factors",
            NoticeKind::AccessCodeUsed => "An administrator's access code used to log in",
        }
    }
}

/// How long after an event PostgreSQL is trusted to have committed every event logged before
/// it: its ids are taken when a row is written, so a lower id may commit a little later.
/// SQLite commits one writer at a time, in order.
const POSTGRES_SETTLE_SECONDS: i64 = 3;

/// Tells people what happened to their accounts.
#[derive(Clone)]
pub struct Notices {
    notice_store: NoticeStore,
    user_store: UserStore,
    audit_store: AuditStore,
    /// The notices settings.
    setting_store: SettingStore,
    /// The emails and texts, under the send budgets, and the locale they are written in.
    verify: Verify,
    /// The phone a text goes to.
    two_factor: TwoFactor,
    /// The link to choose a new password, sent when a notice is disowned.
    recovery: Recovery,
    /// What the notices call the server, and where their links lead.
    product_name: String,
    public_url: String,
    settle_seconds: i64,
}

impl Notices {
    pub fn new(
        store: Store,
        verify: Verify,
        two_factor: TwoFactor,
        recovery: Recovery,
        product_name: String,
        public_url: String,
    ) -> Self {
        let settle_seconds = match store.backend() {
            Backend::Sqlite => 0,
            Backend::Postgres => POSTGRES_SETTLE_SECONDS,
        };
        Self {
            notice_store: store.notices(),
            user_store: store.users(),
            audit_store: store.audit(),
            setting_store: store.settings(),
            verify,
            two_factor,
            recovery,
            product_name,
            public_url,
            settle_seconds,
        }
    }

    /// The notices settings in force.
    pub async fn settings(&self) -> Result<NoticeSettings, NoticeError> {
        let stored = self.setting_store.setting(SETTINGS_KEY).await?;
        Ok(NoticeSettings::from_stored(stored.as_deref()))
    }

    /// Replaces the notices settings, once every template in them is sound; they apply to the
    /// next event told, on every node.
    pub async fn set_settings(
        &self,
        settings: &NoticeSettings,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), NoticeError> {
        settings.check().map_err(NoticeError::Invalid)?;
        let json = serde_json::to_string(settings).map_err(anyhow::Error::from)?;
        let kinds: Vec<&str> = settings.kinds.iter().map(|k| k.as_str()).collect();
        let event = AuditEvent::new(EventKind::SettingsChange, actor, origin, now)
            .detail("key", SETTINGS_KEY)
            .detail("email", settings.email)
            .detail("sms", settings.sms)
            .detail("kinds", kinds)
            .detail("templates", settings.templates.len());
        self.setting_store
            .put_setting(SETTINGS_KEY, &json, &event)
            .await?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    /// A field is malformed or breaks a rule: nothing was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No notice has this link (never sent, or forgotten since it expired).
    #[error("this link is not valid")]
    UnknownLink,
    /// The link's seven days are over.
    #[error("this link has expired")]
    Expired,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for NoticeError {
    fn from(error: crate::store::StoreError) -> Self {
        NoticeError::Internal(error.into())
    }
}

/// What the store keeps of a notice link's secret.
fn link_key(id: &NoticeId) -> String {
    lookup_digest(id.expose())
}

/// The field a notice link's secret arrives in.
pub const NOTICE_ID_FIELD: &str = "noticeId";
