//! What a login reads once the password proved right, and the challenge it may open with
//! those reads.

use rusqlite::{OptionalExtension, params_from_iter};

use super::super::row::{SqliteRow, bind_all, joined_with_params, sqlite_numbered};
use super::super::two_factor::{MethodRecord, NewChallenge};
use super::super::{Store, StoreError};
use super::MethodsAndCounts;
use super::statements::{
    METHODS_AND_COUNTS, MethodsAndCountsRow, NUMBERED, READ_SETTING, counts_params,
};
use crate::clock::Instant;
use crate::domain::UserId;
use crate::policy::TwoFactorPolicy;

impl Store {
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
        // No verification has an empty context: no code counts as sent.
        let counts = move |policy: &TwoFactorPolicy| {
            counts_params(user, policy.failure_window_start(now), "")
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
                            let mut rows = read.query(params_from_iter(counts(&policy)))?;
                            let mut counted = Vec::new();
                            while let Some(row) = rows.next()? {
                                counted.push(MethodsAndCountsRow::read(&SqliteRow::new(row))?);
                            }
                            AfterPassword::new(policy, MethodsAndCounts::from_rows(counted)?)
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
                let counted = rows
                    .iter()
                    .map(MethodsAndCountsRow::read)
                    .collect::<Result<_, _>>()?;
                let read = AfterPassword::new(policy, MethodsAndCounts::from_rows(counted)?);
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
