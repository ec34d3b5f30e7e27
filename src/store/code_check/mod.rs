//! A login's code check. Its sequence is written once, in the service that judges the code
//! (`two_factor::guess`), against `GuessStatements`; the store supplies the statements and the
//! place where they run, and decides nothing:
//! - `sqlite`: the whole transaction on the SQLite thread (one hand-off instead of one per
//!   statement, and a share of the thread's group commit);
//! - `postgres`: on one PostgreSQL connection, a round trip per statement;
//! - `group`: PostgreSQL checks that arrive together, each statement one set-based statement
//!   for the whole group.
//!
//! A check is two transactions at most: `check_guess` takes an attempt, counts the guess as a
//! failure before the code is compared (so simultaneous guesses count against each other) and,
//! when the user's row is enough to judge the code, completes the login; `finish_check`
//! completes a login whose code needed more reads. Locks are taken in one order — challenge,
//! then user, then method — so that two checks (or a check and a change of the user's
//! methods) never wait on each other in a circle.

mod after_password;
mod group;
mod postgres;
mod sqlite;
mod statements;

use std::future::Future;

pub(super) use group::CheckGroups;

use super::TwoFactorStore;
use super::sessions::NewSession;
use super::two_factor::{MethodRecord, NewChallenge};
use super::{ChallengeRecord, StoreError};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{Channel, GroupId, MethodId, User, UserId};

/// The statements of a code check's first transaction. Each runs inside the check's
/// transaction; `commit` or `rollback` ends it.
pub trait GuessStatements: Send {
    /// Takes one attempt from the challenge `id_hash` if it is open and unexpired at `now`, and
    /// reads its user, with the settings stored under `settings_key`. The user's row is locked
    /// until the end of the transaction, so that one user's guesses count one after another.
    /// None: no such challenge, or its user is gone.
    fn take_attempt(
        &mut self,
        id_hash: &str,
        now: Instant,
        settings_key: &'static str,
    ) -> impl Future<Output = Result<Option<TakenAttempt>, StoreError>> + Send;

    /// The user's methods, their failed codes since `since`, and whether a code sent for
    /// `context` is pending. Read after the lock, so every guess committed before it counts.
    fn methods_and_counts(
        &mut self,
        user: UserId,
        since: Instant,
        context: &str,
    ) -> impl Future<Output = Result<MethodsAndCounts, StoreError>> + Send;

    /// Spends an authenticator's time step unless that step or a later one already was: true
    /// when this check spent it.
    fn claim_step(
        &mut self,
        method: &MethodId,
        step: u64,
        now: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes `writes`; the attempt taken and everything written stand.
    fn commit(self, writes: GuessWrites) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Nothing of the transaction stands, not even the attempt taken.
    fn rollback(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The statements of the second transaction, which completes a login whose guess the first
/// one reserved.
pub trait FinishStatements: GuessStatements {
    /// Deletes the failure that stood for the guess `guess_id`.
    fn release_guess(
        &mut self,
        guess_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Completes the challenge `id_hash` at `at`: false when it was already completed.
    fn complete_challenge(
        &mut self,
        id_hash: &str,
        at: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that a sent code of a method finished a login at `at`.
    fn mark_used(
        &mut self,
        used: &MethodUse,
        at: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Spends the user's access code whose digest is `code_hash` if it is unexpired at
    /// `event.at`, and records `event` with the code's id: one conditional DELETE, so of
    /// concurrent uses one spends it. True when this one did.
    fn spend_access_code(
        &mut self,
        user: UserId,
        code_hash: &str,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Spends `user`'s second-factor WebAuthn ceremony `ceremony`, given for the login
    /// `id_hash`, unless it expired by `at` or was spent: true when this one spent it.
    fn spend_key_ceremony(
        &mut self,
        ceremony: &str,
        user: UserId,
        id_hash: &str,
        at: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves `user`'s WebAuthn credential `id` forward to `counter` (with its serialised
    /// `blob`), used at `at`: false when the stored counter is already there or past it, or
    /// the credential is gone.
    fn use_key(
        &mut self,
        user: UserId,
        id: &str,
        counter: i64,
        blob: &str,
        at: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks the open challenge `id_hash` as let through by an access code at `at`, its expiry
    /// moved to `until` if that is later: false when it was already completed.
    fn open_enrolment(
        &mut self,
        id_hash: &str,
        at: Instant,
        until: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The method a sent code came to, and for a phone the channel it came by.
#[derive(Debug, Clone)]
pub struct MethodUse {
    pub method: MethodId,
    pub channel: Option<Channel>,
}

/// A code check's first transaction, as the service writes it. The store runs it on the
/// statements of the backend, and may run it again (alone) when a group had to leave it out
/// before it wrote anything. It waits on nothing but its statements: the SQLite thread runs it
/// to its end in one go, and a group polls it again only once a statement has answered.
pub trait GuessTransaction: Send + Sync + 'static {
    type Output: Send + 'static;

    fn run<S: GuessStatements>(
        &self,
        statements: S,
    ) -> impl Future<Output = Result<Self::Output, StoreError>> + Send;
}

/// A code check's second transaction, as the service writes it.
pub trait FinishTransaction: Send + 'static {
    type Output: Send + 'static;

    fn run<S: FinishStatements>(
        self,
        statements: S,
    ) -> impl Future<Output = Result<Self::Output, StoreError>> + Send;
}

/// The statements of a login's step after its password.
pub trait PasswordStepStatements: Send {
    /// What is stored under the settings key `key`.
    fn read_setting(
        &mut self,
        key: &'static str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The user's methods and their failed codes since `since`.
    fn methods_and_counts(
        &mut self,
        user: UserId,
        since: Instant,
    ) -> impl Future<Output = Result<MethodsAndCounts, StoreError>> + Send;

    /// The kinds of the user's WebAuthn credentials (`security_key`, `passkey`), each once:
    /// those the settings allow are second factors the login may ask for.
    fn security_keys(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The ids of the user's groups (read only when the settings name groups).
    fn group_ids(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<GroupId>, StoreError>> + Send;

    /// Opens `challenge`, if any, and ends the step.
    fn finish(
        self,
        challenge: Option<NewChallenge>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A login's step after its password, as the service writes it.
pub trait PasswordStep: Send + 'static {
    type Output: Send + 'static;

    fn run<S: PasswordStepStatements>(
        self,
        statements: S,
    ) -> impl Future<Output = Result<Self::Output, StoreError>> + Send;
}

/// The context of a login's step after its password: no verification has an empty context,
/// so no code counts as sent.
const NO_CONTEXT: &str = "";

/// A challenge whose attempt was taken, and its user.
#[derive(Debug)]
pub struct TakenAttempt {
    /// Its `attempts` count this one.
    pub challenge: ChallengeRecord,
    pub user: User,
    /// What is stored under the settings key, if anything.
    pub stored_settings: Option<String>,
}

/// What `methods_and_counts` read.
#[derive(Debug)]
pub struct MethodsAndCounts {
    pub methods: Vec<MethodRecord>,
    /// The user's failed codes since the instant asked for.
    pub recent_failures: i64,
    /// Whether a code sent for the context asked for is pending.
    pub codes_sent: bool,
}

/// A guess counted as a failure until a second transaction releases it.
#[derive(Debug, Clone)]
pub struct ReservedGuess {
    pub user: UserId,
    pub guess_id: String,
    pub at: Instant,
}

/// What a code check's transaction writes when it commits.
#[derive(Debug, Default)]
pub struct GuessWrites {
    /// The challenge the attempt was taken from completes at this instant.
    pub complete_challenge: Option<Instant>,
    pub reserve: Option<ReservedGuess>,
    /// The session a right code opens; the user's last login moves to its start.
    pub login: Option<NewSession>,
    pub event: Option<AuditEvent>,
}

impl TwoFactorStore {
    /// Runs a code check's first transaction (see the module's notes).
    pub async fn check_guess<G: GuessTransaction>(
        &self,
        guess: G,
    ) -> Result<G::Output, StoreError> {
        if let Some(thread) = &self.store.shared.sqlite_thread {
            return thread
                .run(move |connection| {
                    sqlite::run_now(guess.run(sqlite::SqliteStatements::begin(connection)?))
                })
                .await;
        }
        match &self.store.shared.check_groups {
            Some(groups) => groups.submit(guess).await,
            None => {
                let mut connection = self.store.pool().acquire().await?;
                let statements = postgres::PostgresStatements::begin(&mut connection).await?;
                guess.run(statements).await
            }
        }
    }

    /// Runs a code check's second transaction.
    pub async fn finish_check<F: FinishTransaction>(
        &self,
        finish: F,
    ) -> Result<F::Output, StoreError> {
        if let Some(thread) = &self.store.shared.sqlite_thread {
            return thread
                .run(move |connection| {
                    sqlite::run_now(finish.run(sqlite::SqliteStatements::begin(connection)?))
                })
                .await;
        }
        let mut connection = self.store.writes().acquire().await?;
        let statements = postgres::PostgresStatements::begin(&mut connection).await?;
        finish.run(statements).await
    }
}
