//! The second factor: enrolling methods, challenging a login, recovery codes, trusted computers
//! and the settings behind them. Both the JSON API and the web pages call these flows.

mod challenge;
pub mod channels;
pub mod codes;
mod counted;
mod enroll;
mod guess;
mod guess_rules;
pub mod preference;
mod setup;
mod trust;
mod views;

use subtle::ConstantTimeEq;

pub use challenge::{CompleteLogin, CompletedLogin, PendingLogin};
pub use enroll::{EnableMethod, Enabled};
pub use setup::AuthenticatorSetup;
pub use trust::IssuedTrust;
pub use views::{LiveSession, SecurityOverview, TwoFactorStatus};

use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::cipher::SecretBox;
use crate::domain::{Channel, FieldError, Invalid, MethodId, MethodKind, UserId};
use crate::otp::{OtpCode, RecoveryCode, TotpParams, TotpSecret};
use crate::policy::TwoFactorPolicy;
use crate::sessions::Sessions;
use crate::store::{
    AuditStore, MethodRecord, SessionStore, SettingStore, Store, Trusts, TwoFactorStore, UserStore,
    VerifyStore,
};
use crate::verify::Verify;

/// Second factors: enrolling and removing methods, finishing a login with a code, recovery
/// codes, trusted computers and the two-factor settings.
#[derive(Clone)]
pub struct TwoFactor {
    audit_store: AuditStore,
    session_store: SessionStore,
    setting_store: SettingStore,
    two_factor_store: TwoFactorStore,
    user_store: UserStore,
    verify_store: VerifyStore,
    secrets: SecretBox,
    judge: CodeJudge,
    /// The configuration's two-factor settings; stored settings override them.
    defaults: TwoFactorPolicy,
    /// The issuer shown in authenticator apps.
    product_name: String,
    verify: Verify,
    sessions: Sessions,
}

impl TwoFactor {
    pub fn new(
        store: Store,
        secrets: SecretBox,
        defaults: TwoFactorPolicy,
        product_name: String,
        verify: Verify,
        sessions: Sessions,
    ) -> Self {
        Self {
            audit_store: store.audit(),
            session_store: store.sessions(),
            setting_store: store.settings(),
            two_factor_store: store.two_factor(),
            user_store: store.users(),
            verify_store: store.verify(),
            judge: CodeJudge {
                secrets: secrets.clone(),
            },
            secrets,
            defaults,
            product_name,
            verify,
            sessions,
        }
    }

    /// The configuration's two-factor settings, which stored settings override.
    pub fn configured_policy(&self) -> &TwoFactorPolicy {
        &self.defaults
    }
}

/// A change of a user's second factors ends the trust given to their computers: each trust
/// stood for the factors the user had when it was given.
pub(crate) const AFTER_A_FACTOR_CHANGE: Trusts = Trusts::Revoked;

pub(crate) const SETTINGS_KEY: &str = "two_factor";
const RECOVERY_CODES_PER_SET: usize = 10;
const RECOVERY_HASH_PURPOSE: &str = "recovery-code";
const ENROLLMENT_HASH_PURPOSE: &str = "enrollment-completion";
const AUTHENTICATOR_FINGERPRINT_PURPOSE: &str = "authenticator-secret";

#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    /// 400: the request is malformed; nothing changed.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// 421: the code is wrong (or already used).
    #[error("the code is wrong")]
    WrongCode,
    /// 404: no such login waiting for a second factor (unknown, expired, finished or out of
    /// attempts).
    #[error("no such login in progress")]
    UnknownChallenge,
    #[error("no such user")]
    UserNotFound,
    /// 403: the session must log in again (with its second factor) first.
    #[error("{0}")]
    Forbidden(String),
    /// 429: the user's recent wrong codes reached the limit; the code was not checked.
    #[error("too many wrong second-factor codes for this account")]
    TooManyFailures { retry_after_seconds: i64 },
    /// A code could not be sent (refused destination, limits, provider failure).
    #[error(transparent)]
    Delivery(crate::verify::VerifyError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl TwoFactorError {
    pub(crate) fn field(field: &str, invalid: Invalid) -> Self {
        TwoFactorError::Invalid(vec![FieldError::new(field, invalid)])
    }
}

impl From<crate::delivery::DeliverySettingsError> for TwoFactorError {
    fn from(error: crate::delivery::DeliverySettingsError) -> Self {
        match error {
            crate::delivery::DeliverySettingsError::Invalid(fields) => {
                TwoFactorError::Invalid(fields)
            }
            crate::delivery::DeliverySettingsError::Internal(e) => TwoFactorError::Internal(e),
        }
    }
}

impl From<crate::store::StoreError> for TwoFactorError {
    fn from(error: crate::store::StoreError) -> Self {
        TwoFactorError::Internal(error.into())
    }
}

/// A code as a person typed it: digits from an app or a message, or a recovery code.
#[derive(Debug, Clone)]
pub enum PresentedCode {
    Numeric(OtpCode),
    Recovery(RecoveryCode),
}

impl PresentedCode {
    pub fn parse(raw: &str) -> Result<Self, TwoFactorError> {
        if RecoveryCode::looks_like(raw) {
            return RecoveryCode::parse(raw)
                .map(PresentedCode::Recovery)
                .map_err(|e| TwoFactorError::field("code", e));
        }
        OtpCode::parse(raw)
            .map(PresentedCode::Numeric)
            .map_err(|e| {
                TwoFactorError::field(
                    "code",
                    Invalid::new(
                        e.code,
                        format!("{}; or give a recovery code like QJD73-L6GR5", e.message),
                    ),
                )
            })
    }
}

/// How a code was accepted, as the `amr` of the session it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    Method(MethodKind),
    /// A code sent by this channel.
    Sent(Channel),
    RecoveryCode,
}

impl Accepted {
    pub(crate) fn amr(self) -> &'static str {
        match self {
            Accepted::Method(kind) => kind.amr(),
            Accepted::Sent(channel) => channel.amr(),
            Accepted::RecoveryCode => "rec",
        }
    }
}

impl TwoFactor {
    /// The two-factor settings in force: the stored ones when an administrator saved some,
    /// else the configuration's.
    pub async fn two_factor_policy(&self) -> Result<TwoFactorPolicy, TwoFactorError> {
        let stored = self.setting_store.setting(SETTINGS_KEY).await?;
        Ok(self.policy_from_stored(stored.as_deref()))
    }

    /// The settings in force given what is stored under their key (read elsewhere, for
    /// instance with a code check's first statement).
    pub(crate) fn policy_from_stored(&self, stored: Option<&str>) -> TwoFactorPolicy {
        policy_from_stored(stored, self.defaults.clone())
    }

    pub async fn set_two_factor_policy(
        &self,
        policy: &TwoFactorPolicy,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        policy.check().map_err(TwoFactorError::Invalid)?;
        let json = serde_json::to_string(policy).map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(EventKind::SettingsChange, actor, origin, now)
            .detail("key", SETTINGS_KEY)
            .detail(
                "value",
                serde_json::to_value(policy).map_err(anyhow::Error::from)?,
            );
        self.setting_store
            .put_setting(SETTINGS_KEY, &json, &event)
            .await?;
        Ok(())
    }

    pub async fn user_methods(&self, user: UserId) -> Result<Vec<MethodRecord>, TwoFactorError> {
        Ok(self.two_factor_store.methods(user).await?)
    }

    /// Checks a numeric code against the given authenticators and spends its time step. The
    /// spending is one conditional update, so a code is accepted once, whatever the races.
    pub(crate) async fn accept_authenticator_code(
        &self,
        code: &OtpCode,
        methods: &[&MethodRecord],
        policy: &TwoFactorPolicy,
        now: Instant,
    ) -> Result<Option<MethodKind>, TwoFactorError> {
        for method in methods {
            if let Some(step) = self.judge.authenticator_step(code, method, policy, now)?
                && self
                    .two_factor_store
                    .claim_totp_step(&method.id, step, now)
                    .await?
            {
                return Ok(Some(method.kind));
            }
        }
        Ok(None)
    }

    /// Spends one of the user's recovery codes.
    pub(crate) async fn accept_recovery_code(
        &self,
        user: UserId,
        code: &RecoveryCode,
        origin: &Origin,
        now: Instant,
    ) -> Result<bool, TwoFactorError> {
        let hash = self
            .secrets
            .keyed_hash(RECOVERY_HASH_PURPOSE, code.normalised());
        let used = self
            .two_factor_store
            .use_recovery_code(user, &hash, now)
            .await?;
        if used {
            let left = self.two_factor_store.unused_recovery_codes(user).await?;
            let event = AuditEvent::new(EventKind::RecoveryCodeUse, Actor::User(user), origin, now)
                .target(user)
                .detail("remaining", left);
            self.audit_store.record_event(&event).await?;
        }
        Ok(used)
    }

    /// A fresh set of recovery codes: the codes to show once, and the hashes to store.
    pub(crate) fn new_recovery_codes(&self) -> (Vec<String>, Vec<String>) {
        (0..RECOVERY_CODES_PER_SET)
            .map(|_| {
                let code = RecoveryCode::generate();
                (
                    code.display(),
                    self.secrets
                        .keyed_hash(RECOVERY_HASH_PURPOSE, code.normalised()),
                )
            })
            .unzip()
    }

    /// The keyed hash that tells whether a user already has this authenticator, without the
    /// secret itself (sealed with a fresh nonce each time) being comparable.
    pub(crate) fn authenticator_fingerprint(&self, secret: &TotpSecret) -> String {
        self.secrets
            .keyed_hash(AUTHENTICATOR_FINGERPRINT_PURPOSE, &secret.to_base32())
    }

    /// A wrong login code whose failure row the code check already wrote: only the event.
    pub(crate) async fn note_wrong_guess(
        &self,
        user: UserId,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        note_wrong_code(user);
        self.audit_store
            .record_event(&wrong_code_event(user, "login", origin, now))
            .await?;
        Ok(())
    }

    /// Whether a session may change two-factor settings now (re-authentication).
    pub async fn check_reauthenticated(
        &self,
        user: UserId,
        authenticated_at: Instant,
        amr: &[String],
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        let has_methods = !self.two_factor_store.methods(user).await?.is_empty();
        if policy.allows_sensitive_change(authenticated_at, amr, has_methods, now) {
            return Ok(());
        }
        Err(TwoFactorError::Forbidden(format!(
            "log in again{} to change two-factor settings: they need a login from the last {} minutes",
            if has_methods {
                " with your second factor"
            } else {
                ""
            },
            policy.reauthentication_seconds / 60
        )))
    }
}

/// What judging a code takes: the keys that open authenticator secrets and hash enrolment
/// codes. Small, so that a code check's transaction carries its own.
#[derive(Clone)]
pub(crate) struct CodeJudge {
    secrets: SecretBox,
}

impl CodeJudge {
    /// Opens an authenticator's secret and its parameters under the current policy.
    pub(crate) fn authenticator(
        &self,
        method: &MethodRecord,
        policy: &TwoFactorPolicy,
    ) -> Result<Option<(TotpSecret, TotpParams)>, TwoFactorError> {
        let (Some(sealed), Some((algorithm, digits, period))) = (&method.secret, method.totp)
        else {
            return Ok(None);
        };
        let bytes = self
            .secrets
            .open(
                sealed,
                &MethodRecord::seal_context(method.user_id, &method.id),
            )
            .map_err(anyhow::Error::from)?;
        let secret =
            TotpSecret::from_bytes(bytes).map_err(|e| anyhow::anyhow!("stored secret: {e}"))?;
        let params = TotpParams::new(algorithm, digits, period, policy.totp_skew_steps)
            .map_err(|e| anyhow::anyhow!("stored parameters: {e}"))?;
        Ok(Some((secret, params)))
    }

    /// The time step at which an authenticator produced this code, if it did and that step is
    /// later than its last used one. Nothing is spent.
    pub(crate) fn authenticator_step(
        &self,
        code: &OtpCode,
        method: &MethodRecord,
        policy: &TwoFactorPolicy,
        now: Instant,
    ) -> Result<Option<u64>, TwoFactorError> {
        let Some((secret, params)) = self.authenticator(method, policy)? else {
            return Ok(None);
        };
        Ok(params.matching_step(&secret, code, now.seconds(), method.last_used_step))
    }

    /// The first of the user's authenticators (allowed by the policy) that `code` matches,
    /// with the time step it matched.
    pub(crate) fn matching_authenticator(
        &self,
        code: &OtpCode,
        methods: &[MethodRecord],
        policy: &TwoFactorPolicy,
        now: Instant,
    ) -> Result<Option<(MethodId, u64)>, TwoFactorError> {
        for method in methods
            .iter()
            .filter(|m| m.kind == MethodKind::Authenticator && policy.methods.allows(m.kind))
        {
            if let Some(step) = self.authenticator_step(code, method, policy, now)? {
                return Ok(Some((method.id.clone(), step)));
            }
        }
        Ok(None)
    }

    /// The kind of method whose enrolment handed out this completion code, if it did.
    pub(crate) fn enrolled_kind(&self, stored_hash: &str, code: &OtpCode) -> Option<MethodKind> {
        MethodKind::ALL.into_iter().find(|kind| {
            let presented = self.enrollment_code_hash(*kind, code.as_str());
            bool::from(presented.as_bytes().ct_eq(stored_hash.as_bytes()))
        })
    }

    pub(crate) fn enrollment_code_hash(&self, kind: MethodKind, code: &str) -> String {
        self.secrets.keyed_hash(
            ENROLLMENT_HASH_PURPOSE,
            &format!("{}:{code}", kind.as_str()),
        )
    }
}

/// The log line, metric and audit event of a wrong code.
/// The event of a wrong second-factor code; `note_wrong_code` counts and logs it.
pub(crate) fn wrong_code_event(
    user: UserId,
    context: &'static str,
    origin: &Origin,
    now: Instant,
) -> AuditEvent {
    AuditEvent::new(EventKind::TwoFactorFailure, Actor::User(user), origin, now)
        .target(user)
        .detail("context", context)
}

/// Counts and logs a wrong login code.
pub(crate) fn note_wrong_code(user: UserId) {
    note_wrong_code_in(user, "login");
}

fn note_wrong_code_in(user: UserId, context: &'static str) {
    metrics::counter!("tessera_two_factor_failures_total", "context" => context).increment(1);
    tracing::info!(target: "security", user = %user, context, "wrong second-factor code");
}

/// The settings in force given what is stored under their key, or `defaults` (the configured
/// ones) when nothing or nothing readable is.
pub(crate) fn policy_from_stored(
    stored: Option<&str>,
    defaults: TwoFactorPolicy,
) -> TwoFactorPolicy {
    match stored {
        Some(json) => match serde_json::from_str::<TwoFactorPolicy>(json) {
            Ok(policy) => policy,
            Err(error) => {
                tracing::error!(%error, "stored two-factor settings are unreadable; using the configured ones");
                defaults
            }
        },
        None => defaults,
    }
}
