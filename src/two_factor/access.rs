//! A login let in by an administrator's one-time access code (`admin::issue_access_code`) in
//! place of a code. It is a guess like any code: counted first against the account's limit,
//! then judged by the transaction that spends it (one conditional DELETE, so of concurrent uses
//! one spends it) and, in the same commit, completes an application's login or, on the pages,
//! lets the login on to enrol a new method; a code that is wrong, used, revoked or expired
//! leaves nothing but the failure.

use super::guess::LoginParts;
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{LoginType, UserId};
use crate::otp::AccessCode;
use crate::store::{FinishStatements, FinishTransaction, GuessWrites, StoreError};

/// What the store keeps of an access code and looks it up by: a plain SHA-256 is enough for a
/// 100-bit random code (`crypto::random::lookup_digest`).
pub(crate) fn access_code_digest(code: &AccessCode) -> String {
    random::lookup_digest(code.normalised())
}

/// Where a login goes once an access code let it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterAccessCode {
    /// Logged in, as with any code: an application gets its tokens (and enrols the person's
    /// new method through the API, which the session's recent login with `mfa` allows).
    LogIn,
    /// On to enrolment: the pages hold the login until the person has enrolled a new method,
    /// whose code then completes it, so there is no session to skip enrolment with.
    Enrol,
}

/// The pages keep the person at enrolment; an application has its own ways to enrol.
pub(crate) fn after_access_code(login_type: LoginType) -> AfterAccessCode {
    match login_type {
        LoginType::Web => AfterAccessCode::Enrol,
        LoginType::Api => AfterAccessCode::LogIn,
    }
}

/// The transaction that spends an access code presented at a login whose guess the first
/// transaction reserved.
pub(super) struct AccessFinish {
    pub(super) id_hash: String,
    pub(super) guess_id: String,
    pub(super) user: UserId,
    pub(super) code_hash: String,
    /// The event of the code's use (the store adds the code's id).
    pub(super) used: AuditEvent,
    pub(super) then: Then,
}

/// What the spending of the code lets happen, in the same transaction.
pub(super) enum Then {
    LogIn(Box<LoginParts>),
    /// The challenge waits at least until then for the enrolment.
    Enrol {
        until: Instant,
    },
}

/// How the transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AccessFinished {
    Done,
    /// Not a live code of the user's: the guess stays a failure.
    Wrong,
    /// A concurrent check completed the challenge: nothing stands, the code is not spent and
    /// the guess stays counted.
    ChallengeGone,
}

impl FinishTransaction for AccessFinish {
    type Output = AccessFinished;

    async fn run<S: FinishStatements>(
        self,
        mut statements: S,
    ) -> Result<AccessFinished, StoreError> {
        let now = self.used.at;
        statements.release_guess(&self.guess_id).await?;
        let open = match &self.then {
            Then::LogIn(_) => statements.complete_challenge(&self.id_hash, now).await?,
            Then::Enrol { until } => {
                statements
                    .open_enrolment(&self.id_hash, now, *until)
                    .await?
            }
        };
        if !open {
            statements.rollback().await?;
            return Ok(AccessFinished::ChallengeGone);
        }
        if !statements
            .spend_access_code(self.user, &self.code_hash, &self.used)
            .await?
        {
            statements.rollback().await?;
            return Ok(AccessFinished::Wrong);
        }
        let writes = match self.then {
            Then::LogIn(login) => GuessWrites {
                login: Some(login.session),
                event: Some(login.event),
                ..GuessWrites::default()
            },
            Then::Enrol { .. } => GuessWrites::default(),
        };
        statements.commit(writes).await?;
        Ok(AccessFinished::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_go_on_to_enrolment_and_an_application_logs_in() {
        assert_eq!(after_access_code(LoginType::Web), AfterAccessCode::Enrol);
        assert_eq!(after_access_code(LoginType::Api), AfterAccessCode::LogIn);
    }

    #[test]
    fn a_code_is_looked_up_by_the_digest_of_its_normalised_form() {
        let typed = AccessCode::parse("7qkd2 m9x4t r2h8c w3n6p").unwrap();
        let shown = AccessCode::parse("7QKD2-M9X4T-R2H8C-W3N6P").unwrap();
        assert_eq!(access_code_digest(&typed), access_code_digest(&shown));
        assert_eq!(access_code_digest(&typed).len(), 64);
    }
}
