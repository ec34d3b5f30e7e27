use super::{Accepted, PresentedCode, SETTINGS_KEY, TwoFactorError, codes};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::auth::IssuedTokens;
use crate::clock::Instant;
use crate::core::Core;
use crate::crypto::random;
use crate::domain::{MethodKind, User};
use crate::policy::{LoginType, TwoFactorPolicy};
use crate::store::{FinishedLogin, NewChallenge};

/// The second step of a login.
#[derive(Debug, Clone)]
pub struct CompleteLogin {
    pub two_factor_id: String,
    pub code: String,
    pub trust_computer: bool,
    pub application_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CompletedLogin {
    pub user: User,
    pub tokens: IssuedTokens,
    /// Present when the computer is now trusted.
    pub trust_token: Option<String>,
}

impl Core {
    /// Opens a challenge for a user whose password was right: the `twoFactorId` to send back.
    pub(crate) async fn open_challenge(
        &self,
        user: &User,
        login_type: LoginType,
        application_id: Option<&str>,
        policy: &TwoFactorPolicy,
        origin: &Origin,
        now: Instant,
    ) -> Result<String, TwoFactorError> {
        let two_factor_id = random::token(32);
        let id_hash = random::lookup_digest(&two_factor_id);
        let challenge = NewChallenge {
            id_hash: &id_hash,
            user: user.id,
            login_type,
            application_id,
            expires_at: now.plus_seconds(policy.challenge_ttl_seconds),
            origin,
        };
        let event = AuditEvent::new(
            EventKind::TwoFactorChallenge,
            Actor::User(user.id),
            origin,
            now,
        )
        .target(user.id)
        .detail("loginType", login_type.as_str());
        self.store.insert_challenge(&challenge, &event).await?;
        Ok(two_factor_id)
    }

    /// Finishes a login with a code: an authenticator code, a recovery code, or the code an
    /// enrolment during this login handed out. Each attempt is counted, and each guess committed
    /// as a failure, before the code is checked, so concurrent guesses cannot outrun the limits.
    pub async fn complete_login(
        &self,
        request: &CompleteLogin,
        origin: &Origin,
        now: Instant,
    ) -> Result<CompletedLogin, TwoFactorError> {
        let presented = PresentedCode::parse(&request.code)?;
        let id_hash = random::lookup_digest(&request.two_factor_id);
        let Some(opened) = self
            .store
            .begin_code_check(&id_hash, SETTINGS_KEY, now)
            .await?
        else {
            return Err(TwoFactorError::UnknownChallenge);
        };
        let (mut check, challenge) = (opened.check, opened.challenge);
        let policy = self.policy_from_stored(opened.stored_settings.as_deref());
        if challenge.attempts > policy.max_code_attempts {
            check.abandon().await?;
            return Err(TwoFactorError::UnknownChallenge);
        }
        let sent_context = codes::login_context(&id_hash);
        let checked = match check
            .read_user(
                challenge.user_id,
                policy.failure_window_start(now),
                &sent_context,
            )
            .await?
        {
            Some(checked) if checked.user.active => checked,
            _ => {
                check.abandon().await?;
                return Err(TwoFactorError::UnknownChallenge);
            }
        };
        let user = checked.user;
        if !policy.guess_allowed(checked.recent_failures + 1) {
            let event = AuditEvent::new(
                EventKind::TwoFactorBlocked,
                Actor::User(user.id),
                origin,
                now,
            )
            .target(user.id)
            .detail("recentFailures", checked.recent_failures);
            check.refuse(&event).await?;
            tracing::info!(target: "security", user = %user.id, "code refused unchecked: too many recent failures");
            return Err(TwoFactorError::TooManyFailures {
                retry_after_seconds: policy.failure_window_seconds,
            });
        }
        let guess_id = random::token(16);
        check.reserve_guess(user.id, &guess_id, now).await?;

        // The authenticator whose time step the login will spend, when that is how it passes.
        let mut spend = None;
        let accepted = match &presented {
            PresentedCode::Recovery(code) => self
                .accept_recovery_code(user.id, code, origin, now)
                .await?
                .then_some(Accepted::RecoveryCode),
            PresentedCode::Numeric(code) => {
                let enrolled = challenge
                    .enrollment_code_hash
                    .as_deref()
                    .and_then(|hash| self.enrolled_kind(hash, code));
                let sent = if enrolled.is_none() && checked.codes_sent {
                    self.check_context(&sent_context, None, code.as_str(), now)
                        .await?
                } else {
                    None
                };
                if let Some(kind) = enrolled {
                    Some(Accepted::Method(kind))
                } else if let Some(sent) = sent {
                    Some(Accepted::Method(codes::kind_of(sent.verification.channel)))
                } else {
                    let mut matched = None;
                    for method in checked.methods.iter().filter(|m| {
                        m.kind == MethodKind::Authenticator && policy.methods.allows(m.kind)
                    }) {
                        if let Some(step) = self.authenticator_step(code, method, &policy, now)? {
                            matched = Some((method, step));
                            break;
                        }
                    }
                    matched.map(|(method, step)| {
                        spend = Some((method.id.clone(), step));
                        Accepted::Method(method.kind)
                    })
                }
            }
        };
        let Some(accepted) = accepted else {
            self.note_wrong_guess(user.id, origin, now).await?;
            return Err(TwoFactorError::WrongCode);
        };

        let amr = vec![
            "pwd".to_owned(),
            accepted.amr().to_owned(),
            "mfa".to_owned(),
        ];
        let application_id = request
            .application_id
            .clone()
            .or(challenge.application_id.clone());
        let event = AuditEvent::new(EventKind::LoginSuccess, Actor::User(user.id), origin, now)
            .target(user.id)
            .detail("amr", amr.clone())
            .detail("loginType", challenge.login_type.as_str());
        let (session, tokens) = self.new_session(&user, amr, application_id.clone(), origin, now);
        let finished = self
            .store
            .finish_login(
                &id_hash,
                &guess_id,
                spend.as_ref().map(|(method, step)| (method, *step)),
                &session,
                &event,
            )
            .await?;
        match finished {
            FinishedLogin::Done => {}
            FinishedLogin::ChallengeGone => return Err(TwoFactorError::UnknownChallenge),
            FinishedLogin::StepSpent => {
                self.note_wrong_guess(user.id, origin, now).await?;
                return Err(TwoFactorError::WrongCode);
            }
        }
        let trust_token = if request.trust_computer && policy.trusts_computers() {
            Some(
                self.trust_computer(&user, application_id.as_deref(), &policy, origin, now)
                    .await?,
            )
        } else {
            None
        };
        metrics::counter!("tessera_logins_total", "outcome" => "success_two_factor").increment(1);
        tracing::info!(target: "security", user = %user.id, "two-factor login succeeded");
        Ok(CompletedLogin {
            user,
            tokens,
            trust_token,
        })
    }
}
