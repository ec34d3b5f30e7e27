//! A user's second factors as one write transaction sees them, under the user's row lock: the
//! questions every change of them asks (a method, a key, any factor at all) and the recovery
//! codes that go with them. Shared by the methods' statements (`two_factor.rs`) and the keys'
//! (`webauthn.rs`), so that both follow one rule.

use sqlx::{Any, Transaction};

use super::StoreError;
use crate::clock::Instant;
use crate::domain::UserId;

/// Whether `user` has a key of one of `kinds` (`security_key`, `passkey`), in `tx`: the kinds
/// the settings let count.
pub(super) async fn has_keys_of(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    kinds: &[&str],
) -> Result<bool, StoreError> {
    let (first, second) = match kinds {
        [] => return Ok(false),
        [only] => (*only, *only),
        [first, second, ..] => (*first, *second),
    };
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM webauthn_credentials WHERE user_id = $1 AND kind IN ($2, $3) LIMIT 1",
    )
    .bind(user.to_string())
    .bind(first)
    .bind(second)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// Whether `user` has a security key or a passkey, in `tx`.
pub(super) async fn has_keys(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
) -> Result<bool, StoreError> {
    has_keys_of(tx, user, &["security_key", "passkey"]).await
}

/// Whether `user` has a second factor, in `tx`: a method, a security key or a passkey. Read
/// under the user's lock (`lock_user`) by every change of them.
pub(super) async fn has_second_factor(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
) -> Result<bool, StoreError> {
    let method: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM two_factor_methods WHERE user_id = $1 LIMIT 1")
            .bind(user.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(method.is_some() || has_keys(tx, user).await?)
}

/// Recovery codes exist exactly while second factors do: once the last method or key is gone
/// (in `tx`, under the user's lock), its recovery codes go too.
pub(super) async fn forget_recovery_codes_without_factors(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
) -> Result<(), StoreError> {
    if !has_second_factor(tx, user).await? {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Touches the user row first: on PostgreSQL this locks it, so two changes to one user's
/// methods run one after the other; on SQLite it takes the write lock at once.
pub(super) async fn lock_user(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1")
        .bind(user.to_string())
        .bind(now.millis())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn insert_recovery_codes(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    hashes: &[String],
    now: Instant,
) -> Result<(), StoreError> {
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user.to_string())
        .bind(hash.clone())
        .bind(now.millis())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
