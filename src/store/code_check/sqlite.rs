//! A code check's statements on the SQLite thread: each a prepared statement of the thread's
//! connection, the whole transaction one savepoint of the thread's group transaction.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::super::groups::{GROUP_IDS_OF_USER, group_ids_from};
use super::super::row::{Columns, Param, SqliteRow, sqlite_numbered};
use super::super::two_factor::NewChallenge;
use super::super::two_factor::{challenge_from_row, claim_params};
use super::super::users::user_from_row;
use super::statements::{
    MethodsAndCountsRow, NUMBERED, complete_params, counts_params, mark_used_params,
    open_enrolment_params, second_factor_params, spend_params, spent_event, take_attempt_params,
    use_params,
};
use super::{
    FinishStatements, GuessStatements, GuessWrites, MethodUse, MethodsAndCounts, NO_CONTEXT,
    PasswordStepStatements, StoreError, TakenAttempt,
};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{GroupId, MethodId, UserId};

const SAVEPOINT: &str = "SAVEPOINT code_check";
const RELEASE: &str = "RELEASE code_check";
const ROLL_BACK: &str = "ROLLBACK TO code_check; RELEASE code_check";

/// Runs a transaction written against the statements to its end: SQLite's statements never
/// wait, so it is done at its first poll.
pub(super) fn run_now<T>(
    transaction: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let mut transaction = pin!(transaction);
    match transaction
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(outcome) => outcome,
        // Dropped unfinished: its savepoint rolls back.
        Poll::Pending => Err(StoreError::Corrupt(
            "a code check on the SQLite thread waited on something other than SQLite".into(),
        )),
    }
}

/// A savepoint on the thread's connection: it rolls back when dropped before `commit`.
pub(super) struct SqliteStatements<'c> {
    connection: &'c mut Connection,
    /// The challenge whose attempt was taken (or which was completed).
    id_hash: String,
    open: bool,
}

impl<'c> SqliteStatements<'c> {
    pub(super) fn begin(connection: &'c mut Connection) -> Result<Self, StoreError> {
        connection.execute_batch(SAVEPOINT)?;
        Ok(Self {
            connection,
            id_hash: String::new(),
            open: true,
        })
    }

    fn execute(&self, sql: &str, params: Vec<Param>) -> Result<usize, StoreError> {
        Ok(self
            .connection
            .prepare_cached(sql)?
            .execute(params_from_iter(params))?)
    }

    fn end(&mut self, sql: &str) -> Result<(), StoreError> {
        self.open = false;
        self.connection.execute_batch(sql)?;
        Ok(())
    }
}

impl Drop for SqliteStatements<'_> {
    fn drop(&mut self) {
        if self.open {
            // An error here leaves SQLite to roll the thread's group back, which it reports.
            let _ = self.end(ROLL_BACK);
        }
    }
}

impl GuessStatements for SqliteStatements<'_> {
    async fn take_attempt(
        &mut self,
        id_hash: &str,
        now: Instant,
        settings_key: &'static str,
    ) -> Result<Option<TakenAttempt>, StoreError> {
        let taken = {
            let mut take = self.connection.prepare_cached(&NUMBERED.take_attempt)?;
            let mut rows = take.query(params_from_iter(take_attempt_params(
                id_hash,
                now,
                settings_key,
            )))?;
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
            return Ok(None);
        };
        let user = self
            .connection
            .prepare_cached(&NUMBERED.read_user)?
            .query_row([challenge.user_id.to_string()], |row| {
                Ok(user_from_row(&SqliteRow::new(row)))
            })
            .optional()?
            .transpose()?;
        let Some(user) = user else {
            return Ok(None);
        };
        id_hash.clone_into(&mut self.id_hash);
        Ok(Some(TakenAttempt {
            challenge,
            user: user.user,
            stored_settings,
        }))
    }

    async fn methods_and_counts(
        &mut self,
        user: UserId,
        since: Instant,
        context: &str,
    ) -> Result<MethodsAndCounts, StoreError> {
        let mut read = self
            .connection
            .prepare_cached(&NUMBERED.methods_and_counts)?;
        let mut rows = read.query(params_from_iter(counts_params(user, since, context)))?;
        let mut counted = Vec::new();
        while let Some(row) = rows.next()? {
            counted.push(MethodsAndCountsRow::read(&SqliteRow::new(row))?);
        }
        MethodsAndCounts::from_rows(counted)
    }

    async fn claim_step(
        &mut self,
        method: &MethodId,
        step: u64,
        now: Instant,
    ) -> Result<bool, StoreError> {
        Ok(self.execute(&NUMBERED.claim_step, claim_params(method, step, now))? == 1)
    }

    async fn commit(mut self, writes: GuessWrites) -> Result<(), StoreError> {
        for (sql, params) in writes.statements(&self.id_hash) {
            self.execute(&sqlite_numbered(sql), params)?;
        }
        self.end(RELEASE)
    }

    async fn rollback(mut self) -> Result<(), StoreError> {
        self.end(ROLL_BACK)
    }
}

impl FinishStatements for SqliteStatements<'_> {
    async fn release_guess(&mut self, guess_id: &str) -> Result<(), StoreError> {
        self.execute(&NUMBERED.release_guess, vec![guess_id.into()])?;
        Ok(())
    }

    async fn complete_challenge(&mut self, id_hash: &str, at: Instant) -> Result<bool, StoreError> {
        id_hash.clone_into(&mut self.id_hash);
        Ok(self.execute(&NUMBERED.complete_challenge, complete_params(id_hash, at))? == 1)
    }

    async fn mark_used(&mut self, used: &MethodUse, at: Instant) -> Result<(), StoreError> {
        self.execute(&NUMBERED.mark_used, mark_used_params(used, at))?;
        Ok(())
    }

    async fn spend_access_code(
        &mut self,
        user: UserId,
        code_hash: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let spent: Option<String> = self
            .connection
            .prepare_cached(&NUMBERED.spend_access_code)?
            .query_row(
                params_from_iter(spend_params(user, code_hash, event.at)),
                |row| row.get(0),
            )
            .optional()?;
        let Some(id) = spent else {
            return Ok(false);
        };
        self.execute(&NUMBERED.record_event, spent_event(event, id))?;
        Ok(true)
    }

    async fn open_enrolment(
        &mut self,
        id_hash: &str,
        at: Instant,
        until: Instant,
    ) -> Result<bool, StoreError> {
        let params = open_enrolment_params(id_hash, at, until);
        Ok(self.execute(&NUMBERED.open_enrolment, params)? == 1)
    }

    async fn spend_key_ceremony(
        &mut self,
        ceremony: &str,
        user: UserId,
        id_hash: &str,
        at: Instant,
    ) -> Result<bool, StoreError> {
        let params = second_factor_params(ceremony, user, id_hash, at);
        Ok(self.execute(&NUMBERED.spend_key_ceremony, params)? == 1)
    }

    async fn use_key(
        &mut self,
        user: UserId,
        id: &str,
        counter: i64,
        blob: &str,
        at: Instant,
    ) -> Result<bool, StoreError> {
        let params = use_params(user, id, counter, blob, at);
        Ok(self.execute(&NUMBERED.use_key, params)? == 1)
    }
}

impl PasswordStepStatements for SqliteStatements<'_> {
    async fn read_setting(&mut self, key: &'static str) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection
            .prepare_cached(&NUMBERED.read_setting)?
            .query_row([key], |row| row.get(0))
            .optional()?)
    }

    async fn methods_and_counts(
        &mut self,
        user: UserId,
        since: Instant,
    ) -> Result<MethodsAndCounts, StoreError> {
        GuessStatements::methods_and_counts(self, user, since, NO_CONTEXT).await
    }

    async fn security_keys(&mut self, user: UserId) -> Result<Vec<String>, StoreError> {
        let mut read = self.connection.prepare_cached(&NUMBERED.security_keys)?;
        Ok(read
            .query_map([user.to_string()], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn group_ids(&mut self, user: UserId) -> Result<Vec<GroupId>, StoreError> {
        let mut read = self
            .connection
            .prepare_cached(&sqlite_numbered(GROUP_IDS_OF_USER))?;
        let ids = read
            .query_map([user.to_string()], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        group_ids_from(&ids)
    }

    async fn finish(mut self, challenge: Option<NewChallenge>) -> Result<(), StoreError> {
        for (sql, params) in challenge.map(NewChallenge::writes).unwrap_or_default() {
            self.execute(&sqlite_numbered(sql), params)?;
        }
        self.end(RELEASE)
    }
}
