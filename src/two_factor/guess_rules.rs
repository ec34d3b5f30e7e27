//! The rules of a login's code check, as one pure function: what the check read under its
//! lock goes in, what to write comes out (`guess` runs the sequence around it).

use super::{Accepted, CodeFailure};
use crate::domain::{MethodId, MethodKind, User};
use crate::policy::TwoFactorPolicy;
use crate::store::ChallengeRecord;

/// What a presented code matches, from what the check read under its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeMatch {
    /// An authenticator's code, at a time step later than its last used one.
    Authenticator { method: MethodId, step: u64 },
    /// The code an enrolment during this login handed out, as the factor it enrolled.
    Enrolled(Accepted),
    /// Judging it takes more than the user's row: a recovery code, a code sent by message, an
    /// access code, or an authenticator whose secret does not open.
    NeedsMore,
    /// Only an authenticator's code at a time step already used, or before the last used one.
    UsedAuthenticator,
    /// Nothing of the user's matches it.
    Nothing,
}

/// What a code check does with a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GuessDecision {
    /// There is no login to finish: the challenge has no attempts left or its user is disabled.
    /// Nothing is written, not even the attempt.
    Unknown,
    /// The user's recent wrong codes reached the limit: refused without looking at the code.
    Refused,
    /// Counted as a failure until the slower check proves it right.
    Reserve,
    /// Counted as a failure; the answer says which (`CodeFailure`).
    Failed(CodeFailure),
    /// The login completes; `spend`: the authenticator time step it uses up.
    Right {
        accepted: Accepted,
        spend: Option<(MethodId, u64)>,
    },
}

/// Decides a guess at a login's challenge. `challenge.attempts` counts this guess;
/// `recent_failures` are the user's wrong codes in the policy's window before it. `code` is
/// asked only when the guess may be judged.
pub(crate) fn decide_guess(
    challenge: &ChallengeRecord,
    user: &User,
    policy: &TwoFactorPolicy,
    recent_failures: i64,
    code: impl FnOnce() -> CodeMatch,
) -> GuessDecision {
    if challenge.attempts > policy.max_code_attempts || !user.active {
        return GuessDecision::Unknown;
    }
    if !policy.guess_allowed(recent_failures + 1) {
        return GuessDecision::Refused;
    }
    match code() {
        CodeMatch::Authenticator { method, step } => GuessDecision::Right {
            accepted: Accepted::Method(MethodKind::Authenticator),
            spend: Some((method, step)),
        },
        CodeMatch::Enrolled(accepted) => GuessDecision::Right {
            accepted,
            spend: None,
        },
        CodeMatch::NeedsMore => GuessDecision::Reserve,
        CodeMatch::UsedAuthenticator => GuessDecision::Failed(CodeFailure::AlreadyUsed),
        CodeMatch::Nothing => GuessDecision::Failed(CodeFailure::Wrong),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Instant;
    use crate::domain::LoginType;
    use crate::domain::{Roles, UserId, Username};

    fn policy() -> TwoFactorPolicy {
        TwoFactorPolicy::default()
    }

    fn challenge(attempts: i64) -> ChallengeRecord {
        ChallengeRecord {
            user_id: UserId::new(),
            login_type: LoginType::Api,
            application_id: None,
            expires_at: Instant::from_millis(1_000_000),
            attempts,
            enrollment_code_hash: None,
            access_code_used: false,
            remember_me: false,
        }
    }

    fn user(active: bool) -> User {
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
            active,
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

    fn authenticator() -> CodeMatch {
        CodeMatch::Authenticator {
            method: MethodId::parse("m1abcdef").unwrap(),
            step: 7,
        }
    }

    #[test]
    fn a_right_authenticator_code_completes_the_login_and_spends_its_step() {
        assert_eq!(
            decide_guess(&challenge(1), &user(true), &policy(), 0, authenticator),
            GuessDecision::Right {
                accepted: Accepted::Method(MethodKind::Authenticator),
                spend: Some((MethodId::parse("m1abcdef").unwrap(), 7)),
            }
        );
    }

    #[test]
    fn an_enrolments_code_completes_the_login_as_the_enrolled_kind_and_spends_nothing() {
        assert_eq!(
            decide_guess(&challenge(1), &user(true), &policy(), 0, || {
                CodeMatch::Enrolled(Accepted::Method(MethodKind::Phone))
            }),
            GuessDecision::Right {
                accepted: Accepted::Method(MethodKind::Phone),
                spend: None,
            }
        );
        // A key registered during the login completes it as a hardware key (`hwk`).
        let by_key = decide_guess(&challenge(1), &user(true), &policy(), 0, || {
            CodeMatch::Enrolled(Accepted::SecurityKey)
        });
        assert_eq!(
            by_key,
            GuessDecision::Right {
                accepted: Accepted::SecurityKey,
                spend: None,
            }
        );
    }

    #[test]
    fn a_code_that_matches_nothing_is_wrong() {
        assert_eq!(
            decide_guess(&challenge(1), &user(true), &policy(), 0, || {
                CodeMatch::Nothing
            }),
            GuessDecision::Failed(CodeFailure::Wrong)
        );
    }

    #[test]
    fn an_authenticator_code_of_a_spent_step_fails_as_already_used() {
        assert_eq!(
            decide_guess(&challenge(1), &user(true), &policy(), 0, || {
                CodeMatch::UsedAuthenticator
            }),
            GuessDecision::Failed(CodeFailure::AlreadyUsed)
        );
    }

    #[test]
    fn a_used_code_is_told_apart_only_where_a_wrong_one_would_be_judged() {
        let policy = policy();
        let limit = (1..1_000)
            .find(|failures| !policy.guess_allowed(failures + 1))
            .expect("the policy limits failures");
        let used = || CodeMatch::UsedAuthenticator;
        assert_eq!(
            decide_guess(&challenge(1), &user(true), &policy, limit, used),
            GuessDecision::Refused,
            "past the failure limit"
        );
        assert_eq!(
            decide_guess(&challenge(1), &user(false), &policy, 0, used),
            GuessDecision::Unknown,
            "for a disabled user"
        );
        let past = challenge(policy.max_code_attempts + 1);
        assert_eq!(
            decide_guess(&past, &user(true), &policy, 0, used),
            GuessDecision::Unknown,
            "out of attempts"
        );
    }

    #[test]
    fn a_code_that_needs_more_reads_is_reserved_as_a_failure() {
        assert_eq!(
            decide_guess(&challenge(1), &user(true), &policy(), 0, || {
                CodeMatch::NeedsMore
            }),
            GuessDecision::Reserve
        );
    }

    #[test]
    fn the_last_attempt_is_judged_and_the_one_after_finds_no_login() {
        let policy = policy();
        let last = challenge(policy.max_code_attempts);
        assert_ne!(
            decide_guess(&last, &user(true), &policy, 0, authenticator),
            GuessDecision::Unknown
        );
        let past = challenge(policy.max_code_attempts + 1);
        assert_eq!(
            decide_guess(&past, &user(true), &policy, 0, || unreachable!()),
            GuessDecision::Unknown
        );
    }

    #[test]
    fn a_disabled_users_login_cannot_be_finished() {
        assert_eq!(
            decide_guess(&challenge(1), &user(false), &policy(), 0, || unreachable!()),
            GuessDecision::Unknown
        );
    }

    #[test]
    fn past_the_failure_limit_a_guess_is_refused_without_looking_at_the_code() {
        let policy = policy();
        let limit = (1..1_000)
            .find(|failures| !policy.guess_allowed(failures + 1))
            .expect("the policy limits failures");
        assert_eq!(
            decide_guess(
                &challenge(1),
                &user(true),
                &policy,
                limit,
                || unreachable!()
            ),
            GuessDecision::Refused
        );
        assert_eq!(
            decide_guess(
                &challenge(1),
                &user(true),
                &policy,
                limit - 1,
                authenticator
            ),
            decide_guess(&challenge(1), &user(true), &policy, 0, authenticator),
        );
    }

    #[test]
    fn the_attempt_limit_comes_before_the_failure_limit() {
        let policy = policy();
        let past = challenge(policy.max_code_attempts + 1);
        assert_eq!(
            decide_guess(&past, &user(true), &policy, i64::MAX - 1, || unreachable!()),
            GuessDecision::Unknown
        );
    }
}
