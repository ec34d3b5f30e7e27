//! What a login reads once the password proved right, and the challenge it may open with
//! those reads: on SQLite one job of the thread instead of two (each hand-off takes a core from
//! a password hash), on PostgreSQL one connection without a transaction (the challenge is one
//! statement).

use sqlx::AnyConnection;

use super::super::StoreError;
use super::super::TwoFactorStore;
use super::super::groups::{GROUP_IDS_OF_USER, group_ids_from};
use super::super::row::{bind_all, joined_with_params};
use super::super::two_factor::NewChallenge;
use super::postgres::methods_and_counts_on;
use super::sqlite::{SqliteStatements, run_now};
use super::statements::{READ_SETTING, SECURITY_KEYS};
use super::{MethodsAndCounts, NO_CONTEXT, PasswordStep, PasswordStepStatements};
use crate::clock::Instant;
use crate::domain::{GroupId, UserId};

impl TwoFactorStore {
    /// Runs a login's step after its password.
    pub async fn after_password<P: PasswordStep>(&self, step: P) -> Result<P::Output, StoreError> {
        match &self.store.shared.sqlite_thread {
            Some(thread) => {
                thread
                    .run(move |connection| run_now(step.run(SqliteStatements::begin(connection)?)))
                    .await
            }
            None => {
                // One connection for the reads and the write: each acquire tests the
                // connection first.
                let mut connection = self.store.pool().acquire().await?;
                step.run(PostgresStep {
                    connection: &mut connection,
                })
                .await
            }
        }
    }
}

struct PostgresStep<'c> {
    connection: &'c mut AnyConnection,
}

impl PasswordStepStatements for PostgresStep<'_> {
    async fn read_setting(&mut self, key: &'static str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(READ_SETTING)
            .bind(key)
            .fetch_optional(&mut *self.connection)
            .await?)
    }

    async fn methods_and_counts(
        &mut self,
        user: UserId,
        since: Instant,
    ) -> Result<MethodsAndCounts, StoreError> {
        methods_and_counts_on(self.connection, user, since, NO_CONTEXT).await
    }

    async fn security_keys(&mut self, user: UserId) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SECURITY_KEYS)
            .bind(user.to_string())
            .fetch_all(&mut *self.connection)
            .await?)
    }

    async fn group_ids(&mut self, user: UserId) -> Result<Vec<GroupId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(GROUP_IDS_OF_USER)
            .bind(user.to_string())
            .fetch_all(&mut *self.connection)
            .await?;
        group_ids_from(&ids)
    }

    async fn finish(self, challenge: Option<NewChallenge>) -> Result<(), StoreError> {
        if let Some(challenge) = challenge {
            // One statement: written whole or not at all.
            let (sql, params) = joined_with_params(challenge.writes());
            bind_all(sqlx::query(&sql), params)
                .execute(&mut *self.connection)
                .await?;
        }
        Ok(())
    }
}
