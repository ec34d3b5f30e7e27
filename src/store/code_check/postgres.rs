//! A code check's statements on one PostgreSQL connection: a round trip each, the writes of
//! `commit` joined into one statement.

use sqlx::{Any, AnyConnection, Connection, Transaction};

use super::super::audit::INSERT as INSERT_EVENT;
use super::super::row::{Columns, bind_all, joined_with_params};
use super::super::two_factor::{CLAIM_STEP, challenge_from_row, claim_params};
use super::super::users::user_from_row;
use super::statements::{
    COMPLETE_CHALLENGE, MARK_USED, METHODS_AND_COUNTS, MethodsAndCountsRow, OPEN_ENROLMENT,
    RELEASE_GUESS, SPEND_ACCESS_CODE, SPEND_SECOND_FACTOR, TAKE_ATTEMPT_LOCK_USER, USE_CREDENTIAL,
    complete_params, counts_params, mark_used_params, open_enrolment_params, second_factor_params,
    spend_params, spent_event, take_attempt_params, use_params,
};
use super::{
    FinishStatements, GuessStatements, GuessWrites, MethodUse, MethodsAndCounts, StoreError,
    TakenAttempt,
};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{MethodId, UserId};

pub(super) struct PostgresStatements<'c> {
    tx: Transaction<'c, Any>,
    /// The challenge whose attempt was taken (or which was completed).
    id_hash: String,
}

impl<'c> PostgresStatements<'c> {
    pub(super) async fn begin(connection: &'c mut AnyConnection) -> Result<Self, StoreError> {
        Ok(Self {
            tx: connection.begin().await?,
            id_hash: String::new(),
        })
    }
}

/// `statements::METHODS_AND_COUNTS` on `connection`.
pub(super) async fn methods_and_counts_on(
    connection: &mut AnyConnection,
    user: UserId,
    since: Instant,
    context: &str,
) -> Result<MethodsAndCounts, StoreError> {
    let rows = bind_all(
        sqlx::query(&METHODS_AND_COUNTS),
        counts_params(user, since, context),
    )
    .fetch_all(connection)
    .await?;
    MethodsAndCounts::from_rows(
        rows.iter()
            .map(MethodsAndCountsRow::read)
            .collect::<Result<_, _>>()?,
    )
}

impl GuessStatements for PostgresStatements<'_> {
    async fn take_attempt(
        &mut self,
        id_hash: &str,
        now: Instant,
        settings_key: &'static str,
    ) -> Result<Option<TakenAttempt>, StoreError> {
        let row = bind_all(
            sqlx::query(&TAKE_ATTEMPT_LOCK_USER),
            take_attempt_params(id_hash, now, settings_key),
        )
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        id_hash.clone_into(&mut self.id_hash);
        Ok(Some(TakenAttempt {
            challenge: challenge_from_row(&row)?,
            user: user_from_row(&row)?.user,
            stored_settings: row.column("stored_settings")?,
        }))
    }

    async fn methods_and_counts(
        &mut self,
        user: UserId,
        since: Instant,
        context: &str,
    ) -> Result<MethodsAndCounts, StoreError> {
        methods_and_counts_on(&mut self.tx, user, since, context).await
    }

    async fn claim_step(
        &mut self,
        method: &MethodId,
        step: u64,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let claimed = bind_all(sqlx::query(CLAIM_STEP), claim_params(method, step, now))
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        Ok(claimed == 1)
    }

    async fn commit(mut self, writes: GuessWrites) -> Result<(), StoreError> {
        let statements = writes.statements(&self.id_hash);
        if !statements.is_empty() {
            // One statement: one round trip, written whole or not at all.
            let (sql, params) = joined_with_params(statements);
            bind_all(sqlx::query(&sql), params)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }

    async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl FinishStatements for PostgresStatements<'_> {
    async fn release_guess(&mut self, guess_id: &str) -> Result<(), StoreError> {
        bind_all(sqlx::query(RELEASE_GUESS), vec![guess_id.into()])
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn complete_challenge(&mut self, id_hash: &str, at: Instant) -> Result<bool, StoreError> {
        id_hash.clone_into(&mut self.id_hash);
        let completed = bind_all(
            sqlx::query(COMPLETE_CHALLENGE),
            complete_params(id_hash, at),
        )
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(completed == 1)
    }

    async fn mark_used(&mut self, used: &MethodUse, at: Instant) -> Result<(), StoreError> {
        bind_all(sqlx::query(MARK_USED), mark_used_params(used, at))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn spend_access_code(
        &mut self,
        user: UserId,
        code_hash: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let spent = bind_all(
            sqlx::query(SPEND_ACCESS_CODE),
            spend_params(user, code_hash, event.at),
        )
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(row) = spent else {
            return Ok(false);
        };
        bind_all(
            sqlx::query(INSERT_EVENT),
            spent_event(event, row.column("id")?),
        )
        .execute(&mut *self.tx)
        .await?;
        Ok(true)
    }

    async fn open_enrolment(
        &mut self,
        id_hash: &str,
        at: Instant,
        until: Instant,
    ) -> Result<bool, StoreError> {
        let opened = bind_all(
            sqlx::query(OPEN_ENROLMENT),
            open_enrolment_params(id_hash, at, until),
        )
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(opened == 1)
    }

    async fn spend_key_ceremony(
        &mut self,
        ceremony: &str,
        user: UserId,
        id_hash: &str,
        at: Instant,
    ) -> Result<bool, StoreError> {
        let spent = bind_all(
            sqlx::query(SPEND_SECOND_FACTOR),
            second_factor_params(ceremony, user, id_hash, at),
        )
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(spent == 1)
    }

    async fn use_key(
        &mut self,
        user: UserId,
        id: &str,
        counter: i64,
        blob: &str,
        at: Instant,
    ) -> Result<bool, StoreError> {
        let moved = bind_all(
            sqlx::query(USE_CREDENTIAL),
            use_params(user, id, counter, blob, at),
        )
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(moved == 1)
    }
}
