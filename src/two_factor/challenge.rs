use super::{
    Accepted, OtpCode, PresentedCode, SETTINGS_KEY, TwoFactorError, codes, note_wrong_code,
    policy_from_stored, wrong_code_event,
};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::auth::IssuedTokens;
use crate::clock::Instant;
use crate::core::Core;
use crate::crypto::random;
use crate::domain::{MethodId, MethodKind, User};
use crate::policy::{LoginType, TwoFactorPolicy};
use crate::store::{
    ChallengeRecord, CheckedUser, FinishedLogin, GuessRequest, MethodRecord, NewChallenge,
    NewSession, RightCode, TakenGuess, Verdict,
};

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
    /// The user's methods as this login left them (read under the check's lock), so that the
    /// answer needs no second read.
    pub methods: Vec<MethodRecord>,
    pub tokens: IssuedTokens,
    /// Present when the computer is now trusted.
    pub trust_token: Option<String>,
}

impl Core {
    /// A challenge for a user whose password was right, to be stored under `id_hash` (the
    /// digest of the `twoFactorId` sent back) with its audit event.
    pub(crate) fn new_challenge(
        id_hash: String,
        user: &User,
        login_type: LoginType,
        application_id: Option<String>,
        policy: &TwoFactorPolicy,
        origin: &Origin,
        now: Instant,
    ) -> NewChallenge {
        let event = AuditEvent::new(
            EventKind::TwoFactorChallenge,
            Actor::User(user.id),
            origin,
            now,
        )
        .target(user.id)
        .detail("loginType", login_type.as_str());
        NewChallenge {
            id_hash,
            user: user.id,
            login_type,
            application_id,
            expires_at: now.plus_seconds(policy.challenge_ttl_seconds),
            origin: origin.clone(),
            event,
        }
    }

    /// Finishes a login with a code: an authenticator code, a recovery code, or the code an
    /// enrolment during this login handed out. Each attempt is counted, and each guess counts
    /// as a failure, before it can succeed, so concurrent guesses cannot outrun the limits.
    ///
    /// An authenticator code (or an enrolment's) is judged under the first transaction's lock
    /// and the login completes in that transaction; a recovery code or a code sent by message
    /// needs other reads, so its guess is committed as a failure first and released by
    /// `finish_login` when it proves right.
    pub async fn complete_login(
        &self,
        request: &CompleteLogin,
        origin: &Origin,
        now: Instant,
    ) -> Result<CompletedLogin, TwoFactorError> {
        let presented = PresentedCode::parse(&request.code)?;
        let id_hash = random::lookup_digest(&request.two_factor_id);
        let sent_context = codes::login_context(&id_hash);
        let guess_id = random::token(16);
        let guess = GuessRequest {
            id_hash: id_hash.clone(),
            settings_key: SETTINGS_KEY,
            sent_context: sent_context.clone(),
            guess_id: guess_id.clone(),
            now,
        };
        let defaults = self.two_factor_defaults.clone();
        let refusal_origin = origin.clone();
        let judge = (
            self.clone(),
            presented.clone(),
            request.clone(),
            origin.clone(),
        );
        let taken = self
            .store
            .take_guess(
                guess,
                move |stored| policy_from_stored(stored, defaults),
                move |user, recent_failures| {
                    AuditEvent::new(
                        EventKind::TwoFactorBlocked,
                        Actor::User(user),
                        &refusal_origin,
                        now,
                    )
                    .target(user)
                    .detail("recentFailures", recent_failures)
                },
                move |challenge, checked, policy| {
                    let (core, presented, request, origin) = judge;
                    core.verdict_under_lock(
                        &presented, &request, challenge, checked, policy, &origin, now,
                    )
                },
            )
            .await?;
        let (challenge, checked, policy) = match taken {
            TakenGuess::Unknown => return Err(TwoFactorError::UnknownChallenge),
            TakenGuess::Refused { user, policy } => {
                tracing::info!(target: "security", user = %user, "code refused unchecked: too many recent failures");
                return Err(TwoFactorError::TooManyFailures {
                    retry_after_seconds: policy.failure_window_seconds,
                });
            }
            TakenGuess::Wrong { user } => {
                note_wrong_code(user);
                return Err(TwoFactorError::WrongCode);
            }
            TakenGuess::LoggedIn {
                challenge,
                checked,
                policy,
                spent,
                carry: (tokens, application_id),
            } => {
                return self
                    .logged_in(LoggedIn {
                        checked,
                        spent,
                        tokens,
                        application_id,
                        policy: &policy,
                        trust_computer: request.trust_computer,
                        login_type: challenge.login_type,
                        origin,
                        now,
                    })
                    .await;
            }
            TakenGuess::Reserved {
                challenge,
                checked,
                policy,
            } => (challenge, checked, policy),
        };
        let user = &checked.user;

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
                    let matched =
                        self.matching_authenticator(code, &checked.methods, &policy, now)?;
                    matched.map(|(method, step)| {
                        spend = Some((method, step));
                        Accepted::Method(MethodKind::Authenticator)
                    })
                }
            }
        };
        let Some(accepted) = accepted else {
            self.note_wrong_guess(user.id, origin, now).await?;
            return Err(TwoFactorError::WrongCode);
        };

        let parts = self.login_parts(user, accepted, request, &challenge, origin, now);
        let finished = self
            .store
            .finish_login(
                &id_hash,
                &guess_id,
                spend.as_ref().map(|(method, step)| (method, *step)),
                &parts.session,
                &parts.event,
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
        self.logged_in(LoggedIn {
            checked,
            spent: spend,
            tokens: parts.tokens,
            application_id: parts.application_id,
            policy: &policy,
            trust_computer: request.trust_computer,
            login_type: challenge.login_type,
            origin,
            now,
        })
        .await
    }

    /// The verdict on a code from what the first transaction read, where that is enough: an
    /// enrolment's code, or an authenticator code when no code was sent for this login.
    #[allow(clippy::too_many_arguments)]
    fn verdict_under_lock(
        &self,
        presented: &PresentedCode,
        request: &CompleteLogin,
        challenge: &ChallengeRecord,
        checked: &CheckedUser,
        policy: &TwoFactorPolicy,
        origin: &Origin,
        now: Instant,
    ) -> Verdict<(IssuedTokens, Option<String>)> {
        let PresentedCode::Numeric(code) = presented else {
            return Verdict::Later;
        };
        let enrolled = challenge
            .enrollment_code_hash
            .as_deref()
            .and_then(|hash| self.enrolled_kind(hash, code));
        let (accepted, spend) = match enrolled {
            Some(kind) => (Accepted::Method(kind), None),
            // The code may be one that was sent: that takes a read of its own.
            None if checked.codes_sent => return Verdict::Later,
            None => match self.matching_authenticator(code, &checked.methods, policy, now) {
                Ok(Some(matched)) => (Accepted::Method(MethodKind::Authenticator), Some(matched)),
                Ok(None) => {
                    return Verdict::Wrong {
                        event: wrong_code_event(checked.user.id, "login", origin, now),
                    };
                }
                // A secret that does not open: the slower path reports it.
                Err(_) => return Verdict::Later,
            },
        };
        let parts = self.login_parts(&checked.user, accepted, request, challenge, origin, now);
        Verdict::Right(Box::new(RightCode {
            spend,
            session: parts.session,
            event: parts.event,
            spent_event: wrong_code_event(checked.user.id, "login", origin, now),
            carry: (parts.tokens, parts.application_id),
        }))
    }

    /// The first of the user's authenticators (allowed by the policy) that `code` matches,
    /// with the time step it matched.
    fn matching_authenticator(
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

    /// The session, its tokens and the success event of a login whose code was `accepted`.
    fn login_parts(
        &self,
        user: &User,
        accepted: Accepted,
        request: &CompleteLogin,
        challenge: &ChallengeRecord,
        origin: &Origin,
        now: Instant,
    ) -> LoginParts {
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
        let (session, tokens) = self.new_session(user, amr, application_id.clone(), origin, now);
        LoginParts {
            session,
            tokens,
            event,
            application_id,
        }
    }

    /// What follows a completed login: the trusted computer, the metrics, the answer.
    async fn logged_in(&self, login: LoggedIn<'_>) -> Result<CompletedLogin, TwoFactorError> {
        let CheckedUser {
            user, mut methods, ..
        } = login.checked;
        if let Some((spent, step)) = &login.spent
            && let Some(method) = methods.iter_mut().find(|method| &method.id == spent)
        {
            method.last_used_step = Some(*step);
            method.last_used_at = Some(login.now);
        }
        let trust_token = if login.trust_computer && login.policy.trusts_computers() {
            Some(
                self.trust_computer(
                    &user,
                    login.application_id.as_deref(),
                    login.policy,
                    login.origin,
                    login.now,
                )
                .await?,
            )
        } else {
            None
        };
        metrics::counter!("tessera_logins_total", "outcome" => "success_two_factor").increment(1);
        tracing::info!(target: "security", user = %user.id, login_type = login.login_type.as_str(), "two-factor login succeeded");
        Ok(CompletedLogin {
            user,
            methods,
            tokens: login.tokens,
            trust_token,
        })
    }
}

struct LoginParts {
    session: NewSession,
    tokens: IssuedTokens,
    event: AuditEvent,
    application_id: Option<String>,
}

/// A login whose code proved right and whose session is written.
struct LoggedIn<'a> {
    checked: CheckedUser,
    spent: Option<(MethodId, u64)>,
    tokens: IssuedTokens,
    application_id: Option<String>,
    policy: &'a TwoFactorPolicy,
    trust_computer: bool,
    login_type: LoginType,
    origin: &'a Origin,
    now: Instant,
}
