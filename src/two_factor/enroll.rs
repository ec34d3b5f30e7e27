use rand::Rng;
use rand::rngs::OsRng;

use super::{PresentedCode, TwoFactorError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::core::Core;
use crate::crypto::random;
use crate::domain::{Email, Invalid, MethodId, MethodKind, MethodName, PhoneNumber, UserId};
use crate::otp::{OtpCode, TotpParams, TotpSecret};
use crate::store::{MethodRecord, NewMethod};

/// A request to add a method, already parsed.
#[derive(Debug, Clone)]
pub struct EnableMethod {
    pub kind: MethodKind,
    pub code: String,
    pub secret: Option<TotpSecret>,
    pub name: Option<MethodName>,
    pub mobile_phone: Option<PhoneNumber>,
    pub email: Option<Email>,
}

#[derive(Debug, Clone)]
pub struct Enabled {
    pub method_id: MethodId,
    /// Shown once, when this was the user's first method.
    pub recovery_codes: Option<Vec<String>>,
    /// When enrolling finished a login (`twoFactorId`): the code that completes it.
    pub completion_code: Option<String>,
}

impl Core {
    /// Adds a second factor after proving it: an authenticator's code must match its secret
    /// before anything is stored.
    pub async fn enable_method(
        &self,
        user: UserId,
        request: &EnableMethod,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Enabled, TwoFactorError> {
        self.store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let policy = self.two_factor_policy().await?;
        if !policy.methods.allows(request.kind) {
            return Err(TwoFactorError::field(
                "method",
                Invalid::new(
                    "[disabled]",
                    format!("the {} method is switched off on this server", request.kind),
                ),
            ));
        }
        if request.kind != MethodKind::Authenticator {
            return Err(TwoFactorError::field(
                "method",
                Invalid::new(
                    "[notAvailable]",
                    format!(
                        "enrolling {} needs code delivery, which this server does not offer yet; use an authenticator",
                        request.kind
                    ),
                ),
            ));
        }
        let Some(secret) = &request.secret else {
            return Err(TwoFactorError::field(
                "secretBase32Encoded",
                Invalid::new(
                    "[blank]",
                    "an authenticator needs its secret (secret or secretBase32Encoded)",
                ),
            ));
        };
        let code = match PresentedCode::parse(&request.code)? {
            PresentedCode::Numeric(code) => code,
            PresentedCode::Recovery(_) => {
                return Err(TwoFactorError::field(
                    "code",
                    Invalid::new("[invalid]", "give a code from the authenticator app"),
                ));
            }
        };
        let params = TotpParams {
            skew: policy.totp_skew_steps,
            ..TotpParams::default()
        };
        if code.len() != params.digits as usize {
            return Err(TwoFactorError::field(
                "code",
                Invalid::new("[invalid]", "an authenticator code has 6 digits"),
            ));
        }
        let Some(step) = params.matching_step(secret, &code, now.seconds(), None) else {
            self.record_wrong_code(user, "enable", origin, now).await?;
            return Err(TwoFactorError::WrongCode);
        };
        let id = MethodId::generate();
        let sealed = self
            .secrets
            .seal(secret.bytes(), &MethodRecord::seal_context(user, &id));
        let (codes, hashes) = self.new_recovery_codes();
        let event = AuditEvent::new(EventKind::TwoFactorEnable, actor, origin, now)
            .target(user)
            .detail("methodId", id.as_str())
            .detail("method", request.kind.as_str());
        let first = self
            .store
            .add_method(
                &NewMethod {
                    id: id.clone(),
                    user_id: user,
                    kind: request.kind,
                    name: request.name.clone(),
                    secret: Some(sealed),
                    totp: Some(params),
                    mobile_phone: None,
                    email: None,
                    last_used_step: Some(step),
                },
                &hashes,
                &event,
            )
            .await?;
        tracing::info!(target: "security", user = %user, method = %id, "two-factor method enabled");
        Ok(Enabled {
            method_id: id,
            recovery_codes: first.then_some(codes),
            completion_code: None,
        })
    }

    /// Enrolment in the middle of a login that requires a second factor the user does not have
    /// yet: the `twoFactorId` stands in for a session, and the answer carries the code that
    /// completes the login. A user who already has a usable method must use it instead, or a
    /// password alone could add a factor and walk in.
    pub async fn enable_method_during_login(
        &self,
        two_factor_id: &str,
        request: &EnableMethod,
        origin: &Origin,
        now: Instant,
    ) -> Result<Enabled, TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        let id_hash = random::lookup_digest(two_factor_id);
        let challenge = self
            .store
            .live_challenge(&id_hash, policy.max_code_attempts, now)
            .await?
            .ok_or(TwoFactorError::UnknownChallenge)?;
        let usable = self
            .store
            .methods(challenge.user_id)
            .await?
            .iter()
            .any(|m| policy.methods.allows(m.kind));
        if usable {
            return Err(TwoFactorError::Forbidden(
                "this login must be finished with a code from a method already enrolled".into(),
            ));
        }
        let user = challenge.user_id;
        let mut enabled = self
            .enable_method(user, request, Actor::User(user), origin, now)
            .await?;
        let completion = format!("{:010}", OsRng.gen_range(0..10_000_000_000u64));
        self.store
            .set_enrollment_code(&id_hash, &self.enrollment_code_hash(&completion))
            .await?;
        enabled.completion_code = Some(completion);
        Ok(enabled)
    }

    /// Removes a method, proven by one of its codes — or by a recovery code, which removes
    /// every method (as FusionAuth does).
    pub async fn disable_method(
        &self,
        user: UserId,
        method_id: &MethodId,
        code: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        let methods = self.store.methods(user).await?;
        let Some(method) = methods.iter().find(|m| &m.id == method_id) else {
            return Err(TwoFactorError::field(
                "methodId",
                Invalid::new(
                    "[invalid]",
                    "this user has no two-factor method with this id",
                ),
            ));
        };
        let event = AuditEvent::new(EventKind::TwoFactorDisable, actor, origin, now).target(user);
        match PresentedCode::parse(code)? {
            PresentedCode::Recovery(recovery) => {
                if !self
                    .accept_recovery_code(user, &recovery, origin, now)
                    .await?
                {
                    self.record_wrong_code(user, "disable", origin, now).await?;
                    return Err(TwoFactorError::WrongCode);
                }
                let removed = self
                    .store
                    .remove_all_methods(user, &event.detail("all", true))
                    .await?;
                tracing::info!(target: "security", user = %user, removed, "every two-factor method removed with a recovery code");
            }
            PresentedCode::Numeric(code) => {
                if !self.code_proves(method, &code, &policy, now).await? {
                    self.record_wrong_code(user, "disable", origin, now).await?;
                    return Err(TwoFactorError::WrongCode);
                }
                self.store
                    .remove_method(
                        user,
                        method_id,
                        &event.detail("methodId", method_id.as_str()),
                    )
                    .await?;
                tracing::info!(target: "security", user = %user, method = %method_id, "two-factor method removed");
            }
        }
        Ok(())
    }

    async fn code_proves(
        &self,
        method: &MethodRecord,
        code: &OtpCode,
        policy: &crate::policy::TwoFactorPolicy,
        now: Instant,
    ) -> Result<bool, TwoFactorError> {
        match method.kind {
            MethodKind::Authenticator => Ok(self
                .accept_authenticator_code(code, &[method], policy, now)
                .await?
                .is_some()),
            // Message codes come with the verify engine; until then such methods cannot exist.
            MethodKind::Sms | MethodKind::Voice | MethodKind::Email => Ok(false),
        }
    }

    /// Replaces the user's recovery codes with a new set, returned once.
    pub async fn regenerate_recovery_codes(
        &self,
        user: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Vec<String>, TwoFactorError> {
        self.store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        if self.store.methods(user).await?.is_empty() {
            return Err(TwoFactorError::field(
                "userId",
                Invalid::new(
                    "[invalid]",
                    "recovery codes come with two-factor authentication; enable a method first",
                ),
            ));
        }
        let (codes, hashes) = self.new_recovery_codes();
        let event =
            AuditEvent::new(EventKind::RecoveryCodesRegenerate, actor, origin, now).target(user);
        self.store
            .replace_recovery_codes(user, &hashes, &event)
            .await?;
        Ok(codes)
    }
}
