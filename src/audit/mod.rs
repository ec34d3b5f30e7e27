//! The audit log: who did what to whom, from where. Details never hold a secret; the store
//! writes an event in the same transaction as the change it describes. `readable` says each
//! event as a sentence for people.

mod details;
pub mod metrics;
mod readable;
mod sentences;

use std::fmt;

use serde::Serialize;

use crate::clock::Instant;
use crate::domain::UserId;

pub use readable::{ReadableEvent, Usernames, readable};

macro_rules! event_kinds {
    ($($variant:ident => $name:literal,)*) => {
        /// Security events by name. The names are part of the API (filters, exports), so they
        /// only grow.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum EventKind {
            $($variant,)*
        }

        impl EventKind {
            pub const ALL: &[EventKind] = &[$(EventKind::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }
        }
    };
}

event_kinds! {
    LoginSuccess => "login.success",
    LoginFailure => "login.failure",
    LoginThrottled => "login.throttled",
    Logout => "logout",
    TokenRefresh => "token.refresh",
    RefreshTokenReuse => "token.refresh_reuse",
    UserCreate => "user.create",
    UserUpdate => "user.update",
    UserDelete => "user.delete",
    PasswordChange => "user.password_change",
    PasswordRehash => "user.password_rehash",
    UserDisable => "user.disable",
    UserEnable => "user.enable",
    PhoneChange => "user.phone_change",
    ApiKeyCreate => "api_key.create",
    ApiKeyRevoke => "api_key.revoke",
    TwoFactorChallenge => "two_factor.challenge",
    TwoFactorFailure => "two_factor.failure",
    TwoFactorBlocked => "two_factor.blocked",
    TwoFactorEnable => "two_factor.enable",
    TwoFactorDisable => "two_factor.disable",
    RecoveryCodeUse => "two_factor.recovery_code_use",
    RecoveryCodesRegenerate => "two_factor.recovery_codes_regenerate",
    TrustGrant => "two_factor.trust_grant",
    TrustRevoke => "two_factor.trust_revoke",
    TrustReuse => "two_factor.trust_reuse",
    SettingsChange => "settings.change",
    CodeSent => "verify.send",
    CodeRefused => "verify.refused",
    DeliveryTest => "delivery.test",
    TermsAccepted => "user.terms_accepted",
    TwoFactorReset => "two_factor.reset",
    UserUnlock => "user.unlock",
    UserImport => "user.import",
    VerifyAccountCreate => "verify_account.create",
    NameCollision => "user.name_collision",
    PasswordChangeFailure => "user.password_change_failure",
    PasswordResetRequest => "user.password_reset_request",
    PasswordReset => "user.password_reset",
    PasswordResetFailure => "user.password_reset_failure",
    PasswordChangeRequired => "user.password_change_required",
    UserInvite => "user.invite",
    AccessCodeIssue => "two_factor.access_code_issue",
    AccessCodeUse => "two_factor.access_code_use",
    AccessCodeRevoke => "two_factor.access_code_revoke",
    EmailVerificationSent => "user.email_verification_sent",
    EmailVerified => "user.email_verified",
    EmailVerificationFailure => "user.email_verification_failure",
    NoticeSent => "user.notice_sent",
    NoticeDisowned => "user.notice_disowned",
    UserRegister => "user.register",
    OidcClientCreate => "oidc.client_create",
    OidcClientSecretRotate => "oidc.client_secret_rotate",
    OidcClientDelete => "oidc.client_delete",
    OidcCodeIssue => "oidc.code_issue",
    OidcTokenIssue => "oidc.token_issue",
    OidcCodeReuse => "oidc.code_reuse",
    OidcTokenRefresh => "oidc.token_refresh",
    OidcRefreshReuse => "oidc.refresh_reuse",
    OidcGrantRevoke => "oidc.grant_revoke",
    OidcAccessRefused => "oidc.access_refused",
    OidcConsentGrant => "oidc.consent_grant",
    GroupCreate => "group.create",
    GroupUpdate => "group.update",
    GroupDelete => "group.delete",
    GroupMemberAdd => "group.member_add",
    GroupMemberRemove => "group.member_remove",
    Reauthenticate => "login.reauthenticate",
    StepUp => "login.step_up",
    OidcClientUpdate => "oidc.client_update",
    OidcApplicationRevoke => "oidc.application_revoke",
    ForwardAuthDeny => "forward_auth.deny",
    OidcKeyRotate => "oidc.key_rotate",
    OidcKeyRetire => "oidc.key_retire",
    AppPasswordCreate => "app_password.create",
    AppPasswordRevoke => "app_password.revoke",
    BasicAuthRefused => "forward_auth.basic_refused",
    WebauthnRegister => "webauthn.register",
    WebauthnDelete => "webauthn.delete",
    WebauthnAssert => "webauthn.assert",
    WebauthnCloneRefused => "webauthn.clone_refused",
    WebauthnPolicyRefused => "webauthn.policy_refused",
}

impl EventKind {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    ApiKey(String),
    Cli,
    System,
    /// Someone not (yet) authenticated, such as a failed login.
    Anonymous,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::ApiKey(id) => write!(f, "api-key:{id}"),
            Actor::Cli => f.write_str("cli"),
            Actor::System => f.write_str("system"),
            Actor::Anonymous => f.write_str("anonymous"),
        }
    }
}

impl Actor {
    /// An actor as the log stores it (`Display`); `None` for anything else.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "cli" => Some(Actor::Cli),
            "system" => Some(Actor::System),
            "anonymous" => Some(Actor::Anonymous),
            other => {
                if let Some(id) = other.strip_prefix("user:") {
                    UserId::parse(id).ok().map(Actor::User)
                } else {
                    other
                        .strip_prefix("api-key:")
                        .map(|id| Actor::ApiKey(id.to_owned()))
                }
            }
        }
    }
}

/// Where a request came from, as far as the server can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A digest of the browser's long-lived id cookie, when it sent one: which computer, for
    /// the notice of a login from a new one (never the cookie itself).
    pub device: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: Instant,
    pub actor: Actor,
    pub target: Option<String>,
    pub kind: EventKind,
    pub origin: Origin,
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(kind: EventKind, actor: Actor, origin: &Origin, at: Instant) -> Self {
        Self {
            at,
            actor,
            target: None,
            kind,
            origin: origin.clone(),
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, user: UserId) -> Self {
        self.target = Some(user.to_string());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let serde_json::Value::Object(map) = &mut self.details {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}

/// An event as read back from the log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    pub id: i64,
    pub insert_instant: i64,
    pub actor: String,
    pub target: Option<String>,
    pub event: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

/// What to read from the log; all conditions apply together.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub target: Option<String>,
    pub kind: Option<EventKind>,
    pub since: Option<Instant>,
    pub until: Option<Instant>,
    pub limit: i64,
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_name_parses_back_to_its_kind() {
        for &kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
        assert_eq!(EventKind::parse("nope"), None);
    }

    #[test]
    fn every_actor_parses_back_from_the_way_it_is_stored() {
        for actor in [
            Actor::User(UserId::new()),
            Actor::ApiKey("ak_123".into()),
            Actor::Cli,
            Actor::System,
            Actor::Anonymous,
        ] {
            assert_eq!(Actor::parse(&actor.to_string()), Some(actor));
        }
        assert_eq!(Actor::parse("user:not-a-uuid"), None);
        assert_eq!(Actor::parse("robot"), None);
    }
}
