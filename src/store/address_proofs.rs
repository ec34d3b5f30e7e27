//! An address proven by the use of something sent to it (an invitation's link, an email
//! method's code), verified inside the transaction of that use: by the statement that records
//! the use, while the address is still the user's and unverified.

use sqlx::{Any, Transaction};

use super::{StoreError, audit};
use crate::audit::AuditEvent;
use crate::domain::UserId;

/// An address proven by the use of something sent to it (an invitation's link, an email
/// method's code), with the event of its verification.
#[derive(Debug, Clone, Copy)]
pub struct ProvenAddress<'a> {
    pub email_key: &'a str,
    pub event: &'a AuditEvent,
}

/// Verifies `user`'s address in `tx` while it is still the proven one and unverified, with the
/// event: true when it was so.
pub(super) async fn verify_proven(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    proven: ProvenAddress<'_>,
) -> Result<bool, StoreError> {
    let now = proven.event.at;
    let marked = sqlx::query(
        "UPDATE users SET email_verified_at = $3, updated_at = $3 \
         WHERE id = $1 AND email_key = $2 AND email_verified_at IS NULL",
    )
    .bind(user.to_string())
    .bind(proven.email_key.to_owned())
    .bind(now.millis())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if marked == 1 {
        audit::record(tx, proven.event).await?;
    }
    Ok(marked == 1)
}
