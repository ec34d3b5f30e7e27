//! A login's code check in two transactions, whatever the kind of code:
//!
//! 1. `take_guess`: take one attempt from the challenge, lock and read the user, count their
//!    recent failures and commit this guess as a failure *before* the code is compared, so that
//!    simultaneous guesses count against each other;
//! 2. `finish_login`: release the guess, complete the challenge, spend the authenticator's time
//!    step, open the session and write the audit event, all or nothing.
//!
//! Locks are taken in one order — challenge, then user, then method — so that two checks (or a
//! check and a change of the user's methods) never wait on each other in a circle.
//!
//! Each transaction has two bodies with one sequence of statements: on SQLite it runs whole on
//! the SQLite thread (one hand-off instead of one per statement, see `sqlite_thread`); on
//! PostgreSQL through sqlx, where each statement is a round trip, so a right code's last four
//! writes go as one statement. Statements, parameters and row decoders are shared. On
//! PostgreSQL the first transaction of checks that arrive together runs in groups, with
//! set-based statements of its own (`check_group`); a check runs alone here when it cannot
//! share a group.

use std::sync::LazyLock;

use rusqlite::{OptionalExtension, params_from_iter};
use sqlx::{AnyConnection, Connection};

use super::check_group::{GroupedGuess, Guess};
use super::row::{
    Columns, Param, SqliteRow, bind_all, joined_with_params, parameter_count, renumbered,
    sqlite_numbered,
};
use super::sessions::{INSERT_SESSION, NewSession, TOUCH_LAST_LOGIN, session_params, touch_params};
use super::two_factor::{
    CLAIM_STEP, METHOD_COLUMNS, MethodRecord, NewChallenge, challenge_from_row, claim_params,
    method_from_row,
};
use super::users::{COLUMNS as USER_COLUMNS, user_from_row};
use super::{ChallengeRecord, Store, StoreError, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{MethodId, User, UserId};
use crate::policy::TwoFactorPolicy;

/// Takes an attempt from a challenge that is neither expired nor completed, and reads the
/// settings stored under `$3` in the same statement.
const TAKE_ATTEMPT: &str = "UPDATE login_challenges SET attempts = attempts + 1 \
     WHERE id_hash = $1 AND completed_at IS NULL AND expires_at > $2 \
     RETURNING user_id, login_type, application_id, expires_at, attempts, \
       enrollment_code_hash, (SELECT value FROM settings WHERE key = $3) AS stored_settings";

static READ_USER: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
/// PostgreSQL: `TAKE_ATTEMPT` and `READ_USER` as one statement (one round trip fewer), with the
/// user's row locked: the lock makes this user's guesses count one after another (SQLite's
/// write lock already does). The challenge is locked by the update before the user by the
/// join, the order of every check. No row: no open challenge, or its user is gone.
static TAKE_ATTEMPT_LOCK_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH taken AS ({TAKE_ATTEMPT}) SELECT taken.*, {} \
         FROM taken JOIN users u ON u.id = taken.user_id FOR UPDATE OF u",
        prefixed("u", USER_COLUMNS)
    )
});

/// PostgreSQL: a right code's writes — complete the challenge, touch the user, open the
/// session, write the event — as one statement of data-modifying CTEs. Its parameters are the
/// four statements' in that order (`RightWrites::joined`). The challenge is still open: this
/// transaction took its attempt.
static LOGIN_WRITES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {} SELECT 1",
        login_write_ctes(0, |sql| sql.to_owned())
    )
});

/// PostgreSQL: the authenticator's step claimed (`CLAIM_STEP`, parameters first) and, only if
/// that claim won, `LOGIN_WRITES`' four writes, in one statement. Answers `claimed`: 1 when
/// the step was this login's, 0 when it was spent and nothing was written.
static CLAIMED_LOGIN_WRITES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH claim AS ({} RETURNING 1), {} SELECT COUNT(*) AS claimed FROM claim",
        CLAIM_STEP,
        login_write_ctes(parameter_count(CLAIM_STEP), only_if_claimed)
    )
});

/// `LOGIN_WRITES`' statements as CTEs `write0`…`write3`, their parameters numbered from
/// `offset + 1`, each passed through `shape`.
fn login_write_ctes(mut offset: usize, shape: impl Fn(&str) -> String) -> String {
    let mut parts = Vec::new();
    for (index, sql) in [
        COMPLETE_CHALLENGE,
        TOUCH_LAST_LOGIN,
        INSERT_SESSION,
        audit::INSERT,
    ]
    .into_iter()
    .enumerate()
    {
        parts.push(format!(
            "write{index} AS ({})",
            shape(&renumbered(sql, offset))
        ));
        offset += parameter_count(sql);
    }
    parts.join(", ")
}

/// An `UPDATE … WHERE …` or `INSERT … VALUES (…)` that writes only if the CTE `claim` has a
/// row.
fn only_if_claimed(sql: &str) -> String {
    const CLAIMED: &str = "EXISTS (SELECT 1 FROM claim)";
    match sql.split_once(" VALUES (") {
        Some((insert, values)) => {
            let values = values
                .strip_suffix(')')
                .expect("an INSERT's VALUES list ends the statement");
            format!("{insert} SELECT {values} WHERE {CLAIMED}")
        }
        None => {
            assert!(sql.starts_with("UPDATE ") && sql.contains(" WHERE "));
            format!("{sql} AND {CLAIMED}")
        }
    }
}

/// `columns` ("a, b") with each column prefixed by `table`.
fn prefixed(table: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|column| format!("{table}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The user's methods (none: one row of NULLs), their failures since `$2`, and how many codes
/// for `$3` are pending, in one query.
static METHODS_AND_COUNTS: LazyLock<String> = LazyLock::new(|| {
    let method_columns = prefixed("m", METHOD_COLUMNS);
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

const READ_SETTING: &str = "SELECT value FROM settings WHERE key = $1";

const RESERVE_GUESS: &str =
    "INSERT INTO two_factor_failures (user_id, at, guess_id) VALUES ($1, $2, $3)";
const RELEASE_GUESS: &str = "DELETE FROM two_factor_failures WHERE guess_id = $1";
const COMPLETE_CHALLENGE: &str =
    "UPDATE login_challenges SET completed_at = $2 WHERE id_hash = $1 AND completed_at IS NULL";

/// The same statements with SQLite's numbered parameters, for the SQLite thread.
struct Numbered {
    take_attempt: String,
    read_user: String,
    methods_and_counts: String,
    read_setting: String,
    reserve_guess: String,
    release_guess: String,
    complete_challenge: String,
    touch_last_login: String,
    insert_session: String,
    claim_step: String,
    insert_event: String,
}

static NUMBERED: LazyLock<Numbered> = LazyLock::new(|| Numbered {
    take_attempt: sqlite_numbered(TAKE_ATTEMPT),
    read_user: sqlite_numbered(&READ_USER),
    methods_and_counts: sqlite_numbered(&METHODS_AND_COUNTS),
    read_setting: sqlite_numbered(READ_SETTING),
    reserve_guess: sqlite_numbered(RESERVE_GUESS),
    release_guess: sqlite_numbered(RELEASE_GUESS),
    complete_challenge: sqlite_numbered(COMPLETE_CHALLENGE),
    touch_last_login: sqlite_numbered(TOUCH_LAST_LOGIN),
    insert_session: sqlite_numbered(INSERT_SESSION),
    claim_step: sqlite_numbered(CLAIM_STEP),
    insert_event: sqlite_numbered(audit::INSERT),
});

/// What the first transaction needs to know of the guess.
#[derive(Debug, Clone)]
pub struct GuessRequest {
    pub id_hash: String,
    /// Where the two-factor settings are stored.
    pub settings_key: &'static str,
    /// The verification context of codes sent for this login.
    pub sent_context: String,
    pub guess_id: String,
    pub now: Instant,
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

/// What a code check decides under the first transaction's lock, where it can: the user's
/// row and methods are enough to judge an authenticator code or an enrolment's code.
pub enum Verdict<T> {
    /// Right: the login completes in the same transaction.
    Right(Box<RightCode<T>>),
    /// Wrong: the failure and `event` are written in the same transaction.
    Wrong { event: AuditEvent },
    /// The code needs more than the user's row (a recovery code, a code sent by message): the
    /// guess is reserved, and the caller checks it and goes on with `finish_login`.
    Later,
}

/// A right code's login, written by the first transaction.
pub struct RightCode<T> {
    /// The authenticator and the time step of its code, spent unless already spent.
    pub spend: Option<(MethodId, u64)>,
    pub session: NewSession,
    pub event: AuditEvent,
    /// The event when `spend`'s step turns out spent (a concurrent check won): then the code
    /// counts as wrong.
    pub spent_event: AuditEvent,
    /// Handed back with `TakenGuess::LoggedIn` (the tokens of the session).
    pub carry: T,
}

/// How the first transaction ended.
#[derive(Debug)]
pub enum TakenGuess<T> {
    /// No open challenge, none with attempts left, or its user is gone or inactive: nothing
    /// was written.
    Unknown,
    /// Too many recent failures: refused unchecked. The attempt stays taken and the refusal's
    /// event is written.
    Refused {
        user: UserId,
        policy: TwoFactorPolicy,
    },
    /// The verdict was `Later`: the guess counts as a failure until `finish_login` proves it
    /// right.
    Reserved {
        challenge: ChallengeRecord,
        checked: CheckedUser,
        policy: TwoFactorPolicy,
    },
    /// The verdict was `Right` and the login is complete.
    LoggedIn {
        challenge: ChallengeRecord,
        checked: CheckedUser,
        policy: TwoFactorPolicy,
        spent: Option<(MethodId, u64)>,
        carry: T,
    },
    /// The code was wrong (or its time step already spent); the failure is written.
    Wrong { user: UserId },
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

/// The judgement between the first transaction's statements, the same for both bodies.
struct Judge<P, R, V> {
    /// The settings in force, from what is stored under the settings key.
    policy_of: P,
    /// The event of a guess refused unchecked, from the user and their recent failures.
    refusal: R,
    /// The code's verdict, from what was read under the lock.
    verdict: V,
}

impl Store {
    /// The first transaction of a code check (see the module's notes). When `verdict` can
    /// judge the code from the user's row, the check ends in this one transaction.
    pub async fn take_guess<P, R, V, T>(
        &self,
        request: GuessRequest,
        policy_of: P,
        refusal: R,
        verdict: V,
    ) -> Result<TakenGuess<T>, StoreError>
    where
        P: FnOnce(Option<&str>) -> TwoFactorPolicy + Send + 'static,
        R: FnOnce(UserId, i64) -> AuditEvent + Send + 'static,
        V: FnOnce(&ChallengeRecord, &CheckedUser, &TwoFactorPolicy) -> Verdict<T> + Send + 'static,
        T: Send + 'static,
    {
        let judge = Judge {
            policy_of,
            refusal,
            verdict,
        };
        match &self.sqlite_thread {
            Some(thread) => {
                thread
                    .run(move |connection| take_guess_on_sqlite(connection, &request, judge))
                    .await
            }
            None => {
                let (guess, answer) =
                    Guess::new(request, judge.policy_of, judge.refusal, judge.verdict);
                match &self.check_groups {
                    Some(groups) => groups.submit(Box::new(guess)).await,
                    None => Box::new(guess).alone(self.pool().clone()).await,
                }
                answer.await.map_err(|_| {
                    StoreError::GroupNotCommitted("the code check's group stopped".into())
                })?
            }
        }
    }

    /// What a login reads once the password proved right: the two-factor settings stored
    /// under `settings_key` (made a policy by `policy_of`), the user's methods, and the user's
    /// failed codes in the policy's window. `then` decides from them, and the challenge it
    /// returns, if any, is opened with the reads: on SQLite one job of the thread instead of
    /// two (each hand-off takes a core from a password hash), on PostgreSQL one connection.
    pub async fn after_password<P, N, D>(
        &self,
        user: UserId,
        settings_key: &'static str,
        policy_of: P,
        now: Instant,
        then: N,
    ) -> Result<(AfterPassword, D), StoreError>
    where
        P: FnOnce(Option<&str>) -> TwoFactorPolicy + Send + 'static,
        N: FnOnce(&AfterPassword) -> (D, Option<NewChallenge>) + Send + 'static,
        D: Send + 'static,
    {
        let counts = move |policy: &TwoFactorPolicy| -> Vec<Param> {
            vec![
                user.to_string().into(),
                policy.failure_window_start(now).millis().into(),
                // No verification has an empty context: no code counts as sent.
                "".into(),
            ]
        };
        match &self.sqlite_thread {
            Some(thread) => {
                thread
                    .run(move |connection| {
                        let tx = connection.savepoint()?;
                        let stored: Option<String> = tx
                            .prepare_cached(&NUMBERED.read_setting)?
                            .query_row([settings_key], |row| row.get(0))
                            .optional()?;
                        let policy = policy_of(stored.as_deref());
                        let read = {
                            let mut read = tx.prepare_cached(&NUMBERED.methods_and_counts)?;
                            let rows = read.query(params_from_iter(counts(&policy)))?;
                            AfterPassword::new(policy, MethodsAndCounts::from_sqlite_rows(rows)?)
                        };
                        let (decided, challenge) = then(&read);
                        for (sql, params) in challenge.map(NewChallenge::writes).unwrap_or_default()
                        {
                            tx.prepare_cached(&sqlite_numbered(sql))?
                                .execute(params_from_iter(params))?;
                        }
                        tx.commit()?;
                        Ok((read, decided))
                    })
                    .await
            }
            None => {
                // One connection for the reads and the write: each acquire tests the
                // connection first.
                let mut connection = self.pool().acquire().await?;
                let stored: Option<String> = sqlx::query_scalar(READ_SETTING)
                    .bind(settings_key)
                    .fetch_optional(&mut *connection)
                    .await?;
                let policy = policy_of(stored.as_deref());
                let rows = bind_all(sqlx::query(&METHODS_AND_COUNTS), counts(&policy))
                    .fetch_all(&mut *connection)
                    .await?;
                let read = AfterPassword::new(policy, MethodsAndCounts::from_any_rows(&rows)?);
                let (decided, challenge) = then(&read);
                if let Some(challenge) = challenge {
                    // One statement: written whole or not at all.
                    let (sql, params) = joined_with_params(challenge.writes());
                    bind_all(sqlx::query(&sql), params)
                        .execute(&mut *connection)
                        .await?;
                }
                Ok((read, decided))
            }
        }
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
        let finish = FinishStatements {
            release_guess: vec![guess_id.into()],
            complete_challenge: vec![id_hash.into(), session.now.millis().into()],
            touch_last_login: touch_params(session),
            insert_session: session_params(session),
            claim_step: spend.map(|(method, step)| claim_params(method, step, session.now)),
            insert_event: audit::event_params(event),
        };
        match &self.sqlite_thread {
            Some(thread) => {
                thread
                    .run(move |connection| finish_login_on_sqlite(connection, finish))
                    .await
            }
            None => self.finish_login_on_postgres(finish).await,
        }
    }

    async fn finish_login_on_postgres(
        &self,
        finish: FinishStatements,
    ) -> Result<FinishedLogin, StoreError> {
        let mut write = self.begin_write().await?;
        // A right guess is not a failure; this stands even when the challenge is gone.
        bind_all(sqlx::query(RELEASE_GUESS), finish.release_guess)
            .execute(&mut *write.tx)
            .await?;
        let completed = bind_all(sqlx::query(COMPLETE_CHALLENGE), finish.complete_challenge)
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
        if completed != 1 {
            write.commit().await?;
            return Ok(FinishedLogin::ChallengeGone);
        }
        bind_all(sqlx::query(TOUCH_LAST_LOGIN), finish.touch_last_login)
            .execute(&mut *write.tx)
            .await?;
        bind_all(sqlx::query(INSERT_SESSION), finish.insert_session)
            .execute(&mut *write.tx)
            .await?;
        if let Some(claim) = finish.claim_step {
            let spent = bind_all(sqlx::query(CLAIM_STEP), claim)
                .execute(&mut *write.tx)
                .await?
                .rows_affected();
            if spent != 1 {
                // Nothing of this login stands: the guess stays a failure.
                write.rollback().await?;
                return Ok(FinishedLogin::StepSpent);
            }
        }
        bind_all(sqlx::query(audit::INSERT), finish.insert_event)
            .execute(&mut *write.tx)
            .await?;
        write.commit().await?;
        Ok(FinishedLogin::Done)
    }
}

/// The first transaction of one code check on PostgreSQL, outside any group (`check_group`),
/// on `connection`: the statements of `take_guess_on_sqlite`. A group of one check runs it on
/// its worker's connection: its statements, each on one row's key, cost PostgreSQL less than a
/// group's, which take their input as JSON and join it (a login at a time spent about three
/// times as long in them).
pub(super) async fn take_guess_on<P, R, V, T>(
    connection: &mut AnyConnection,
    request: &GuessRequest,
    policy_of: P,
    refusal: R,
    verdict: V,
) -> Result<TakenGuess<T>, StoreError>
where
    P: FnOnce(Option<&str>) -> TwoFactorPolicy,
    R: FnOnce(UserId, i64) -> AuditEvent,
    V: FnOnce(&ChallengeRecord, &CheckedUser, &TwoFactorPolicy) -> Verdict<T>,
{
    let mut tx = connection.begin().await?;
    let row = bind_all(
        sqlx::query(&TAKE_ATTEMPT_LOCK_USER),
        take_attempt_params(request),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(TakenGuess::Unknown);
    };
    let challenge = challenge_from_row(&row)?;
    let policy = policy_of(row.column::<Option<String>>("stored_settings")?.as_deref());
    let user = user_from_row(&row)?.user;
    if challenge.attempts > policy.max_code_attempts || !user.active {
        tx.rollback().await?;
        return Ok(TakenGuess::Unknown);
    }
    // A separate statement after the lock: on PostgreSQL it sees every guess committed
    // by whoever held the lock before.
    let rows = bind_all(
        sqlx::query(&METHODS_AND_COUNTS),
        counts_params(&user, &policy, request),
    )
    .fetch_all(&mut *tx)
    .await?;
    let checked = checked_user(user, MethodsAndCounts::from_any_rows(&rows)?);
    if !policy.guess_allowed(checked.recent_failures + 1) {
        let event = refusal(checked.user.id, checked.recent_failures);
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        return Ok(TakenGuess::Refused {
            user: checked.user.id,
            policy,
        });
    }
    let verdict = verdict(&challenge, &checked, &policy);
    let reserve = bind_all(
        sqlx::query(RESERVE_GUESS),
        reserve_params(&checked, request),
    );
    let right = match verdict {
        Verdict::Later => {
            reserve.execute(&mut *tx).await?;
            tx.commit().await?;
            return Ok(TakenGuess::Reserved {
                challenge,
                checked,
                policy,
            });
        }
        Verdict::Wrong { event } => {
            reserve.execute(&mut *tx).await?;
            audit::record(&mut tx, &event).await?;
            tx.commit().await?;
            return Ok(TakenGuess::Wrong {
                user: checked.user.id,
            });
        }
        Verdict::Right(right) => right,
    };
    let mut writes = RightWrites::new(&right, request);
    let claimed = match writes.claim_step.take() {
        Some(claim) => {
            let row = bind_all(
                sqlx::query(&CLAIMED_LOGIN_WRITES),
                [claim, writes.joined()].concat(),
            )
            .fetch_one(&mut *tx)
            .await?;
            row.column::<i64>("claimed")? == 1
        }
        None => {
            bind_all(sqlx::query(&LOGIN_WRITES), writes.joined())
                .execute(&mut *tx)
                .await?;
            true
        }
    };
    if !claimed {
        // The step was spent by another login: nothing of this one was written.
        reserve.execute(&mut *tx).await?;
        audit::record(&mut tx, &right.spent_event).await?;
        tx.commit().await?;
        return Ok(TakenGuess::Wrong {
            user: checked.user.id,
        });
    }
    tx.commit().await?;
    let RightCode { spend, carry, .. } = *right;
    Ok(TakenGuess::LoggedIn {
        challenge,
        checked,
        policy,
        spent: spend,
        carry,
    })
}

/// The first transaction on the SQLite thread: the statements of `take_guess_on`.
fn take_guess_on_sqlite<P, R, V, T>(
    connection: &mut rusqlite::Connection,
    request: &GuessRequest,
    judge: Judge<P, R, V>,
) -> Result<TakenGuess<T>, StoreError>
where
    P: FnOnce(Option<&str>) -> TwoFactorPolicy,
    R: FnOnce(UserId, i64) -> AuditEvent,
    V: FnOnce(&ChallengeRecord, &CheckedUser, &TwoFactorPolicy) -> Verdict<T>,
{
    // Dropped without a commit, the savepoint rolls back: every early return gives the
    // attempt back. It is this job's part of the thread's group transaction (`sqlite_thread`).
    let tx = connection.savepoint()?;
    let taken = {
        let mut take = tx.prepare_cached(&NUMBERED.take_attempt)?;
        let mut rows = take.query(params_from_iter(take_attempt_params(request)))?;
        match rows.next()? {
            Some(row) => {
                let row = SqliteRow::new(row);
                Some((
                    challenge_from_row(&row)?,
                    row.column::<Option<String>>("stored_settings")?,
                ))
            }
            None => None,
        }
    };
    let Some((challenge, stored_settings)) = taken else {
        return Ok(TakenGuess::Unknown);
    };
    let policy = (judge.policy_of)(stored_settings.as_deref());
    if challenge.attempts > policy.max_code_attempts {
        return Ok(TakenGuess::Unknown);
    }
    let user = tx
        .prepare_cached(&NUMBERED.read_user)?
        .query_row([challenge.user_id.to_string()], |row| {
            Ok(user_from_row(&SqliteRow::new(row)))
        })
        .optional()?
        .transpose()?;
    let Some(user) = user.map(|found| found.user).filter(|user| user.active) else {
        return Ok(TakenGuess::Unknown);
    };
    let checked = {
        let mut read = tx.prepare_cached(&NUMBERED.methods_and_counts)?;
        let rows = read.query(params_from_iter(counts_params(&user, &policy, request)))?;
        checked_user(user, MethodsAndCounts::from_sqlite_rows(rows)?)
    };
    if !policy.guess_allowed(checked.recent_failures + 1) {
        let event = (judge.refusal)(checked.user.id, checked.recent_failures);
        tx.prepare_cached(&NUMBERED.insert_event)?
            .execute(params_from_iter(audit::event_params(&event)))?;
        tx.commit()?;
        return Ok(TakenGuess::Refused {
            user: checked.user.id,
            policy,
        });
    }
    let run = |sql: &str, params: Vec<Param>| -> Result<usize, StoreError> {
        Ok(tx.prepare_cached(sql)?.execute(params_from_iter(params))?)
    };
    let reserve = || run(&NUMBERED.reserve_guess, reserve_params(&checked, request));
    let right = match (judge.verdict)(&challenge, &checked, &policy) {
        Verdict::Later => {
            reserve()?;
            tx.commit()?;
            return Ok(TakenGuess::Reserved {
                challenge,
                checked,
                policy,
            });
        }
        Verdict::Wrong { event } => {
            reserve()?;
            run(&NUMBERED.insert_event, audit::event_params(&event))?;
            tx.commit()?;
            return Ok(TakenGuess::Wrong {
                user: checked.user.id,
            });
        }
        Verdict::Right(right) => right,
    };
    let writes = RightWrites::new(&right, request);
    if let Some(claim) = writes.claim_step
        && run(&NUMBERED.claim_step, claim)? != 1
    {
        reserve()?;
        run(
            &NUMBERED.insert_event,
            audit::event_params(&right.spent_event),
        )?;
        tx.commit()?;
        return Ok(TakenGuess::Wrong {
            user: checked.user.id,
        });
    }
    // This transaction took the challenge's attempt, so it is still open.
    run(&NUMBERED.complete_challenge, writes.complete_challenge)?;
    run(&NUMBERED.touch_last_login, writes.touch_last_login)?;
    run(&NUMBERED.insert_session, writes.insert_session)?;
    run(&NUMBERED.insert_event, writes.insert_event)?;
    tx.commit()?;
    let RightCode { spend, carry, .. } = *right;
    Ok(TakenGuess::LoggedIn {
        challenge,
        checked,
        policy,
        spent: spend,
        carry,
    })
}

/// The second transaction on the SQLite thread: the statements of `finish_login_on_postgres`.
fn finish_login_on_sqlite(
    connection: &mut rusqlite::Connection,
    finish: FinishStatements,
) -> Result<FinishedLogin, StoreError> {
    let tx = connection.savepoint()?;
    let run = |sql: &str, params: Vec<Param>| -> Result<usize, StoreError> {
        Ok(tx.prepare_cached(sql)?.execute(params_from_iter(params))?)
    };
    run(&NUMBERED.release_guess, finish.release_guess)?;
    if run(&NUMBERED.complete_challenge, finish.complete_challenge)? != 1 {
        tx.commit()?;
        return Ok(FinishedLogin::ChallengeGone);
    }
    run(&NUMBERED.touch_last_login, finish.touch_last_login)?;
    run(&NUMBERED.insert_session, finish.insert_session)?;
    if let Some(claim) = finish.claim_step
        && run(&NUMBERED.claim_step, claim)? != 1
    {
        // Dropped: nothing of this login stands, the guess stays a failure.
        return Ok(FinishedLogin::StepSpent);
    }
    run(&NUMBERED.insert_event, finish.insert_event)?;
    tx.commit()?;
    Ok(FinishedLogin::Done)
}

/// The parameters of the second transaction's statements, bound before it starts.
struct FinishStatements {
    release_guess: Vec<Param>,
    complete_challenge: Vec<Param>,
    touch_last_login: Vec<Param>,
    insert_session: Vec<Param>,
    claim_step: Option<Vec<Param>>,
    insert_event: Vec<Param>,
}

/// The parameters of a right code's writes in the first transaction.
struct RightWrites {
    complete_challenge: Vec<Param>,
    touch_last_login: Vec<Param>,
    insert_session: Vec<Param>,
    claim_step: Option<Vec<Param>>,
    insert_event: Vec<Param>,
}

impl RightWrites {
    fn new<T>(right: &RightCode<T>, request: &GuessRequest) -> Self {
        let now = right.session.now;
        Self {
            complete_challenge: vec![request.id_hash.as_str().into(), now.millis().into()],
            touch_last_login: touch_params(&right.session),
            insert_session: session_params(&right.session),
            claim_step: right
                .spend
                .as_ref()
                .map(|(method, step)| claim_params(method, *step, now)),
            insert_event: audit::event_params(&right.event),
        }
    }

    /// The parameters of `LOGIN_WRITES`.
    fn joined(self) -> Vec<Param> {
        [
            self.complete_challenge,
            self.touch_last_login,
            self.insert_session,
            self.insert_event,
        ]
        .concat()
    }
}

fn take_attempt_params(request: &GuessRequest) -> Vec<Param> {
    vec![
        request.id_hash.as_str().into(),
        request.now.millis().into(),
        request.settings_key.into(),
    ]
}

pub(super) fn counts_params(
    user: &User,
    policy: &TwoFactorPolicy,
    request: &GuessRequest,
) -> Vec<Param> {
    vec![
        user.id.to_string().into(),
        policy.failure_window_start(request.now).millis().into(),
        request.sent_context.as_str().into(),
    ]
}

pub(super) fn reserve_params(checked: &CheckedUser, request: &GuessRequest) -> Vec<Param> {
    vec![
        checked.user.id.to_string().into(),
        request.now.millis().into(),
        request.guess_id.as_str().into(),
    ]
}

/// One row of `METHODS_AND_COUNTS`: the counts repeat on every row; no method, one row of NULLs.
pub(super) struct MethodsAndCountsRow {
    recent_failures: i64,
    codes_sent: i64,
    method: Option<MethodRecord>,
}

impl MethodsAndCountsRow {
    pub(super) fn read(row: &impl Columns) -> Result<Self, StoreError> {
        Ok(Self {
            recent_failures: row.column("recent_failures")?,
            codes_sent: row.column("codes_sent")?,
            method: match row.column::<Option<String>>("id")? {
                Some(_) => Some(method_from_row(row)?),
                None => None,
            },
        })
    }
}

/// What `after_password` read.
#[derive(Debug)]
pub struct AfterPassword {
    pub policy: TwoFactorPolicy,
    pub methods: Vec<MethodRecord>,
    /// The user's failed codes within the policy's window.
    pub recent_failures: i64,
}

impl AfterPassword {
    fn new(policy: TwoFactorPolicy, read: MethodsAndCounts) -> Self {
        Self {
            policy,
            methods: read.methods,
            recent_failures: read.recent_failures,
        }
    }
}

/// What `METHODS_AND_COUNTS` read: the counts, which repeat on every row, and the methods.
pub(super) struct MethodsAndCounts {
    recent_failures: i64,
    codes_sent: i64,
    methods: Vec<MethodRecord>,
}

impl MethodsAndCounts {
    pub(super) fn from_rows(rows: Vec<MethodsAndCountsRow>) -> Result<Self, StoreError> {
        let first = rows.first().ok_or_else(|| {
            StoreError::Corrupt("the methods-and-counts query read no row".into())
        })?;
        let (recent_failures, codes_sent) = (first.recent_failures, first.codes_sent);
        Ok(Self {
            recent_failures,
            codes_sent,
            methods: rows.into_iter().filter_map(|row| row.method).collect(),
        })
    }

    fn from_any_rows(rows: &[sqlx::any::AnyRow]) -> Result<Self, StoreError> {
        Self::from_rows(
            rows.iter()
                .map(MethodsAndCountsRow::read)
                .collect::<Result<Vec<_>, _>>()?,
        )
    }

    fn from_sqlite_rows(mut rows: rusqlite::Rows<'_>) -> Result<Self, StoreError> {
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            read.push(MethodsAndCountsRow::read(&SqliteRow::new(row))?);
        }
        Self::from_rows(read)
    }
}

pub(super) fn checked_user(user: User, read: MethodsAndCounts) -> CheckedUser {
    CheckedUser {
        user,
        methods: read.methods,
        recent_failures: read.recent_failures,
        codes_sent: read.codes_sent > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_writes_only_if_claimed_by_one_more_condition() {
        assert_eq!(
            only_if_claimed("UPDATE users SET last_login_at = $2 WHERE id = $1"),
            "UPDATE users SET last_login_at = $2 WHERE id = $1 \
             AND EXISTS (SELECT 1 FROM claim)"
        );
    }

    #[test]
    fn an_insert_writes_only_if_claimed_by_selecting_its_values() {
        assert_eq!(
            only_if_claimed("INSERT INTO t (a, b) VALUES ($1, lower($2))"),
            "INSERT INTO t (a, b) SELECT $1, lower($2) WHERE EXISTS (SELECT 1 FROM claim)"
        );
    }

    #[test]
    fn the_claimed_login_writes_take_the_claim_and_then_the_four_writes_parameters() {
        let writes = [
            COMPLETE_CHALLENGE,
            TOUCH_LAST_LOGIN,
            INSERT_SESSION,
            audit::INSERT,
        ]
        .map(parameter_count)
        .iter()
        .sum::<usize>();
        assert_eq!(parameter_count(&LOGIN_WRITES), writes);
        assert_eq!(
            parameter_count(&CLAIMED_LOGIN_WRITES),
            parameter_count(CLAIM_STEP) + writes
        );
        assert_eq!(CLAIMED_LOGIN_WRITES.matches("FROM claim)").count(), 4);
    }
}
