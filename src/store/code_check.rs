//! A login's code check in two transactions, whatever the kind of code:
//!
//! 1. `begin_code_check` … `reserve_guess`: take one attempt from the challenge, lock and read
//!    the user, count their recent failures and commit this guess as a failure *before* the
//!    code is compared, so that simultaneous guesses count against each other;
//! 2. `finish_login`: release the guess, complete the challenge, spend the authenticator's time
//!    step, open the session and write the audit event, all or nothing.
//!
//! Locks are taken in one order — challenge, then user, then method — so that two checks (or a
//! check and a change of the user's methods) never wait on each other in a circle.

use std::sync::LazyLock;

use sqlx::Row;

use super::sessions::{NewSession, insert_session_in};
use super::two_factor::{
    CLAIM_STEP, METHOD_COLUMNS, MethodRecord, challenge_from_row, method_from_row, step_to_db,
};
use super::users::{COLUMNS as USER_COLUMNS, user_from_row};
use super::{Backend, ChallengeRecord, Store, StoreError, WriteTx, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{MethodId, User, UserId};

/// The user's methods (none: one row of NULLs), their failures since `$2`, and how many codes
/// for `$3` are pending, in one query.
static METHODS_AND_COUNTS: LazyLock<String> = LazyLock::new(|| {
    let method_columns = METHOD_COLUMNS
        .split(',')
        .map(|column| format!("m.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT (SELECT COUNT(*) FROM two_factor_failures WHERE user_id = $1 AND at > $2) \
           AS recent_failures, \
         (SELECT COUNT(*) FROM verifications WHERE context = $3 AND status = 'pending') \
           AS codes_sent, {method_columns} \
         FROM (SELECT 1 AS anchor) AS anchor \
         LEFT JOIN two_factor_methods m ON m.user_id = $1 \
         ORDER BY m.created_at, m.id"
    )
});

/// A code check whose attempt is taken but not yet committed.
pub struct CodeCheck {
    write: WriteTx,
    backend: Backend,
}

/// What `begin_code_check` found: the challenge (its attempt counted) and the stored
/// two-factor settings, read in the same statement so that a check needs no separate read.
pub struct OpenedCheck {
    pub check: CodeCheck,
    pub challenge: ChallengeRecord,
    pub stored_settings: Option<String>,
}

/// The user of a code check, read under the check's lock.
#[derive(Debug)]
pub struct CheckedUser {
    pub user: User,
    pub methods: Vec<MethodRecord>,
    /// Failures since the window's start, before this guess.
    pub recent_failures: i64,
    /// Whether a code was sent for this login and is still pending.
    pub codes_sent: bool,
}

/// How `finish_login` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishedLogin {
    Done,
    /// The challenge was completed by a concurrent check in the meantime.
    ChallengeGone,
    /// The authenticator's time step was spent by a concurrent check: the code counts as wrong.
    StepSpent,
}

impl Store {
    /// Takes one attempt from a challenge that is neither expired nor completed, and reads the
    /// settings stored under `settings_key`. The caller decides, with the settings, whether the
    /// attempt was within the limit (`attempts`); `None` when there is no such challenge.
    pub async fn begin_code_check(
        &self,
        id_hash: &str,
        settings_key: &str,
        now: Instant,
    ) -> Result<Option<OpenedCheck>, StoreError> {
        let mut write = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE login_challenges SET attempts = attempts + 1 \
             WHERE id_hash = $1 AND completed_at IS NULL AND expires_at > $2 \
             RETURNING user_id, login_type, application_id, expires_at, attempts, \
               enrollment_code_hash, (SELECT value FROM settings WHERE key = $3) AS stored_settings",
        )
        .bind(id_hash.to_owned())
        .bind(now.millis())
        .bind(settings_key.to_owned())
        .fetch_optional(&mut *write.tx)
        .await?;
        let Some(row) = row else {
            write.rollback().await?;
            return Ok(None);
        };
        let challenge = challenge_from_row(&row)?;
        let stored_settings: Option<String> = row.try_get("stored_settings")?;
        Ok(Some(OpenedCheck {
            check: CodeCheck {
                write,
                backend: self.backend,
            },
            challenge,
            stored_settings,
        }))
    }

    /// Completes a login whose code was right. `spend`: the authenticator and the time step of
    /// its code, spent here unless that step (or a later one) already was.
    pub async fn finish_login(
        &self,
        id_hash: &str,
        guess_id: &str,
        spend: Option<(&MethodId, u64)>,
        session: &NewSession,
        event: &AuditEvent,
    ) -> Result<FinishedLogin, StoreError> {
        let mut write = self.begin_write().await?;
        // A right guess is not a failure; this stands even when the challenge is gone.
        sqlx::query("DELETE FROM two_factor_failures WHERE guess_id = $1")
            .bind(guess_id.to_owned())
            .execute(&mut *write.tx)
            .await?;
        let completed = sqlx::query(
            "UPDATE login_challenges SET completed_at = $2 WHERE id_hash = $1 AND completed_at IS NULL",
        )
        .bind(id_hash.to_owned())
        .bind(session.now.millis())
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        if completed != 1 {
            write.commit().await?;
            return Ok(FinishedLogin::ChallengeGone);
        }
        insert_session_in(&mut write.tx, session).await?;
        if let Some((method, step)) = spend {
            let spent = sqlx::query(CLAIM_STEP)
                .bind(method.as_str().to_owned())
                .bind(step_to_db(step))
                .bind(session.now.millis())
                .execute(&mut *write.tx)
                .await?
                .rows_affected();
            if spent != 1 {
                // Nothing of this login stands: the guess stays a failure.
                write.rollback().await?;
                return Ok(FinishedLogin::StepSpent);
            }
        }
        audit::record(&mut write.tx, event).await?;
        write.commit().await?;
        Ok(FinishedLogin::Done)
    }
}

impl CodeCheck {
    /// Locks and reads the user, their methods, their failures since `failures_since` and
    /// whether codes went out under `sent_context`. The lock makes this user's guesses count one
    /// after another (SQLite's write lock already does).
    pub async fn read_user(
        &mut self,
        user: UserId,
        failures_since: Instant,
        sent_context: &str,
    ) -> Result<Option<CheckedUser>, StoreError> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let Some(row) = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1{lock}"
        ))
        .bind(user.to_string())
        .fetch_optional(&mut *self.write.tx)
        .await?
        else {
            return Ok(None);
        };
        let user = user_from_row(&row)?.user;
        // A separate statement after the lock: on PostgreSQL it sees every guess committed
        // by whoever held the lock before.
        let rows = sqlx::query(&METHODS_AND_COUNTS)
            .bind(user.id.to_string())
            .bind(failures_since.millis())
            .bind(sent_context.to_owned())
            .fetch_all(&mut *self.write.tx)
            .await?;
        let first = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("the code check read no row".into()))?;
        let recent_failures: i64 = first.try_get("recent_failures")?;
        let codes_sent: i64 = first.try_get("codes_sent")?;
        let mut methods = Vec::new();
        for row in &rows {
            if row.try_get::<Option<String>, _>("id")?.is_some() {
                methods.push(method_from_row(row)?);
            }
        }
        Ok(Some(CheckedUser {
            user,
            methods,
            recent_failures,
            codes_sent: codes_sent > 0,
        }))
    }

    /// Counts this guess as a failure until it proves right, and commits: from now on
    /// concurrent guesses see it.
    pub async fn reserve_guess(
        mut self,
        user: UserId,
        guess_id: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO two_factor_failures (user_id, at, guess_id) VALUES ($1, $2, $3)")
            .bind(user.to_string())
            .bind(now.millis())
            .bind(guess_id.to_owned())
            .execute(&mut *self.write.tx)
            .await?;
        self.write.commit().await
    }

    /// Refuses the guess unchecked (too many recent failures): the attempt stays taken and the
    /// event is written.
    pub async fn refuse(mut self, event: &AuditEvent) -> Result<(), StoreError> {
        audit::record(&mut self.write.tx, event).await?;
        self.write.commit().await
    }

    /// Gives the attempt back: the challenge was out of attempts or its user is gone.
    pub async fn abandon(self) -> Result<(), StoreError> {
        self.write.rollback().await
    }
}
