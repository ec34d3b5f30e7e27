use super::TwoFactor;
use super::access::{
    AccessFinish, AccessFinished, AfterAccessCode, Then, access_code_digest, after_access_code,
};
use super::guess::{
    CheckedUser, Finished, Guessed, Judged, LoginFinish, LoginGuess, LoginParts, login_parts,
};
use super::guess_rules::CodeMatch;
use super::keys::CodeUse;
use super::{
    Accepted, CodeFailure, IssuedTrust, LoginCode, PresentedCode, TwoFactorError, codes,
    note_code_failure,
};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::LoginType;
use crate::domain::{MethodId, MethodKind, User};
use crate::otp::AccessCode;
use crate::policy::TwoFactorPolicy;
use crate::sessions::IssuedTokens;
use crate::store::{ChallengeRecord, MethodRecord, MethodUse, NewChallenge};

/// The second step of a login.
#[derive(Debug, Clone)]
pub struct CompleteLogin {
    pub two_factor_id: String,
    pub code: String,
    pub trust_computer: bool,
    pub application_id: Option<String>,
    /// The browser id cookie a trust given now is bound to (the pages); `None` for the API.
    pub browser_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CompletedLogin {
    pub user: User,
    /// The user's methods as this login left them (read under the check's lock), so that the
    /// answer needs no second read.
    pub methods: Vec<MethodRecord>,
    pub tokens: IssuedTokens,
    /// Present when the computer is now trusted.
    pub trust_token: Option<IssuedTrust>,
}

/// Where a login's second step leaves it.
#[derive(Debug)]
pub enum SecondStep {
    LoggedIn(Box<CompletedLogin>),
    /// An access code let a login of the pages through: it goes on to enrol a new method
    /// (`PendingLogin::must_enrol`) and completes with that method's code.
    Enrol,
}

/// A login waiting for its second factor, as a page shows it.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub user: User,
    /// The methods the user may use now (empty: must enrol first).
    pub methods: Vec<MethodRecord>,
    pub challenge: ChallengeRecord,
    pub policy: TwoFactorPolicy,
    /// What the user may enrol and use now.
    pub offered: super::channels::Offered,
    /// The user has security keys or passkeys of kinds the settings allow, which may finish
    /// this login (`WebAuthn::finish_second_factor`).
    pub security_keys: bool,
    /// The user must use a key: no code method is offered (`methods` and `offered` are empty),
    /// and one without a key enrols one.
    pub keys_only: bool,
}

impl PendingLogin {
    /// Whether the login goes on by enrolling a method: the user has none they may use (a code
    /// method or a security key), or an access code let the login through.
    pub fn must_enrol(&self) -> bool {
        (self.methods.is_empty() && !self.security_keys) || self.challenge.access_code_used
    }
}

impl TwoFactor {
    pub async fn pending_login(
        &self,
        two_factor_id: &str,
        now: Instant,
    ) -> Result<Option<PendingLogin>, TwoFactorError> {
        if two_factor_id.is_empty() || two_factor_id.len() > 128 {
            return Ok(None);
        }
        let policy = self.two_factor_policy().await?;
        let Some(challenge) = self
            .two_factor_store
            .live_challenge(
                &random::lookup_digest(two_factor_id),
                policy.max_code_attempts,
                now,
            )
            .await?
        else {
            return Ok(None);
        };
        let Some(user) = self
            .user_store
            .user(challenge.user_id)
            .await?
            .filter(|u| u.active)
        else {
            return Ok(None);
        };
        let standing = self.key_standing(&user, &policy).await?;
        let keys_only = standing.must_use_key;
        let methods = self
            .two_factor_store
            .methods(user.id)
            .await?
            .into_iter()
            .filter(|m| policy.methods.allows(m.kind) && !keys_only)
            .collect();
        let offered = if keys_only {
            super::channels::Offered::nothing()
        } else {
            self.offered(&policy).await?
        };
        Ok(Some(PendingLogin {
            user,
            methods,
            challenge,
            policy,
            offered,
            security_keys: !standing.usable.is_empty(),
            keys_only,
        }))
    }

    /// A challenge for a user whose password was right, to be stored under `id_hash` (the
    /// digest of the `twoFactorId` sent back) with its audit event, waiting `waits_seconds`.
    pub(crate) fn new_challenge(
        id_hash: String,
        user: &User,
        login_type: LoginType,
        application_id: Option<String>,
        waits_seconds: i64,
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
            // The login's choice, which only the step after the password knows.
            remember_me: false,
            expires_at: now.plus_seconds(waits_seconds),
            origin: origin.clone(),
            event,
        }
    }

    /// Finishes a login with a code: an authenticator code, a recovery code, a code sent by
    /// message, an administrator's access code (`access`), or the code an enrolment during
    /// this login handed out. Each attempt is counted, and each guess counts as a failure,
    /// before it can succeed, so concurrent guesses cannot outrun the limits.
    ///
    /// An authenticator code (or an enrolment's) is judged under the first transaction's lock
    /// and the login completes in that transaction; a recovery code or a code sent by message
    /// needs other reads, so its guess is committed as a failure first and released by the
    /// second transaction when it proves right (`guess`). Tokens are signed once the session is
    /// stored.
    pub async fn complete_login(
        &self,
        request: &CompleteLogin,
        origin: &Origin,
        now: Instant,
    ) -> Result<SecondStep, TwoFactorError> {
        let presented = LoginCode::parse(&request.code)?;
        // A recovery code stays the lost key's way in; an access code is an administrator's.
        if let LoginCode::Presented(PresentedCode::Numeric(code)) = &presented {
            self.refuse_code_if_key_required(
                &request.two_factor_id,
                CodeUse::Login(code),
                origin,
                now,
            )
            .await?;
        }
        let id_hash = random::lookup_digest(&request.two_factor_id);
        let sent_context = codes::login_context(&id_hash);
        let guess_id = random::token(16);
        let guessed = self
            .two_factor_store
            .check_guess(LoginGuess {
                judge: self.judge.clone(),
                defaults: self.defaults.clone(),
                sessions: self.sessions.clone(),
                presented: presented.clone(),
                id_hash: id_hash.clone(),
                sent_context: sent_context.clone(),
                guess_id: guess_id.clone(),
                application_id: request.application_id.clone(),
                origin: origin.clone(),
                now,
            })
            .await?;
        let Judged {
            challenge,
            checked,
            policy,
        } = *match guessed {
            Guessed::Unknown => return Err(TwoFactorError::UnknownChallenge),
            Guessed::Refused {
                user,
                retry_after_seconds,
            } => {
                tracing::info!(target: "security", user = %user, "code refused unchecked: too many recent failures");
                return Err(TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                });
            }
            Guessed::Failed { user, failure } => {
                note_code_failure(user, "login", failure);
                return Err(failure.error());
            }
            Guessed::LoggedIn {
                judged,
                spent,
                login,
            } => {
                // A login an access code let through trusts no computer, whichever code ends it.
                let trust_computer = request.trust_computer && !judged.challenge.access_code_used;
                return self
                    .logged_in(LoggedIn {
                        checked: judged.checked,
                        spent,
                        parts: *login,
                        policy: &judged.policy,
                        trust_computer,
                        browser_id: request.browser_id.as_deref(),
                        login_type: judged.challenge.login_type,
                        origin,
                        now,
                    })
                    .await;
            }
            Guessed::Reserved(judged) => judged,
        };
        let presented = match presented {
            LoginCode::Presented(presented) => presented,
            // Only `WebAuthn::finish_second_factor` reserves a key's guess, never by a code.
            LoginCode::SecurityKey => {
                return Err(TwoFactorError::Internal(anyhow::anyhow!(
                    "a security key's guess came to the code check"
                )));
            }
            LoginCode::Access(code) => {
                let reserved = Reserved {
                    judged: Judged {
                        challenge,
                        checked,
                        policy,
                    },
                    id_hash,
                    guess_id,
                };
                return self
                    .let_in_by_access_code(reserved, &code, request, origin, now)
                    .await;
            }
        };
        let user = &checked.user;

        // The authenticator whose time step the login will spend, when that is how it passes.
        let mut spend = None;
        // The method whose sent code it is, marked used.
        let mut used = None;
        let accepted = match &presented {
            PresentedCode::Recovery(code) => self
                .accept_recovery_code(user.id, code, origin, now)
                .await?
                .then_some(Accepted::RecoveryCode)
                .ok_or(CodeFailure::Wrong),
            PresentedCode::Numeric(code) => {
                let enrolled = challenge
                    .enrollment_code_hash
                    .as_deref()
                    .and_then(|hash| self.judge.enrolled_factor(hash, code));
                let sent = if enrolled.is_none() && checked.codes_sent {
                    self.verify
                        .check_context(&sent_context, None, code.as_str(), now)
                        .await?
                } else {
                    None
                };
                if let Some(factor) = enrolled {
                    Ok(factor)
                } else if let Some(sent) = sent {
                    let channel = sent.verification.channel;
                    used = checked
                        .methods
                        .iter()
                        .find(|m| {
                            m.kind == codes::kind_of(channel)
                                && codes::destination_of(m)
                                    .is_some_and(|d| d.as_str() == sent.verification.to)
                        })
                        .map(|m| MethodUse {
                            method: m.id.clone(),
                            channel: channel.is_phone().then_some(channel),
                        });
                    Ok(Accepted::Sent(channel))
                } else {
                    match self
                        .judge
                        .matching_authenticator(code, &checked.methods, &policy, now)?
                    {
                        CodeMatch::Authenticator { method, step } => {
                            spend = Some((method, step));
                            Ok(Accepted::Method(MethodKind::Authenticator))
                        }
                        CodeMatch::UsedAuthenticator => Err(CodeFailure::AlreadyUsed),
                        // Nothing: an authenticator's match is one of the three.
                        _ => Err(CodeFailure::Wrong),
                    }
                }
            }
        };
        let accepted = match accepted {
            Ok(accepted) => accepted,
            Err(failure) => {
                self.note_failed_guess(user.id, failure, origin, now)
                    .await?;
                return Err(failure.error());
            }
        };

        let login = login_parts(
            &self.sessions,
            user,
            accepted,
            request.application_id.clone(),
            &challenge,
            origin,
            now,
        );
        let finished = self
            .two_factor_store
            .finish_check(LoginFinish {
                id_hash,
                guess_id,
                spend: spend.clone(),
                used,
                session: login.session.clone(),
                event: login.event.clone(),
            })
            .await?;
        match finished {
            Finished::Done => {}
            Finished::ChallengeGone => return Err(TwoFactorError::UnknownChallenge),
            Finished::StepSpent => {
                let failure = CodeFailure::AlreadyUsed;
                self.note_failed_guess(user.id, failure, origin, now)
                    .await?;
                return Err(failure.error());
            }
        }
        self.logged_in(LoggedIn {
            checked,
            spent: spend,
            parts: login,
            policy: &policy,
            trust_computer: request.trust_computer && !challenge.access_code_used,
            browser_id: request.browser_id.as_deref(),
            login_type: challenge.login_type,
            origin,
            now,
        })
        .await
    }

    /// An access code in place of a code: spent in the transaction that completes the login,
    /// or on the pages lets it on to enrolment (`access`). Such a login trusts no computer: the
    /// trust would spare the next logins the new method the person is to enrol.
    async fn let_in_by_access_code(
        &self,
        reserved: Reserved,
        code: &AccessCode,
        request: &CompleteLogin,
        origin: &Origin,
        now: Instant,
    ) -> Result<SecondStep, TwoFactorError> {
        let Reserved {
            judged:
                Judged {
                    challenge,
                    checked,
                    policy,
                },
            id_hash,
            guess_id,
        } = reserved;
        let user = checked.user.id;
        let after = after_access_code(challenge.login_type);
        let used = AuditEvent::new(EventKind::AccessCodeUse, Actor::User(user), origin, now)
            .target(user)
            .detail("loginType", challenge.login_type.as_str())
            .detail(
                "then",
                match after {
                    AfterAccessCode::LogIn => "login",
                    AfterAccessCode::Enrol => "enrol",
                },
            );
        let login = match after {
            AfterAccessCode::LogIn => Some(login_parts(
                &self.sessions,
                &checked.user,
                Accepted::AccessCode,
                request.application_id.clone(),
                &challenge,
                origin,
                now,
            )),
            AfterAccessCode::Enrol => None,
        };
        let finish = AccessFinish {
            id_hash,
            guess_id,
            user,
            code_hash: access_code_digest(code),
            used,
            then: match &login {
                Some(login) => Then::LogIn(Box::new(login.clone())),
                None => Then::Enrol {
                    until: now.plus_seconds(policy.enrollment_ttl_seconds),
                },
            },
        };
        match self.two_factor_store.finish_check(finish).await? {
            AccessFinished::Done => {}
            AccessFinished::ChallengeGone => return Err(TwoFactorError::UnknownChallenge),
            AccessFinished::Wrong => {
                let failure = CodeFailure::Wrong;
                self.note_failed_guess(user, failure, origin, now).await?;
                return Err(failure.error());
            }
        }
        tracing::info!(target: "security", user = %user, login_type = challenge.login_type.as_str(), "one-time access code used");
        let Some(login) = login else {
            return Ok(SecondStep::Enrol);
        };
        self.logged_in(LoggedIn {
            checked,
            spent: None,
            parts: login,
            policy: &policy,
            trust_computer: false,
            browser_id: None,
            login_type: challenge.login_type,
            origin,
            now,
        })
        .await
    }

    /// What follows a completed login: the trusted computer, the metrics, the answer.
    pub(super) async fn logged_in(
        &self,
        login: LoggedIn<'_>,
    ) -> Result<SecondStep, TwoFactorError> {
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
                    login.parts.session.application_id.as_deref(),
                    login.browser_id,
                    login.policy,
                    login.origin,
                    login.now,
                )
                .await?,
            )
        } else {
            None
        };
        let tokens =
            self.sessions
                .issue_tokens(&user, &login.parts.session, login.parts.refresh_token);
        metrics::counter!("tessera_logins_total", "outcome" => "success_two_factor").increment(1);
        tracing::info!(target: "security", user = %user.id, login_type = login.login_type.as_str(), "two-factor login succeeded");
        Ok(SecondStep::LoggedIn(Box::new(CompletedLogin {
            user,
            methods,
            tokens,
            trust_token,
        })))
    }
}

/// A guess the first transaction counted as a failure until the slower check proves it.
struct Reserved {
    judged: Judged,
    id_hash: String,
    guess_id: String,
}

/// A login whose code proved right and whose session is written.
pub(super) struct LoggedIn<'a> {
    pub(super) checked: CheckedUser,
    pub(super) spent: Option<(MethodId, u64)>,
    pub(super) parts: LoginParts,
    pub(super) policy: &'a TwoFactorPolicy,
    pub(super) trust_computer: bool,
    pub(super) browser_id: Option<&'a str>,
    pub(super) login_type: LoginType,
    pub(super) origin: &'a Origin,
    pub(super) now: Instant,
}
