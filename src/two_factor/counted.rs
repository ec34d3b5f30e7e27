//! Count first, outside a login: re-authentication, enrolment confirmations, removing a method
//! and confirming a new phone check a code of the user's the way a login does, against one
//! limit per account (`failureLimit` in `failureWindowSeconds`) shared with the login's code
//! check (`guess`). Past the limit no answer tells a right code from a wrong one.
//!
//! A check with effects (spending a sent code or a recovery code) counts the guess as a failure
//! before it runs (`count_guess`) and takes it back when the code proved right. A comparison
//! without effects (an authenticator's code) is made first and admitted after
//! (`admit_judged`): a right code needs the account under its limit, a wrong one is counted.
//! Every caller has passed the password or holds a session, so an authenticator's code already
//! used is answered as such (`CodeFailure::AlreadyUsed`), counted like a wrong one.

use super::{CodeFailure, TwoFactor, TwoFactorError, code_failure_event, note_code_failure};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::UserId;

/// A guess already counted as one of the user's failures; `right` takes it back, `wrong`
/// leaves it counted. Dropping it unjudged (an error on the way) leaves it counted too.
#[must_use = "a counted guess is judged right or wrong"]
pub(crate) struct CountedGuess {
    user: UserId,
    guess_id: String,
    context: &'static str,
}

impl TwoFactor {
    /// Counts a guess at one of `user`'s codes (or at their password, at re-authentication)
    /// before it is judged. Past the limit the guess is refused unchecked (429) and the refusal
    /// goes to the audit log; it does not count.
    pub(crate) async fn count_guess(
        &self,
        user: UserId,
        context: &'static str,
        origin: &Origin,
        now: Instant,
    ) -> Result<CountedGuess, TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        let guess_id = random::token(16);
        let failures = self
            .two_factor_store
            .reserve_guess(user, &guess_id, policy.failure_window_start(now), now)
            .await?;
        if policy.guess_allowed(failures) {
            return Ok(CountedGuess {
                user,
                guess_id,
                context,
            });
        }
        let refused = refusal_event(user, context, failures - 1, origin, now);
        self.two_factor_store
            .release_guess(&guess_id, Some(&refused))
            .await?;
        Err(too_many(user, context, policy.failure_window_seconds))
    }

    /// Admits a guess judged without effects: `right` passes while the account is under its
    /// limit; a wrong one is counted, and answered as past the limit when it is.
    pub(crate) async fn admit_judged(
        &self,
        user: UserId,
        context: &'static str,
        right: bool,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        if !right {
            return Err(self
                .count_failure(user, context, CodeFailure::Wrong, origin, now)
                .await);
        }
        let policy = self.two_factor_policy().await?;
        let failures = self
            .two_factor_store
            .recent_failures(user, policy.failure_window_start(now))
            .await?;
        if policy.guess_allowed(failures + 1) {
            return Ok(());
        }
        let refused = refusal_event(user, context, failures, origin, now);
        self.audit_store.record_event(&refused).await?;
        Err(too_many(user, context, policy.failure_window_seconds))
    }

    /// The guess was right: it is not a failure after all.
    pub(crate) async fn right_guess(&self, guess: CountedGuess) -> Result<(), TwoFactorError> {
        self.two_factor_store
            .release_guess(&guess.guess_id, None)
            .await?;
        Ok(())
    }

    /// The guess was wrong: it stays counted, and the audit log says where it was made.
    /// Answers the error to return.
    pub(crate) async fn wrong_guess(
        &self,
        guess: CountedGuess,
        origin: &Origin,
        now: Instant,
    ) -> TwoFactorError {
        self.failed_guess(guess, CodeFailure::Wrong, origin, now)
            .await
    }

    /// The guess failed: it stays counted, and the audit log says where and why. Answers the
    /// error to return.
    pub(crate) async fn failed_guess(
        &self,
        guess: CountedGuess,
        failure: CodeFailure,
        origin: &Origin,
        now: Instant,
    ) -> TwoFactorError {
        note_code_failure(guess.user, guess.context, failure);
        let event = code_failure_event(guess.user, guess.context, failure, origin, now);
        match self.audit_store.record_event(&event).await {
            Ok(()) => failure.error(),
            Err(error) => error.into(),
        }
    }

    /// Counts a code judged without effects that failed, and answers the error to return (past
    /// the limit, the refusal).
    pub(crate) async fn count_failure(
        &self,
        user: UserId,
        context: &'static str,
        failure: CodeFailure,
        origin: &Origin,
        now: Instant,
    ) -> TwoFactorError {
        match self.count_guess(user, context, origin, now).await {
            Ok(guess) => self.failed_guess(guess, failure, origin, now).await,
            Err(refused) => refused,
        }
    }
}

fn refusal_event(
    user: UserId,
    context: &'static str,
    recent_failures: i64,
    origin: &Origin,
    now: Instant,
) -> AuditEvent {
    AuditEvent::new(EventKind::TwoFactorBlocked, Actor::User(user), origin, now)
        .target(user)
        .detail("context", context)
        .detail("recentFailures", recent_failures)
}

fn too_many(user: UserId, context: &'static str, retry_after_seconds: i64) -> TwoFactorError {
    tracing::info!(target: "security", user = %user, context, "code refused unchecked: too many recent failures");
    TwoFactorError::TooManyFailures {
        retry_after_seconds,
    }
}
