//! The second factor: enrolling methods, challenging a login, recovery codes, administrators'
//! access codes, trusted computers and the settings behind them. Both the JSON API and the web
//! pages call these flows.

mod access;
mod challenge;
pub mod channels;
pub mod codes;
mod counted;
mod enrol_at_login;
mod enroll;
mod guess;
mod guess_rules;
mod key;
mod keys;
pub mod preference;
mod setup;
mod trust;
mod views;

use subtle::ConstantTimeEq;

pub(crate) use access::access_code_digest;
pub use challenge::{CompleteLogin, CompletedLogin, PendingLogin, SecondStep};
pub use enrol_at_login::{KeyEnrolment, LoginEnrolment};
pub use enroll::{EnableMethod, Enabled};
pub use key::{KeyGuess, KeyLogin, KeyUse, KeyUseEnd};
pub use keys::KeyStanding;
pub use setup::AuthenticatorSetup;
pub use trust::IssuedTrust;
pub use views::{LiveSession, SecurityOverview, TwoFactorStatus};

use guess_rules::CodeMatch;

use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::cipher::SecretBox;
use crate::domain::{Channel, FieldError, Invalid, MethodKind, PhoneNumber, UserId};
use crate::otp::{AccessCode, OtpCode, RecoveryCode, StepMatch, TotpParams, TotpSecret};
use crate::policy::TwoFactorPolicy;
use crate::sessions::Sessions;
use crate::store::{
    AuditStore, GroupStore, MethodRecord, SessionStore, SettingStore, Store, Trusts,
    TwoFactorStore, UserStore, VerifyStore, WebauthnStore,
};
use crate::verify::Verify;

/// Second factors: enrolling and removing methods, finishing a login with a code, recovery
/// codes, trusted computers and the two-factor settings.
#[derive(Clone)]
pub struct TwoFactor {
    audit_store: AuditStore,
    /// The groups the settings name (that they exist), and a user's (whether they must).
    group_store: GroupStore,
    session_store: SessionStore,
    setting_store: SettingStore,
    two_factor_store: TwoFactorStore,
    user_store: UserStore,
    verify_store: VerifyStore,
    /// Whether a user has security keys: a second factor a login may wait for.
    webauthn_store: WebauthnStore,
    secrets: SecretBox,
    judge: CodeJudge,
    /// The configuration's two-factor settings; stored settings override them.
    defaults: TwoFactorPolicy,
    /// The issuer shown in authenticator apps.
    product_name: String,
    verify: Verify,
    sessions: Sessions,
    /// The configuration names attestation roots, without which no AAGUID can be verified.
    attestation_roots: bool,
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
            group_store: store.groups(),
            session_store: store.sessions(),
            setting_store: store.settings(),
            two_factor_store: store.two_factor(),
            user_store: store.users(),
            verify_store: store.verify(),
            webauthn_store: store.webauthn(),
            judge: CodeJudge {
                secrets: secrets.clone(),
            },
            secrets,
            defaults,
            product_name,
            verify,
            sessions,
            attestation_roots: false,
        }
    }

    /// The same, knowing whether the configuration names attestation roots
    /// (`webauthn.attestation_roots_file`), which a restriction by AAGUID needs.
    pub fn with_attestation_roots(mut self, named: bool) -> Self {
        self.attestation_roots = named;
        self
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
    /// 421: the code is wrong.
    #[error("the code is wrong")]
    WrongCode,
    /// 421: an authenticator's code of a time step already used (`CodeFailure::AlreadyUsed`).
    #[error("the code was already used")]
    CodeAlreadyUsed,
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

/// What a login's second step takes: any code of `PresentedCode`, or an administrator's
/// one-time access code, which is good for nothing else.
#[derive(Debug, Clone)]
pub(crate) enum LoginCode {
    Presented(PresentedCode),
    Access(AccessCode),
    /// A security key's assertion, which WebAuthn checks (`key`): never parsed from a code.
    SecurityKey,
}

impl LoginCode {
    pub(crate) fn parse(raw: &str) -> Result<Self, TwoFactorError> {
        if AccessCode::is_meant(raw) {
            return AccessCode::parse(raw).map(LoginCode::Access).map_err(|e| {
                TwoFactorError::field(
                    "code",
                    Invalid::new(
                        e.code,
                        format!("{}; a recovery code has 10, like QJD73-L6GR5", e.message),
                    ),
                )
            });
        }
        PresentedCode::parse(raw).map(LoginCode::Presented)
    }
}

/// How a code was accepted, as the `amr` of the session it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    Method(MethodKind),
    /// A code sent by this channel.
    Sent(Channel),
    RecoveryCode,
    /// An administrator's one-time access code: no RFC 8176 value says it, and `otp` would
    /// claim a device the person may have lost, so a value of ours that says what it was.
    AccessCode,
    /// A security key's (or a passkey's) assertion: RFC 8176's hardware key.
    SecurityKey,
}

impl Accepted {
    pub(crate) fn amr(self) -> &'static str {
        match self {
            Accepted::Method(kind) => kind.amr(),
            Accepted::Sent(channel) => channel.amr(),
            Accepted::RecoveryCode => "rec",
            Accepted::AccessCode => "access_code",
            Accepted::SecurityKey => "hwk",
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
        let mut errors = policy.check().err().unwrap_or_default();
        if !policy.webauthn.allowed_aaguids.is_empty() && !self.attestation_roots {
            errors.push(FieldError::new(
                "webauthn.allowedAaguids",
                Invalid::new(
                    "[invalid]",
                    "webauthn.allowedAaguids needs attestation roots to verify them: name a PEM \
                     file as webauthn.attestation_roots_file in the configuration first",
                ),
            ));
        }
        for (field, named) in [
            ("requiredForGroups", &policy.required_for_groups),
            (
                "webauthn.phishingResistantForGroups",
                &policy.webauthn.phishing_resistant_for_groups,
            ),
        ] {
            let found = self.group_store.existing(named).await?;
            if let Some(missing) = named.iter().find(|id| !found.contains(id)) {
                errors.push(FieldError::new(
                    field,
                    Invalid::new(
                        "[invalid]",
                        format!("there is no group with the id {missing}"),
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(TwoFactorError::Invalid(errors));
        }
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

    /// The phone a message outside a login goes to (`preference::phone_used_last`), if the
    /// user has one.
    pub async fn phone_of(&self, user: UserId) -> Result<Option<PhoneNumber>, TwoFactorError> {
        let methods = self.two_factor_store.methods(user).await?;
        Ok(preference::phone_used_last(&methods))
    }

    /// Checks a numeric code against the given authenticators and spends its time step. The
    /// spending is one conditional update, so a code is accepted once, whatever the races: a
    /// check that finds its step spent, before or by a concurrent one, was just used.
    pub(crate) async fn accept_authenticator_code(
        &self,
        code: &OtpCode,
        methods: &[&MethodRecord],
        policy: &TwoFactorPolicy,
        now: Instant,
    ) -> Result<Result<MethodKind, CodeFailure>, TwoFactorError> {
        let mut failure = CodeFailure::Wrong;
        for method in methods {
            match self.judge.authenticator_step(code, method, policy, now)? {
                StepMatch::Fresh(step) => {
                    if self
                        .two_factor_store
                        .claim_totp_step(&method.id, step, now)
                        .await?
                    {
                        return Ok(Ok(method.kind));
                    }
                    // A concurrent check spent the step first.
                    failure = CodeFailure::AlreadyUsed;
                }
                StepMatch::Spent => failure = CodeFailure::AlreadyUsed,
                StepMatch::None => {}
            }
        }
        Ok(Err(failure))
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

    /// A failed login code whose failure row the code check already wrote: only the event.
    pub(crate) async fn note_failed_guess(
        &self,
        user: UserId,
        failure: CodeFailure,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        note_code_failure(user, "login", failure);
        self.audit_store
            .record_event(&code_failure_event(user, "login", failure, origin, now))
            .await?;
        Ok(())
    }

    /// A user's second factors: their methods, and whether they have security keys or
    /// passkeys.
    /// Only the kinds of key the settings allow count.
    pub async fn second_factors(&self, user: UserId) -> Result<SecondFactors, TwoFactorError> {
        Ok(SecondFactors {
            methods: self.two_factor_store.methods(user).await?,
            keys: !self.usable_keys(user).await?.is_empty(),
        })
    }

    /// Whether a session may change two-factor settings now (re-authentication): every path
    /// that guards a sensitive change asks this, with the user's second factors, keys included.
    pub async fn check_reauthenticated(
        &self,
        user: UserId,
        authenticated_at: Instant,
        amr: &[String],
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        let has_second_factor = self.second_factors(user).await?.any();
        if policy.allows_sensitive_change(authenticated_at, amr, has_second_factor, now) {
            return Ok(());
        }
        Err(TwoFactorError::Forbidden(format!(
            "log in again{} to change two-factor settings: they need a login from the last {} minutes",
            if has_second_factor {
                " (or re-authenticate) with your second factor"
            } else {
                ""
            },
            policy.reauthentication_seconds / 60
        )))
    }
}

/// A user's second factors, as re-authentication counts them.
#[derive(Debug, Clone)]
pub struct SecondFactors {
    pub methods: Vec<MethodRecord>,
    /// Security keys or passkeys (WebAuthn's).
    pub keys: bool,
}

impl SecondFactors {
    /// Whether there is one: a method or a key. A user with one must prove it (`mfa`) before a
    /// sensitive change.
    pub fn any(&self) -> bool {
        !self.methods.is_empty() || self.keys
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

    /// Whether an authenticator produced this code near now, at a time step later than its last
    /// used one (fresh) or not (spent). Nothing is spent.
    pub(crate) fn authenticator_step(
        &self,
        code: &OtpCode,
        method: &MethodRecord,
        policy: &TwoFactorPolicy,
        now: Instant,
    ) -> Result<StepMatch, TwoFactorError> {
        let Some((secret, params)) = self.authenticator(method, policy)? else {
            return Ok(StepMatch::None);
        };
        Ok(params.step_match(&secret, code, now.seconds(), method.last_used_step))
    }

    /// What `code` is among the user's authenticators (allowed by the policy): the first one's
    /// fresh code with the time step it matched, else a spent step's code of any, else nothing.
    pub(crate) fn matching_authenticator(
        &self,
        code: &OtpCode,
        methods: &[MethodRecord],
        policy: &TwoFactorPolicy,
        now: Instant,
    ) -> Result<CodeMatch, TwoFactorError> {
        let mut found = CodeMatch::Nothing;
        for method in methods
            .iter()
            .filter(|m| m.kind == MethodKind::Authenticator && policy.methods.allows(m.kind))
        {
            match self.authenticator_step(code, method, policy, now)? {
                StepMatch::Fresh(step) => {
                    return Ok(CodeMatch::Authenticator {
                        method: method.id.clone(),
                        step,
                    });
                }
                StepMatch::Spent => found = CodeMatch::UsedAuthenticator,
                StepMatch::None => {}
            }
        }
        Ok(found)
    }

    /// The factor whose enrolment handed out this completion code, if one did: a method of a
    /// kind, or a security key (`Accepted::SecurityKey`); the login completes as that factor.
    pub(crate) fn enrolled_factor(&self, stored_hash: &str, code: &OtpCode) -> Option<Accepted> {
        MethodKind::ALL
            .into_iter()
            .map(Accepted::Method)
            .chain([Accepted::SecurityKey])
            .find(|factor| {
                let presented = self.enrollment_code_hash(*factor, code.as_str());
                bool::from(presented.as_bytes().ct_eq(stored_hash.as_bytes()))
            })
    }

    pub(crate) fn enrollment_code_hash(&self, factor: Accepted, code: &str) -> String {
        let label = match factor {
            Accepted::Method(kind) => kind.as_str(),
            _ => "webauthn",
        };
        self.secrets
            .keyed_hash(ENROLLMENT_HASH_PURPOSE, &format!("{label}:{code}"))
    }
}

/// Why a code compared against the user's counts as a failure. Both kinds count alike against
/// the account's limit; their answers differ only where the password was passed or a session
/// holds (the login's challenge, and the checks of `counted`), so telling them apart gives a
/// guesser nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeFailure {
    /// It matches nothing of the user's.
    Wrong,
    /// An authenticator's code of a time step already used (or of one before it): the app
    /// shows the next one soon.
    AlreadyUsed,
}

impl CodeFailure {
    /// The error that answers it.
    pub(crate) fn error(self) -> TwoFactorError {
        match self {
            CodeFailure::Wrong => TwoFactorError::WrongCode,
            CodeFailure::AlreadyUsed => TwoFactorError::CodeAlreadyUsed,
        }
    }
}

/// The event of a failed second-factor code; `note_code_failure` counts and logs it. A code
/// already used says so in its `reason`.
pub(crate) fn code_failure_event(
    user: UserId,
    context: &'static str,
    failure: CodeFailure,
    origin: &Origin,
    now: Instant,
) -> AuditEvent {
    let event = AuditEvent::new(EventKind::TwoFactorFailure, Actor::User(user), origin, now)
        .target(user)
        .detail("context", context);
    match failure {
        CodeFailure::Wrong => event,
        CodeFailure::AlreadyUsed => event.detail("reason", "code_already_used"),
    }
}

/// Counts and logs a failed code.
pub(crate) fn note_code_failure(user: UserId, context: &'static str, failure: CodeFailure) {
    metrics::counter!("tessera_two_factor_failures_total", "context" => context).increment(1);
    match failure {
        CodeFailure::Wrong => {
            tracing::info!(target: "security", user = %user, context, "wrong second-factor code");
        }
        CodeFailure::AlreadyUsed => {
            tracing::info!(target: "security", user = %user, context, "second-factor code already used");
        }
    }
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
