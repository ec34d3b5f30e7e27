use rand::Rng;
use rand::rngs::OsRng;

use super::enrol_at_login::{LoginEnrolment, usable_method_enrolled};
use super::keys::CodeUse;
use super::{AFTER_A_FACTOR_CHANGE, Accepted, TwoFactor};
use super::{CodeFailure, PresentedCode, TwoFactorError, codes};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{Email, Invalid, MethodId, MethodKind, MethodName, PhoneNumber, UserId};
use crate::otp::{OtpCode, StepMatch, TotpParams, TotpSecret};
use crate::store::{
    AddedMethod, EnrolmentEvents, MethodRecord, NewMethod, NewRecoveryCodes, SessionRecord,
};
use crate::verify::{Channel, Destination};

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

impl TwoFactor {
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
        let recovery = NewRecoveryCodes::WithAFirstMethod;
        self.enable_method_unless(user, request, (&[], recovery), actor, origin, now)
            .await
    }

    /// A person adds a method from their signed-in session: stored as `enable_method` does,
    /// and the session counts the code just proven as its second factor, so the security
    /// settings stay open without another code.
    pub async fn enable_method_in_session(
        &self,
        session: &SessionRecord,
        request: &EnableMethod,
        origin: &Origin,
        now: Instant,
    ) -> Result<Enabled, TwoFactorError> {
        let user = session.user_id;
        let enabled = self
            .enable_method(user, request, Actor::User(user), origin, now)
            .await?;
        self.sessions
            .credit_second_factor(session, request.kind.amr(), now)
            .await?;
        Ok(enabled)
    }

    /// `enable_method`, refused if the user has a method of a kind in `refused_beside` when it
    /// is stored, with the new recovery codes as `recovery` says.
    async fn enable_method_unless(
        &self,
        user: UserId,
        request: &EnableMethod,
        (refused_beside, recovery): (&[MethodKind], NewRecoveryCodes),
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Enabled, TwoFactorError> {
        let account = self
            .user_store
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
        let code = match PresentedCode::parse(&request.code)? {
            PresentedCode::Numeric(code) => code,
            PresentedCode::Recovery(_) => {
                return Err(TwoFactorError::field(
                    "code",
                    Invalid::new("[invalid]", "give the code from the app or the message"),
                ));
            }
        };
        let id = MethodId::generate();
        let mut method = NewMethod {
            id: id.clone(),
            user_id: user,
            kind: request.kind,
            name: request.name.clone(),
            secret: None,
            totp: None,
            mobile_phone: None,
            email: None,
            last_used_step: None,
            secret_fingerprint: None,
            sends_code_on_login: is_legacy_text_message(request),
            channel: None,
        };
        match request.kind {
            MethodKind::Authenticator => {
                let (params, step) = self
                    .prove_authenticator(user, request, &code, &policy, origin, now)
                    .await?;
                let Some(secret) = &request.secret else {
                    unreachable!("prove_authenticator refuses a request without a secret");
                };
                method.secret = Some(
                    self.secrets
                        .seal(secret.bytes(), &MethodRecord::seal_context(user, &id)),
                );
                method.totp = Some(params);
                method.last_used_step = Some(step);
                method.secret_fingerprint = Some(self.authenticator_fingerprint(secret));
            }
            MethodKind::Phone | MethodKind::Email => {
                let (destination, channel) = self
                    .prove_destination(user, request, &code, origin, now)
                    .await?;
                match destination {
                    Destination::Phone(phone) => {
                        method.mobile_phone = Some(phone);
                        method.channel = Some(channel);
                    }
                    Destination::Email(email) => method.email = Some(email),
                }
            }
        }
        let (codes, hashes) = self.new_recovery_codes();
        let event = AuditEvent::new(EventKind::TwoFactorEnable, actor.clone(), origin, now)
            .target(user)
            .detail("methodId", id.as_str())
            .detail("method", request.kind.as_str());
        let verifies_email = proves_profile_email(&account, method.email.as_ref()).then(|| {
            AuditEvent::new(EventKind::EmailVerified, actor.clone(), origin, now)
                .target(user)
                .detail("by", "code")
                .detail(
                    "to",
                    method
                        .email
                        .clone()
                        .map(|e| Destination::Email(e).masked())
                        .unwrap_or_default(),
                )
        });
        let first = match self
            .two_factor_store
            .add_method(
                &method,
                &hashes,
                recovery,
                refused_beside,
                AFTER_A_FACTOR_CHANGE,
                EnrolmentEvents {
                    enabled: &event,
                    email_verified: verifies_email.as_ref(),
                },
            )
            .await
        {
            Ok(AddedMethod::Added { first }) => first,
            Ok(AddedMethod::Refused) => return Err(usable_method_enrolled()),
            Err(crate::store::StoreError::Duplicate { field }) => {
                let message = match request.kind {
                    MethodKind::Phone => "this phone number is already enrolled",
                    _ => "this authenticator is already enrolled",
                };
                return Err(TwoFactorError::field(
                    field,
                    Invalid::new("[duplicate]", message),
                ));
            }
            Err(other) => return Err(other.into()),
        };
        tracing::info!(target: "security", user = %user, method = %id, "two-factor method enabled");
        Ok(Enabled {
            method_id: id,
            recovery_codes: (first || recovery == NewRecoveryCodes::Always).then_some(codes),
            completion_code: None,
        })
    }

    /// An authenticator is proven by a code of its secret: the parameters and the step spent.
    async fn prove_authenticator(
        &self,
        user: UserId,
        request: &EnableMethod,
        code: &OtpCode,
        policy: &crate::policy::TwoFactorPolicy,
        origin: &Origin,
        now: Instant,
    ) -> Result<(TotpParams, u64), TwoFactorError> {
        let Some(secret) = &request.secret else {
            return Err(TwoFactorError::field(
                "secretBase32Encoded",
                Invalid::new(
                    "[blank]",
                    "an authenticator needs its secret (secret or secretBase32Encoded)",
                ),
            ));
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
        let step = params.matching_step(secret, code, now.seconds(), None);
        self.admit_judged(user, "enable", step.is_some(), origin, now)
            .await?;
        Ok((params, step.unwrap_or_default()))
    }

    /// A phone or an address is proven by the code sent to it (`POST /api/two-factor/send`);
    /// only then is it stored. Returns where the code went, and how: a phone's codes keep going
    /// the way its first one came.
    async fn prove_destination(
        &self,
        user: UserId,
        request: &EnableMethod,
        code: &OtpCode,
        origin: &Origin,
        now: Instant,
    ) -> Result<(Destination, Channel), TwoFactorError> {
        // Seed 004's legacy form names the secret the code was sent with, not the user.
        let context = match (&request.secret, is_legacy_text_message(request)) {
            (Some(secret), true) => self.legacy_context(secret),
            _ => codes::enroll_context(user),
        };
        let named = match (&request.mobile_phone, &request.email) {
            (Some(phone), _) => Some(Destination::Phone(phone.clone())),
            (None, Some(email)) => Some(Destination::Email(email.clone())),
            (None, None) => None,
        };
        let mismatch = || {
            TwoFactorError::field(
                "code",
                Invalid::new(
                    "[mismatch]",
                    "no code was sent to this destination for enrolling; ask for one first",
                ),
            )
        };
        // The destination is matched before any code is compared, so a code is never spent on
        // the wrong number.
        let pending = self.verify_store.pending_for_context(&context).await?;
        if let Some(named) = &named
            && !pending.iter().any(|v| v.destination == named.as_str())
        {
            return Err(mismatch());
        }
        let guess = self.count_guess(user, "enable", origin, now).await?;
        let Some(outcome) = self
            .verify
            .check_context(
                &context,
                named.as_ref().map(Destination::as_str),
                code.as_str(),
                now,
            )
            .await?
        else {
            return Err(self.wrong_guess(guess, origin, now).await);
        };
        self.right_guess(guess).await?;
        let destination = Destination::parse(&outcome.verification.to)
            .map_err(|e| anyhow::anyhow!("stored destination: {e}"))?;
        let fits = matches!(
            (&destination, request.kind),
            (Destination::Phone(_), MethodKind::Phone) | (Destination::Email(_), MethodKind::Email)
        );
        if !fits {
            return Err(mismatch());
        }
        Ok((destination, outcome.verification.channel))
    }

    /// Enrolment in the middle of a login that requires a second factor the user does not have
    /// yet: the `twoFactorId` stands in for a session, and the answer carries the code that
    /// completes the login. A user who already has a usable method must use it instead, or a
    /// password alone could add a factor and walk in — unless an administrator's access code
    /// let this login through: then the new method comes with a new set of recovery codes, as
    /// whoever needed that code could not use theirs either.
    pub async fn enable_method_during_login(
        &self,
        two_factor_id: &str,
        request: &EnableMethod,
        origin: &Origin,
        now: Instant,
    ) -> Result<Enabled, TwoFactorError> {
        // A code method is refused to a user who must use a key, before anything is read.
        self.refuse_code_if_key_required(two_factor_id, CodeUse::Enrolment, origin, now)
            .await?;
        let LoginEnrolment {
            user,
            id_hash,
            refused_beside,
            recovery,
            ..
        } = self.enrolment_at_login(two_factor_id, now).await?;
        let refused_beside = refused_beside.as_deref().unwrap_or_default();
        let mut enabled = self
            .enable_method_unless(
                user,
                request,
                (refused_beside, recovery),
                Actor::User(user),
                origin,
                now,
            )
            .await?;
        let (completion, hash) = self.completion_code(Accepted::Method(request.kind));
        self.two_factor_store
            .set_enrollment_code(&id_hash, &hash)
            .await?;
        enabled.completion_code = Some(completion);
        Ok(enabled)
    }

    /// The one-time code that completes a login once `factor` is enrolled during it, and the
    /// hash the login's challenge keeps of it.
    pub(super) fn completion_code(&self, factor: Accepted) -> (String, String) {
        let code = format!("{:010}", OsRng.gen_range(0..10_000_000_000u64));
        let hash = self.judge.enrollment_code_hash(factor, &code);
        (code, hash)
    }

    /// Removes a method, proven by one of its codes — or by a recovery code, which removes
    /// every second factor, keys included (as FusionAuth turns two-factor off): recovery codes
    /// exist exactly while second factors do.
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
        let methods = self.two_factor_store.methods(user).await?;
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
                let guess = self.count_guess(user, "disable", origin, now).await?;
                if !self
                    .accept_recovery_code(user, &recovery, origin, now)
                    .await?
                {
                    return Err(self.wrong_guess(guess, origin, now).await);
                }
                self.right_guess(guess).await?;
                let removed = self
                    .two_factor_store
                    .remove_all_methods(user, AFTER_A_FACTOR_CHANGE, &event.detail("all", true))
                    .await?;
                tracing::info!(target: "security", user = %user, methods = removed.methods, keys = removed.keys, "every second factor removed with a recovery code");
            }
            PresentedCode::Numeric(code) => {
                self.prove_method(method, &code, &policy, origin, now)
                    .await?;
                // A concurrent request may have removed the method since it was read (proven
                // with another valid code): then this one removed nothing and says so.
                if !self
                    .two_factor_store
                    .remove_method(
                        user,
                        method_id,
                        AFTER_A_FACTOR_CHANGE,
                        &event
                            .detail("methodId", method_id.as_str())
                            .detail("method", method.kind.as_str()),
                    )
                    .await?
                {
                    return Err(TwoFactorError::field(
                        "methodId",
                        Invalid::new(
                            "[invalid]",
                            "this user has no two-factor method with this id",
                        ),
                    ));
                }
                tracing::info!(target: "security", user = %user, method = %method_id, "two-factor method removed");
            }
        }
        Ok(())
    }

    /// Proves one of the user's methods with a code of it, counted against the account's
    /// limit: an authenticator's is compared first and its time step spent once admitted; a
    /// sent code's check spends it, so the guess is counted before.
    async fn prove_method(
        &self,
        method: &MethodRecord,
        code: &OtpCode,
        policy: &crate::policy::TwoFactorPolicy,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let user = method.user_id;
        match method.kind {
            MethodKind::Authenticator => {
                let failure = match self.judge.authenticator_step(code, method, policy, now)? {
                    StepMatch::Fresh(step) => {
                        self.admit_judged(user, "disable", true, origin, now)
                            .await?;
                        if self
                            .two_factor_store
                            .claim_totp_step(&method.id, step, now)
                            .await?
                        {
                            return Ok(());
                        }
                        // A concurrent request spent the step first: the code was just used.
                        CodeFailure::AlreadyUsed
                    }
                    StepMatch::Spent => CodeFailure::AlreadyUsed,
                    StepMatch::None => CodeFailure::Wrong,
                };
                Err(self
                    .count_failure(user, "disable", failure, origin, now)
                    .await)
            }
            MethodKind::Phone | MethodKind::Email => {
                let guess = self.count_guess(user, "disable", origin, now).await?;
                let sent = self
                    .verify
                    .check_context(&codes::method_context(&method.id), None, code.as_str(), now)
                    .await?;
                match sent {
                    Some(_) => self.right_guess(guess).await,
                    None => Err(self.wrong_guess(guess, origin, now).await),
                }
            }
        }
    }

    /// Removes a method without a code of it: for a session that re-authenticated with its
    /// second factor moments ago (the security settings page) or an administrator.
    pub async fn remove_method(
        &self,
        user: UserId,
        method_id: &MethodId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let event = AuditEvent::new(EventKind::TwoFactorDisable, actor, origin, now)
            .target(user)
            .detail("methodId", method_id.as_str());
        if !self
            .two_factor_store
            .remove_method(user, method_id, AFTER_A_FACTOR_CHANGE, &event)
            .await?
        {
            return Err(TwoFactorError::field(
                "methodId",
                Invalid::new(
                    "[invalid]",
                    "this user has no two-factor method with this id",
                ),
            ));
        }
        tracing::info!(target: "security", user = %user, method = %method_id, "two-factor method removed");
        Ok(())
    }

    /// Replaces the user's recovery codes with a new set, returned once.
    pub async fn regenerate_recovery_codes(
        &self,
        user: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Vec<String>, TwoFactorError> {
        self.user_store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let (codes, hashes) = self.new_recovery_codes();
        let event =
            AuditEvent::new(EventKind::RecoveryCodesRegenerate, actor, origin, now).target(user);
        // The store decides whether the user has a method, under the lock that removals take:
        // a check here could pass just before the last method goes.
        if !self
            .two_factor_store
            .replace_recovery_codes(user, &hashes, &event)
            .await?
        {
            return Err(TwoFactorError::field(
                "userId",
                Invalid::new(
                    "[invalid]",
                    "recovery codes come with two-factor authentication; enable a method first",
                ),
            ));
        }
        Ok(codes)
    }
}

/// The older enable form (`{code, secret, delivery: "TextMessage"}`): an SMS method proven by a
/// code sent for a secret (`send_legacy_enrollment_code`) rather than for the user.
fn is_legacy_text_message(request: &EnableMethod) -> bool {
    request.kind == MethodKind::Phone && request.secret.is_some()
}

/// Whether an email method's address, proven by its code, is the user's address in force still
/// awaiting verification: then the code verifies it too.
fn proves_profile_email(user: &crate::domain::User, method_email: Option<&Email>) -> bool {
    match (method_email, &user.email) {
        (Some(proven), Some(profile)) => {
            proven.key() == profile.key() && user.email_verified_at.is_none()
        }
        _ => false,
    }
}
