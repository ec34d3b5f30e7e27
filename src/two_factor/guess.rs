//! A login's code check as the two transactions the store runs (`store::code_check`): the
//! first takes an attempt and judges the code with `guess_rules::decide_guess` when the user's
//! row is enough; the second completes a login whose code needed more reads. Each is written
//! once, whatever runs it: the SQLite thread, a PostgreSQL connection, or a PostgreSQL group.

use super::guess_rules::{CodeMatch, GuessDecision, decide_guess};
use super::{
    Accepted, CodeFailure, CodeJudge, LoginCode, PresentedCode, SETTINGS_KEY, code_failure_event,
    policy_from_stored,
};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{MethodId, User, UserId};
use crate::policy::TwoFactorPolicy;
use crate::sessions::Sessions;
use crate::store::{
    ChallengeRecord, FinishStatements, FinishTransaction, GuessStatements, GuessTransaction,
    GuessWrites, MethodRecord, MethodUse, NewSession, ReservedGuess, StoreError,
};

/// The user of a code check, as read under the check's lock.
#[derive(Debug)]
pub(super) struct CheckedUser {
    pub(super) user: User,
    pub(super) methods: Vec<MethodRecord>,
    /// Failures within the policy's window, before this guess.
    pub(super) recent_failures: i64,
    /// Whether a code was sent for this login and is still pending.
    pub(super) codes_sent: bool,
}

/// A login's session, not yet stored, and what goes with it.
#[derive(Clone)]
pub(super) struct LoginParts {
    pub(super) session: NewSession,
    /// The refresh token whose digest the session keeps.
    pub(super) refresh_token: String,
    pub(super) event: AuditEvent,
}

/// The first transaction of a login's code check. It carries what it uses and no more: it is
/// made for every check.
pub(super) struct LoginGuess {
    pub(super) judge: CodeJudge,
    /// The configuration's two-factor settings; stored settings override them.
    pub(super) defaults: TwoFactorPolicy,
    pub(super) sessions: Sessions,
    pub(super) presented: LoginCode,
    pub(super) id_hash: String,
    /// The verification context of codes sent for this login.
    pub(super) sent_context: String,
    /// Names the failure that stands for this guess until it proves right.
    pub(super) guess_id: String,
    pub(super) application_id: Option<String>,
    pub(super) origin: Origin,
    pub(super) now: Instant,
}

/// What a judged check read under its lock.
pub(super) struct Judged {
    pub(super) challenge: ChallengeRecord,
    pub(super) checked: CheckedUser,
    pub(super) policy: TwoFactorPolicy,
}

/// How the first transaction ended.
pub(super) enum Guessed {
    /// No open challenge with attempts left, or its user is gone or disabled: nothing was
    /// written.
    Unknown,
    /// Too many recent failures: refused unchecked. The attempt stays taken.
    Refused {
        user: UserId,
        retry_after_seconds: i64,
    },
    /// The code needs more reads: the guess counts as a failure until `LoginFinish` proves it
    /// right.
    Reserved(Box<Judged>),
    /// Wrong, or an authenticator's code whose time step is spent: the failure is written.
    Failed { user: UserId, failure: CodeFailure },
    /// Right: the login is complete and its session stored.
    LoggedIn {
        judged: Box<Judged>,
        spent: Option<(MethodId, u64)>,
        login: Box<LoginParts>,
    },
}

impl GuessTransaction for LoginGuess {
    type Output = Guessed;

    async fn run<S: GuessStatements>(&self, mut statements: S) -> Result<Guessed, StoreError> {
        let now = self.now;
        let Some(taken) = statements
            .take_attempt(&self.id_hash, now, SETTINGS_KEY)
            .await?
        else {
            statements.rollback().await?;
            return Ok(Guessed::Unknown);
        };
        let policy = policy_from_stored(taken.stored_settings.as_deref(), self.defaults.clone());
        let read = statements
            .methods_and_counts(
                taken.user.id,
                policy.failure_window_start(now),
                &self.sent_context,
            )
            .await?;
        let challenge = taken.challenge;
        let checked = CheckedUser {
            user: taken.user,
            methods: read.methods,
            recent_failures: read.recent_failures,
            codes_sent: read.codes_sent,
        };
        let user = checked.user.id;
        let decision = decide_guess(
            &challenge,
            &checked.user,
            &policy,
            checked.recent_failures,
            || self.code_match(&challenge, &checked, &policy),
        );
        let reserve = || ReservedGuess {
            user,
            guess_id: self.guess_id.clone(),
            at: now,
        };
        let failed = |failure| GuessWrites {
            reserve: Some(reserve()),
            event: Some(code_failure_event(
                user,
                "login",
                failure,
                &self.origin,
                now,
            )),
            ..GuessWrites::default()
        };
        let (accepted, spend) = match decision {
            GuessDecision::Unknown => {
                statements.rollback().await?;
                return Ok(Guessed::Unknown);
            }
            GuessDecision::Refused => {
                let event = AuditEvent::new(
                    EventKind::TwoFactorBlocked,
                    Actor::User(user),
                    &self.origin,
                    now,
                )
                .target(user)
                .detail("recentFailures", checked.recent_failures);
                statements
                    .commit(GuessWrites {
                        event: Some(event),
                        ..GuessWrites::default()
                    })
                    .await?;
                return Ok(Guessed::Refused {
                    user,
                    retry_after_seconds: policy.failure_window_seconds,
                });
            }
            GuessDecision::Reserve => {
                statements
                    .commit(GuessWrites {
                        reserve: Some(reserve()),
                        ..GuessWrites::default()
                    })
                    .await?;
                return Ok(Guessed::Reserved(Box::new(Judged {
                    challenge,
                    checked,
                    policy,
                })));
            }
            GuessDecision::Failed(failure) => {
                statements.commit(failed(failure)).await?;
                return Ok(Guessed::Failed { user, failure });
            }
            GuessDecision::Right { accepted, spend } => (accepted, spend),
        };
        if let Some((method, step)) = &spend
            && !statements.claim_step(method, *step, now).await?
        {
            // A concurrent login spent the step first: this code was just used.
            let failure = CodeFailure::AlreadyUsed;
            statements.commit(failed(failure)).await?;
            return Ok(Guessed::Failed { user, failure });
        }
        let login = login_parts(
            &self.sessions,
            &checked.user,
            accepted,
            self.application_id.clone(),
            &challenge,
            &self.origin,
            now,
        );
        statements
            .commit(GuessWrites {
                complete_challenge: Some(now),
                reserve: None,
                login: Some(login.session.clone()),
                event: Some(login.event.clone()),
            })
            .await?;
        Ok(Guessed::LoggedIn {
            judged: Box::new(Judged {
                challenge,
                checked,
                policy,
            }),
            spent: spend,
            login: Box::new(login),
        })
    }
}

impl LoginGuess {
    /// What the code matches among what the check read: an enrolment's code, or an
    /// authenticator's when no code was sent for this login.
    fn code_match(
        &self,
        challenge: &ChallengeRecord,
        checked: &CheckedUser,
        policy: &TwoFactorPolicy,
    ) -> CodeMatch {
        let LoginCode::Presented(PresentedCode::Numeric(code)) = &self.presented else {
            return CodeMatch::NeedsMore;
        };
        if let Some(factor) = challenge
            .enrollment_code_hash
            .as_deref()
            .and_then(|hash| self.judge.enrolled_factor(hash, code))
        {
            return CodeMatch::Enrolled(factor);
        }
        if checked.codes_sent {
            // The code may be one that was sent: that takes a read of its own.
            return CodeMatch::NeedsMore;
        }
        self.judge
            .matching_authenticator(code, &checked.methods, policy, self.now)
            // A secret that does not open: the slower path reports it.
            .unwrap_or(CodeMatch::NeedsMore)
    }
}

/// The second transaction: completes a login whose reserved guess proved right.
pub(super) struct LoginFinish {
    pub(super) id_hash: String,
    pub(super) guess_id: String,
    /// The authenticator and the time step of the code, spent unless already spent.
    pub(super) spend: Option<(MethodId, u64)>,
    /// The method a sent code came to: its last use moves to now (and a phone's channel to
    /// the one the code came by).
    pub(super) used: Option<MethodUse>,
    pub(super) session: NewSession,
    pub(super) event: AuditEvent,
}

/// How the second transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finished {
    Done,
    /// A concurrent check completed the challenge in the meantime.
    ChallengeGone,
    /// A concurrent check spent the authenticator's time step: the code was just used.
    StepSpent,
}

impl FinishTransaction for LoginFinish {
    type Output = Finished;

    async fn run<S: FinishStatements>(self, mut statements: S) -> Result<Finished, StoreError> {
        let now = self.session.now;
        // A right guess is not a failure, even when the challenge is gone.
        statements.release_guess(&self.guess_id).await?;
        if !statements.complete_challenge(&self.id_hash, now).await? {
            statements.commit(GuessWrites::default()).await?;
            return Ok(Finished::ChallengeGone);
        }
        if let Some((method, step)) = &self.spend
            && !statements.claim_step(method, *step, now).await?
        {
            // Nothing of this login stands: the guess stays a failure.
            statements.rollback().await?;
            return Ok(Finished::StepSpent);
        }
        if let Some(used) = &self.used {
            statements.mark_used(used, now).await?;
        }
        statements
            .commit(GuessWrites {
                login: Some(self.session),
                event: Some(self.event),
                ..GuessWrites::default()
            })
            .await?;
        Ok(Finished::Done)
    }
}

/// The session and success event of a login whose code was `accepted`.
pub(super) fn login_parts(
    sessions: &Sessions,
    user: &User,
    accepted: Accepted,
    application_id: Option<String>,
    challenge: &ChallengeRecord,
    origin: &Origin,
    now: Instant,
) -> LoginParts {
    let mut amr = vec!["pwd".to_owned()];
    // A login an access code let on to enrolment completes with the new method's code.
    if challenge.access_code_used {
        amr.push(Accepted::AccessCode.amr().to_owned());
    }
    amr.extend([accepted.amr().to_owned(), "mfa".to_owned()]);
    let application_id = application_id.or(challenge.application_id.clone());
    let remembered = sessions.remembers(challenge.login_type, challenge.remember_me);
    let mut event = AuditEvent::new(EventKind::LoginSuccess, Actor::User(user.id), origin, now)
        .target(user.id)
        .detail("amr", amr.clone())
        .detail("loginType", challenge.login_type.as_str());
    if remembered {
        event = event.detail("rememberMe", true);
    }
    // The session is of the login's type: a login begun on the pages ends in a web session,
    // remembered when "Remember me" was ticked with the password.
    let (session, refresh_token) = sessions.new_session(
        user.id,
        challenge.login_type,
        amr,
        application_id,
        remembered,
        origin,
        now,
    );
    LoginParts {
        session,
        refresh_token,
        event,
    }
}

#[cfg(test)]
mod tests {
    //! The sequence around the rules, on statements that answer as the database would when a
    //! concurrent check got there first.

    use super::*;
    use crate::config::DatabaseUrl;
    use crate::crypto::cipher::SecretBox;
    use crate::crypto::{FormTokens, Keys, TokenSigner};
    use crate::domain::{LoginType, MethodKind, Roles, Username};
    use crate::otp::{TotpParams, TotpSecret};
    use crate::sessions::TokenPolicy;
    use crate::store::{MethodsAndCounts, Store, TakenAttempt};

    /// Statements that answer from a script and keep what was committed.
    struct Scripted<'a> {
        taken: Option<TakenAttempt>,
        counts: Option<MethodsAndCounts>,
        /// What `claim_step` answers; `None`: the check must not claim.
        claims: Option<bool>,
        committed: &'a mut Option<GuessWrites>,
    }

    impl GuessStatements for Scripted<'_> {
        async fn take_attempt(
            &mut self,
            _: &str,
            _: Instant,
            _: &'static str,
        ) -> Result<Option<TakenAttempt>, StoreError> {
            Ok(self.taken.take())
        }

        async fn methods_and_counts(
            &mut self,
            _: UserId,
            _: Instant,
            _: &str,
        ) -> Result<MethodsAndCounts, StoreError> {
            Ok(self.counts.take().expect("read once"))
        }

        async fn claim_step(
            &mut self,
            _: &MethodId,
            _: u64,
            _: Instant,
        ) -> Result<bool, StoreError> {
            Ok(self.claims.expect("no claim expected"))
        }

        async fn commit(self, writes: GuessWrites) -> Result<(), StoreError> {
            *self.committed = Some(writes);
            Ok(())
        }

        async fn rollback(self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    fn user() -> User {
        let at = Instant::from_millis(0);
        User {
            id: UserId::new(),
            username: Username::parse("ada").unwrap(),
            email: None,
            email_verified_at: None,
            pending_email: None,
            full_name: None,
            mobile_phone: None,
            roles: Roles::user(),
            active: true,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: None,
            created_at: at,
            updated_at: at,
            password_changed_at: at,
            last_login_at: None,
        }
    }

    /// Runs a login's check of the authenticator's code of `now`, the authenticator's last used
    /// step being `last_used` steps from now's, with `claims` as the answer to spending the
    /// step. What it answered, and what it committed.
    async fn check(last_used: Option<i64>, claims: Option<bool>) -> (Guessed, GuessWrites) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load_or_create(dir.path()).unwrap();
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("t.db").display()));
        let store = Store::connect(&url, 1).await.unwrap();
        let sessions = Sessions::new(
            store,
            TokenSigner::new(keys.signing_key()).into(),
            TokenPolicy {
                issuer: "http://tessera.test".into(),
                access_ttl_seconds: 60,
                refresh_ttl_seconds: 60,
                web: crate::sessions::WebSessionLimits {
                    inactivity_seconds: 60,
                    absolute_seconds: 60,
                    remember_me_seconds: 60,
                },
            },
            FormTokens::new(&keys),
        );
        let secrets = SecretBox::new(keys);
        let user = user();
        let now = Instant::from_millis(1_700_000_000_000);
        let params = TotpParams::default();
        let step = params.step_at(now.seconds());
        let secret = TotpSecret::generate();
        let id = MethodId::parse("m1abcdef").unwrap();
        let method = MethodRecord {
            secret: Some(secrets.seal(secret.bytes(), &MethodRecord::seal_context(user.id, &id))),
            id,
            user_id: user.id,
            kind: MethodKind::Authenticator,
            name: None,
            totp: Some((params.algorithm, params.digits, params.period)),
            mobile_phone: None,
            email: None,
            last_used_step: last_used.map(|offset| step.saturating_add_signed(offset)),
            created_at: now,
            last_used_at: None,
            sends_code_on_login: false,
            channel: None,
        };
        let guess = LoginGuess {
            judge: CodeJudge { secrets },
            defaults: TwoFactorPolicy::default(),
            sessions,
            presented: LoginCode::Presented(PresentedCode::Numeric(
                params.code_at_step(&secret, step),
            )),
            id_hash: "challenge".into(),
            sent_context: "sent".into(),
            guess_id: "guess".into(),
            application_id: None,
            origin: Origin::default(),
            now,
        };
        let mut committed = None;
        let statements = Scripted {
            taken: Some(TakenAttempt {
                challenge: ChallengeRecord {
                    user_id: user.id,
                    login_type: LoginType::Api,
                    application_id: None,
                    expires_at: now.plus_seconds(300),
                    attempts: 1,
                    enrollment_code_hash: None,
                    access_code_used: false,
                    remember_me: false,
                },
                user,
                stored_settings: None,
            }),
            counts: Some(MethodsAndCounts {
                methods: vec![method],
                recent_failures: 0,
                codes_sent: false,
            }),
            claims,
            committed: &mut committed,
        };
        let guessed = guess.run(statements).await.unwrap();
        (guessed, committed.expect("the check committed"))
    }

    fn reason(writes: &GuessWrites) -> Option<&serde_json::Value> {
        writes.event.as_ref().and_then(|e| e.details.get("reason"))
    }

    #[tokio::test]
    async fn a_fresh_code_whose_step_it_spends_logs_in() {
        let (guessed, writes) = check(None, Some(true)).await;
        assert!(matches!(guessed, Guessed::LoggedIn { .. }));
        assert!(writes.login.is_some() && writes.reserve.is_none());
    }

    #[tokio::test]
    async fn a_fresh_code_whose_step_a_concurrent_check_spent_first_fails_as_just_used() {
        let (guessed, writes) = check(None, Some(false)).await;
        assert!(matches!(
            guessed,
            Guessed::Failed {
                failure: CodeFailure::AlreadyUsed,
                ..
            }
        ));
        assert!(
            writes.login.is_none() && writes.reserve.is_some(),
            "a failure"
        );
        assert_eq!(reason(&writes), Some(&"code_already_used".into()));
    }

    #[tokio::test]
    async fn a_code_of_the_last_used_step_fails_as_just_used_without_claiming_it() {
        for last_used in [0, 1] {
            let (guessed, writes) = check(Some(last_used), None).await;
            assert!(matches!(
                guessed,
                Guessed::Failed {
                    failure: CodeFailure::AlreadyUsed,
                    ..
                }
            ));
            assert!(writes.reserve.is_some(), "a failure");
            assert_eq!(reason(&writes), Some(&"code_already_used".into()));
        }
    }
}
