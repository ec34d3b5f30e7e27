//! A login's second factor given by a security key (or a passkey) in place of a code. WebAuthn
//! checks the key's assertion (`webauthn::login`); this is the code check's path around it, as
//! for an administrator's access code: the guess is counted first as a failure, against the
//! login's attempts and the account's limit, by the same `LoginGuess` and rules as any code;
//! once the assertion proves right, one transaction (`KeyFinish`) releases the guess, completes
//! the challenge, spends the WebAuthn ceremony given for this login, moves the key's counter
//! forward and opens the session, so that of simultaneous answers one logs in. An assertion
//! refused, or beaten to its ceremony or its counter, leaves the guess a failure.

use super::challenge::LoggedIn;
use super::guess::{Guessed, Judged, LoginGuess, login_parts};
use super::{
    Accepted, CodeFailure, CompletedLogin, LoginCode, SecondStep, TwoFactor, TwoFactorError,
    code_failure_event, codes, note_code_failure,
};
use crate::audit::{AuditEvent, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{User, UserId};
use crate::store::{FinishStatements, FinishTransaction, GuessWrites, NewSession, StoreError};

/// A login to finish with a key: its `twoFactorId` and what `POST /api/two-factor/login` takes
/// beside a code.
#[derive(Debug, Clone)]
pub struct KeyLogin {
    pub two_factor_id: String,
    pub trust_computer: bool,
    pub application_id: Option<String>,
    /// The browser id cookie a trust given now is bound to (the pages); `None` for the API.
    pub browser_id: Option<String>,
}

/// A key's guess at a login, counted as a failure until `finish_key_login` completes the login
/// (or `refuse_key_guess` records why it stays one).
pub struct KeyGuess {
    judged: Judged,
    id_hash: String,
    guess_id: String,
}

impl KeyGuess {
    /// The user of the login, as read under the check's lock (active, under the limits).
    pub fn user(&self) -> &User {
        &self.judged.checked.user
    }

    /// The digest of the login's `twoFactorId`, which its WebAuthn ceremony is bound to.
    pub fn login_id_hash(&self) -> &str {
        &self.id_hash
    }
}

/// What a key's assertion proved, for the transaction that completes the login.
#[derive(Debug, Clone)]
pub struct KeyUse {
    /// The WebAuthn ceremony it answered (given for this login).
    pub ceremony: String,
    /// The credential's public id.
    pub credential: String,
    /// The counter it signed, which must move the stored one forward.
    pub counter: i64,
    /// The credential as it is to be stored after this use.
    pub blob: String,
}

/// How a key's use at a login ended.
#[derive(Debug)]
pub enum KeyUseEnd {
    LoggedIn(Box<CompletedLogin>),
    /// The ceremony was spent meanwhile (a replay that lost the race): the guess is a failure.
    CeremonyGone,
    /// The key's counter did not move forward (a clone, or a replay), or the key was removed
    /// meanwhile: the guess is a failure.
    NotMoved,
}

impl TwoFactor {
    /// Counts a key's guess at the login `request.two_factor_id` as a failure, under the rules
    /// of every code: the challenge open, unexpired and with attempts left, its user active and
    /// under the account's failure limit. The key's assertion is checked after this.
    pub async fn reserve_key_guess(
        &self,
        request: &KeyLogin,
        origin: &Origin,
        now: Instant,
    ) -> Result<KeyGuess, TwoFactorError> {
        if request.two_factor_id.is_empty() || request.two_factor_id.len() > 128 {
            return Err(TwoFactorError::UnknownChallenge);
        }
        let id_hash = random::lookup_digest(&request.two_factor_id);
        let guess_id = random::token(16);
        let guessed = self
            .two_factor_store
            .check_guess(LoginGuess {
                judge: self.judge.clone(),
                defaults: self.defaults.clone(),
                sessions: self.sessions.clone(),
                presented: LoginCode::SecurityKey,
                id_hash: id_hash.clone(),
                sent_context: codes::login_context(&id_hash),
                guess_id: guess_id.clone(),
                application_id: request.application_id.clone(),
                origin: origin.clone(),
                now,
            })
            .await?;
        match guessed {
            Guessed::Unknown => Err(TwoFactorError::UnknownChallenge),
            Guessed::Refused {
                user,
                retry_after_seconds,
            } => {
                tracing::info!(target: "security", user = %user, "security key refused unchecked: too many recent failures");
                Err(TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                })
            }
            Guessed::Reserved(judged) => Ok(KeyGuess {
                judged: *judged,
                id_hash,
                guess_id,
            }),
            // `LoginGuess` judges only numeric codes itself.
            Guessed::Failed { .. } | Guessed::LoggedIn { .. } => Err(TwoFactorError::Internal(
                anyhow::anyhow!("a security key's guess was judged as a code"),
            )),
        }
    }

    /// A key's guess whose assertion was refused: it stays the failure it was counted as, and
    /// its event says so.
    pub async fn refuse_key_guess(
        &self,
        guess: KeyGuess,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        self.key_failure(guess.user().id, origin, now).await
    }

    /// Completes the login of a key's guess whose assertion proved right (`used`): one
    /// transaction releases the guess, completes the challenge, spends the ceremony, moves the
    /// key's counter forward and opens the session; then the computer is trusted if asked and
    /// the tokens are signed. A ceremony or counter a concurrent answer took leaves the guess a
    /// failure; a challenge a concurrent answer completed is `UnknownChallenge`.
    pub async fn finish_key_login(
        &self,
        guess: KeyGuess,
        used: KeyUse,
        request: &KeyLogin,
        origin: &Origin,
        now: Instant,
    ) -> Result<KeyUseEnd, TwoFactorError> {
        let KeyGuess {
            judged:
                Judged {
                    challenge,
                    checked,
                    policy,
                },
            id_hash,
            guess_id,
        } = guess;
        let user = checked.user.id;
        let mut login = login_parts(
            &self.sessions,
            &checked.user,
            Accepted::SecurityKey,
            request.application_id.clone(),
            &challenge,
            origin,
            now,
        );
        login.event = login
            .event
            .detail("method", "webauthn")
            .detail("webauthnId", used.credential.clone());
        let finished = self
            .two_factor_store
            .finish_check(KeyFinish {
                id_hash,
                guess_id,
                user,
                used,
                session: login.session.clone(),
                event: login.event.clone(),
            })
            .await?;
        match finished {
            KeyFinished::Done => {}
            KeyFinished::ChallengeGone => return Err(TwoFactorError::UnknownChallenge),
            KeyFinished::CeremonyGone => {
                self.key_failure(user, origin, now).await?;
                return Ok(KeyUseEnd::CeremonyGone);
            }
            KeyFinished::NotMoved => {
                self.key_failure(user, origin, now).await?;
                return Ok(KeyUseEnd::NotMoved);
            }
        }
        tracing::info!(target: "security", user = %user, "security key used at a login");
        match self
            .logged_in(LoggedIn {
                checked,
                spent: None,
                parts: login,
                policy: &policy,
                trust_computer: request.trust_computer,
                browser_id: request.browser_id.as_deref(),
                login_type: challenge.login_type,
                origin,
                now,
            })
            .await?
        {
            SecondStep::LoggedIn(done) => Ok(KeyUseEnd::LoggedIn(done)),
            SecondStep::Enrol => Err(TwoFactorError::Internal(anyhow::anyhow!(
                "a key's login was sent on to enrolment"
            ))),
        }
    }

    /// The event of a key's guess that stays a failure (its row was written when it was
    /// counted).
    async fn key_failure(
        &self,
        user: UserId,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        note_code_failure(user, "login", CodeFailure::Wrong);
        let event: AuditEvent = code_failure_event(user, "login", CodeFailure::Wrong, origin, now)
            .detail("method", "webauthn");
        self.audit_store.record_event(&event).await?;
        Ok(())
    }
}

/// The transaction that completes a login whose key's guess the first one reserved.
struct KeyFinish {
    id_hash: String,
    guess_id: String,
    user: UserId,
    used: KeyUse,
    session: NewSession,
    event: AuditEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFinished {
    Done,
    /// A concurrent check completed the challenge: the guess is released, nothing else stands.
    ChallengeGone,
    CeremonyGone,
    NotMoved,
}

impl FinishTransaction for KeyFinish {
    type Output = KeyFinished;

    async fn run<S: FinishStatements>(self, mut statements: S) -> Result<KeyFinished, StoreError> {
        let now = self.session.now;
        // A right assertion is not a failure, even when the challenge is gone.
        statements.release_guess(&self.guess_id).await?;
        if !statements.complete_challenge(&self.id_hash, now).await? {
            statements.commit(GuessWrites::default()).await?;
            return Ok(KeyFinished::ChallengeGone);
        }
        // Nothing of this login stands unless the ceremony and the counter are this one's.
        if !statements
            .spend_key_ceremony(&self.used.ceremony, self.user, &self.id_hash, now)
            .await?
        {
            statements.rollback().await?;
            return Ok(KeyFinished::CeremonyGone);
        }
        if !statements
            .use_key(
                self.user,
                &self.used.credential,
                self.used.counter,
                &self.used.blob,
                now,
            )
            .await?
        {
            statements.rollback().await?;
            return Ok(KeyFinished::NotMoved);
        }
        statements
            .commit(GuessWrites {
                login: Some(self.session),
                event: Some(self.event),
                ..GuessWrites::default()
            })
            .await?;
        Ok(KeyFinished::Done)
    }
}

#[cfg(test)]
mod tests {
    //! `KeyFinish` on statements that answer as the database would when a concurrent answer got
    //! somewhere first: what it commits, and what it leaves.

    use super::*;
    use crate::audit::{Actor, EventKind};
    use crate::clock::Instant;
    use crate::domain::{LoginType, MethodId};
    use crate::store::{GuessStatements, MethodUse, MethodsAndCounts, TakenAttempt};

    /// What each statement answers, and what the transaction did.
    struct Scripted<'a> {
        challenge_open: bool,
        ceremony_unspent: bool,
        counter_moves: bool,
        log: &'a mut Vec<&'static str>,
        committed: &'a mut Option<GuessWrites>,
    }

    impl GuessStatements for Scripted<'_> {
        async fn take_attempt(
            &mut self,
            _: &str,
            _: Instant,
            _: &'static str,
        ) -> Result<Option<TakenAttempt>, StoreError> {
            unreachable!("the second transaction takes no attempt")
        }

        async fn methods_and_counts(
            &mut self,
            _: UserId,
            _: Instant,
            _: &str,
        ) -> Result<MethodsAndCounts, StoreError> {
            unreachable!("the second transaction reads no methods")
        }

        async fn claim_step(
            &mut self,
            _: &MethodId,
            _: u64,
            _: Instant,
        ) -> Result<bool, StoreError> {
            unreachable!("a key spends no time step")
        }

        async fn commit(self, writes: GuessWrites) -> Result<(), StoreError> {
            self.log.push("commit");
            *self.committed = Some(writes);
            Ok(())
        }

        async fn rollback(self) -> Result<(), StoreError> {
            self.log.push("rollback");
            Ok(())
        }
    }

    impl FinishStatements for Scripted<'_> {
        async fn release_guess(&mut self, _: &str) -> Result<(), StoreError> {
            self.log.push("release");
            Ok(())
        }

        async fn complete_challenge(&mut self, _: &str, _: Instant) -> Result<bool, StoreError> {
            self.log.push("complete");
            Ok(self.challenge_open)
        }

        async fn mark_used(&mut self, _: &MethodUse, _: Instant) -> Result<(), StoreError> {
            unreachable!("a key is no sent code")
        }

        async fn spend_access_code(
            &mut self,
            _: UserId,
            _: &str,
            _: &AuditEvent,
        ) -> Result<bool, StoreError> {
            unreachable!("a key is no access code")
        }

        async fn open_enrolment(
            &mut self,
            _: &str,
            _: Instant,
            _: Instant,
        ) -> Result<bool, StoreError> {
            unreachable!("a key's login does not go on to enrolment")
        }

        async fn spend_key_ceremony(
            &mut self,
            _: &str,
            _: UserId,
            _: &str,
            _: Instant,
        ) -> Result<bool, StoreError> {
            self.log.push("spend");
            Ok(self.ceremony_unspent)
        }

        async fn use_key(
            &mut self,
            _: UserId,
            _: &str,
            _: i64,
            _: &str,
            _: Instant,
        ) -> Result<bool, StoreError> {
            self.log.push("counter");
            Ok(self.counter_moves)
        }
    }

    /// Runs `KeyFinish` on statements answering (challenge open, ceremony unspent, counter
    /// moves): how it ended, the statements in order, and what it committed.
    async fn finish(
        answers: (bool, bool, bool),
    ) -> (KeyFinished, Vec<&'static str>, Option<GuessWrites>) {
        let user = UserId::new();
        let now = Instant::from_millis(1_700_000_000_000);
        let origin = Origin::default();
        let finish = KeyFinish {
            id_hash: "login".into(),
            guess_id: "guess".into(),
            user,
            used: KeyUse {
                ceremony: "ceremony".into(),
                credential: "key".into(),
                counter: 7,
                blob: "{}".into(),
            },
            session: NewSession {
                id: "session".into(),
                user_id: user,
                kind: LoginType::Api,
                amr: vec!["pwd".into(), "hwk".into(), "mfa".into()],
                application_id: None,
                refresh_hash: "digest".into(),
                now,
                expires_at: now.plus_seconds(60),
                remembered: false,
                origin: origin.clone(),
            },
            event: AuditEvent::new(EventKind::LoginSuccess, Actor::User(user), &origin, now),
        };
        let (mut log, mut committed) = (Vec::new(), None);
        let statements = Scripted {
            challenge_open: answers.0,
            ceremony_unspent: answers.1,
            counter_moves: answers.2,
            log: &mut log,
            committed: &mut committed,
        };
        let ended = finish.run(statements).await.unwrap();
        (ended, log, committed)
    }

    #[tokio::test]
    async fn a_right_answer_completes_the_login_with_its_ceremony_and_counter_in_one_commit() {
        let (ended, log, committed) = finish((true, true, true)).await;
        assert_eq!(ended, KeyFinished::Done);
        assert_eq!(log, ["release", "complete", "spend", "counter", "commit"]);
        let writes = committed.expect("committed");
        assert!(writes.login.is_some() && writes.event.is_some());
    }

    #[tokio::test]
    async fn a_login_another_answer_completed_releases_the_guess_and_opens_nothing() {
        let (ended, log, committed) = finish((false, true, true)).await;
        assert_eq!(ended, KeyFinished::ChallengeGone);
        assert_eq!(log, ["release", "complete", "commit"]);
        assert!(committed.expect("the release stands").login.is_none());
    }

    #[tokio::test]
    async fn a_spent_ceremony_or_a_counter_that_does_not_move_leaves_all_as_it_was() {
        let (ended, log, committed) = finish((true, false, true)).await;
        assert_eq!(ended, KeyFinished::CeremonyGone);
        assert_eq!(log, ["release", "complete", "spend", "rollback"]);
        assert!(committed.is_none(), "the guess stays a failure");
        let (ended, log, committed) = finish((true, true, false)).await;
        assert_eq!(ended, KeyFinished::NotMoved);
        assert_eq!(log, ["release", "complete", "spend", "counter", "rollback"]);
        assert!(committed.is_none(), "the guess stays a failure");
    }
}
