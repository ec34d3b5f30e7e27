//! WebAuthn: credentials (security keys, passkeys) per user, and the ceremonies begun and not
//! yet finished, each spent once by the statement that keeps what it made.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::factors::{
    forget_recovery_codes_without_factors, has_keys_of, has_second_factor, insert_recovery_codes,
    lock_user,
};
use super::row::bind_all;
use super::sessions::{INSERT_SESSION, NewSession, TOUCH_LAST_LOGIN, session_params, touch_params};
use super::trusted_computers::revoke_trusts;
use super::{NewRecoveryCodes, StoreError, Trusts, WebauthnStore, audit, flag};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{MethodKind, UserId};

/// A ceremony to keep until it is finished or expires.
#[derive(Debug, Clone)]
pub struct NewCeremony {
    /// The SHA-256 (hex) of its challenge.
    pub id: String,
    /// None: a passkey sign-in, whose user the credential names.
    pub user: Option<UserId>,
    /// `registration`, `passkey_registration`, `authentication`, `second_factor` or `passkey`.
    pub purpose: &'static str,
    /// A second factor's: the digest of the login's `twoFactorId`.
    pub login_id_hash: Option<String>,
    pub name: String,
    pub display_name: String,
    /// webauthn-rs's state, serialised.
    pub state: String,
    pub created_at: Instant,
    pub expires_at: Instant,
}

/// A ceremony as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRecord {
    pub id: String,
    pub user_id: Option<UserId>,
    pub purpose: String,
    pub login_id_hash: Option<String>,
    pub name: String,
    pub display_name: String,
    pub state: String,
    pub expires_at: Instant,
    pub used_at: Option<Instant>,
}

/// A credential as its owner's list shows it, with what a login needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// Its public id (a UUID), which the API and its events name.
    pub id: String,
    pub user_id: UserId,
    /// The authenticator's credential id, base64url.
    pub credential_id: String,
    /// `security_key` or `passkey`.
    pub kind: String,
    pub name: String,
    pub display_name: String,
    /// webauthn-rs's credential, serialised.
    pub credential: String,
    pub counter: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: Instant,
    pub last_used_at: Option<Instant>,
}

/// How keeping a registered credential ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredCredential {
    /// Kept; `first`: the user had no second factor before, and the recovery codes given were
    /// stored with it.
    Stored { first: bool },
    /// The ceremony was spent (or expired) meanwhile: nothing was written.
    CeremonyGone,
    /// That credential id is registered already: nothing was written.
    Duplicate,
    /// At a login: the user has a second factor the login must be finished with; nothing was
    /// written.
    Refused,
    /// At a login: it finished, expired, ran out of attempts or enrolled another factor
    /// meanwhile; nothing was written.
    LoginGone,
}

/// How a use of a credential at a login or an assertion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedCredential {
    Used,
    /// The ceremony was spent (or expired) meanwhile: nothing was written.
    CeremonyGone,
    /// The stored counter is already at or past the one signed (a cloned key, or a replay
    /// that won no race), or the key was removed meanwhile: nothing was written.
    CounterBehind,
    /// A passkey sign-in's user is disabled (or gone): nothing was written.
    UserInactive,
    /// The session a re-authentication was for ended meanwhile: nothing was written.
    SessionEnded,
}

/// What a key's registration or removal changes beside the key, in its transaction: a change
/// of second factors (`two_factor::AFTER_A_FACTOR_CHANGE`).
#[derive(Debug, Clone, Copy)]
pub struct KeyChange<'a> {
    pub trusts: Trusts,
    /// A registration's: the recovery codes (their hashes) stored as `recovery` says: when the
    /// key is the user's first second factor, or in place of the user's set.
    pub recovery_hashes: &'a [String],
    pub recovery: NewRecoveryCodes,
    /// A registration during a login that must enrol: the login it lets finish.
    pub at_login: Option<KeyAtLogin<'a>>,
}

/// The login a key registered during it lets finish: its challenge keeps the completion code,
/// set in the key's transaction while the login is live and has enrolled nothing yet.
#[derive(Debug, Clone, Copy)]
pub struct KeyAtLogin<'a> {
    /// The digest of the login's `twoFactorId`.
    pub id_hash: &'a str,
    pub completion_hash: &'a str,
    pub max_attempts: i64,
    /// Refused if the user has a second factor by then: a method of one of these kinds, or a
    /// key of a kind in `keys_beside`. None: nothing refuses it.
    pub refused_beside: Option<&'a [MethodKind]>,
    /// The kinds of key the settings let count (`security_key`, `passkey`).
    pub keys_beside: &'a [&'static str],
}

/// A session that proved a second factor with a key (re-authentication): its methods from now
/// on, written with its event in the transaction that spends the ceremony.
#[derive(Debug, Clone, Copy)]
pub struct SessionProof<'a> {
    pub session_id: &'a str,
    pub amr: &'a [String],
    pub event: &'a AuditEvent,
}

const CEREMONY_COLUMNS: &str =
    "id, user_id, purpose, login_id_hash, name, display_name, state, expires_at, used_at";
const CREDENTIAL_COLUMNS: &str = "id, user_id, credential_id, kind, name, display_name, \
     credential, counter, backup_eligible, backup_state, created_at, last_used_at";

impl WebauthnStore {
    pub async fn insert_ceremony(&self, new: &NewCeremony) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webauthn_challenges \
             (id, user_id, purpose, name, display_name, state, created_at, expires_at, \
              login_id_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new.id.clone())
        .bind(new.user.map(|u| u.to_string()))
        .bind(new.purpose)
        .bind(new.name.clone())
        .bind(new.display_name.clone())
        .bind(new.state.clone())
        .bind(new.created_at.millis())
        .bind(new.expires_at.millis())
        .bind(new.login_id_hash.clone())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    /// The ceremony `id`, spent or not, expired or not (the service judges).
    pub async fn ceremony(&self, id: &str) -> Result<Option<CeremonyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CEREMONY_COLUMNS} FROM webauthn_challenges WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(ceremony_from_row).transpose()
    }

    /// Keeps `new` with `event`, spending the registration ceremony `ceremony` (of `purpose`) in the same
    /// transaction: one conditional UPDATE, so that of two finishes only one keeps a key. Under
    /// the user's lock, as a method's enrolment: `change` says what else it changes.
    pub async fn insert_credential(
        &self,
        ceremony: &str,
        purpose: &str,
        new: &CredentialRecord,
        change: KeyChange<'_>,
        event: &AuditEvent,
    ) -> Result<StoredCredential, StoreError> {
        let now = event.at.millis();
        let user = new.user_id;
        let mut tx = self.store.writes().begin().await?;
        lock_user(&mut tx, user, event.at).await?;
        if !spend_ceremony(&mut tx, ceremony, Some(user), purpose, now).await? {
            tx.rollback().await?;
            return Ok(StoredCredential::CeremonyGone);
        }
        let first = !has_second_factor(&mut tx, user).await?;
        if let Some(login) = change.at_login {
            if let Some(kinds) = login.refused_beside
                && (has_keys_of(&mut tx, user, login.keys_beside).await?
                    || has_method_of(&mut tx, user, kinds).await?)
            {
                tx.rollback().await?;
                return Ok(StoredCredential::Refused);
            }
            if !let_login_finish(&mut tx, user, login, now).await? {
                tx.rollback().await?;
                return Ok(StoredCredential::LoginGone);
            }
        }
        let kept = sqlx::query(
            "INSERT INTO webauthn_credentials \
             (id, user_id, credential_id, kind, name, display_name, credential, counter, \
              backup_eligible, backup_state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(new.id.clone())
        .bind(new.user_id.to_string())
        .bind(new.credential_id.clone())
        .bind(new.kind.clone())
        .bind(new.name.clone())
        .bind(new.display_name.clone())
        .bind(new.credential.clone())
        .bind(new.counter)
        .bind(flag(new.backup_eligible))
        .bind(flag(new.backup_state))
        .bind(new.created_at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if kept == 0 {
            tx.rollback().await?;
            return Ok(StoredCredential::Duplicate);
        }
        if first || change.recovery == NewRecoveryCodes::Always {
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
            insert_recovery_codes(&mut tx, user, change.recovery_hashes, event.at).await?;
        }
        if change.trusts == Trusts::Revoked {
            revoke_trusts(&mut tx, user, None, event.at).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(StoredCredential::Stored { first })
    }

    /// Notes a use of `user`'s credential `id` at `event.at`: spends the authentication
    /// ceremony `ceremony` and moves the counter forward to `counter` (with the credential
    /// `blob` it belongs to) in one transaction, each by a conditional statement. A counter
    /// that does not move forward (both zero: an authenticator without one) writes nothing.
    /// With `proof`, the user's live session it names is re-authenticated in the same
    /// transaction.
    pub async fn use_credential(
        &self,
        ceremony: &str,
        (user, id): (UserId, &str),
        counter: i64,
        blob: &str,
        event: &AuditEvent,
        proof: Option<SessionProof<'_>>,
    ) -> Result<UsedCredential, StoreError> {
        let now = event.at.millis();
        let mut tx = self.store.writes().begin().await?;
        if !spend_ceremony(&mut tx, ceremony, Some(user), "authentication", now).await? {
            tx.rollback().await?;
            return Ok(UsedCredential::CeremonyGone);
        }
        let moved = bind_all(
            sqlx::query(USE_CREDENTIAL),
            use_params(user, id, counter, blob, event.at),
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            tx.rollback().await?;
            return Ok(UsedCredential::CounterBehind);
        }
        audit::record(&mut tx, event).await?;
        if let Some(proof) = proof {
            let proved = sqlx::query(
                "UPDATE sessions SET amr = $3, authenticated_at = $4 \
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $4",
            )
            .bind(proof.session_id.to_owned())
            .bind(user.to_string())
            .bind(proof.amr.join(" "))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if proved == 0 {
                tx.rollback().await?;
                return Ok(UsedCredential::SessionEnded);
            }
            audit::record(&mut tx, proof.event).await?;
        }
        tx.commit().await?;
        Ok(UsedCredential::Used)
    }

    /// Opens `session` for a passkey sign-in, with its `event`: spends the passkey ceremony
    /// `ceremony` (bound to no user), takes the user's row while the account is active, and
    /// moves the credential `id` forward to `counter` (with its `blob`), all in one transaction
    /// whose conditional statements refuse a spent ceremony, a disabled user and a counter that
    /// did not move forward. Any refusal writes nothing.
    pub async fn open_passkey_session(
        &self,
        ceremony: &str,
        id: &str,
        counter: i64,
        blob: &str,
        session: &NewSession,
        event: &AuditEvent,
    ) -> Result<UsedCredential, StoreError> {
        let user = session.user_id;
        let mut tx = self.store.writes().begin().await?;
        if !spend_ceremony(&mut tx, ceremony, None, "passkey", session.now.millis()).await? {
            tx.rollback().await?;
            return Ok(UsedCredential::CeremonyGone);
        }
        // The user's row first, as a code check takes it: a deactivation waits or is seen.
        let active = sqlx::query("UPDATE users SET id = id WHERE id = $1 AND active = 1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if active == 0 {
            tx.rollback().await?;
            return Ok(UsedCredential::UserInactive);
        }
        let moved = bind_all(
            sqlx::query(USE_CREDENTIAL),
            use_params(user, id, counter, blob, session.now),
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            tx.rollback().await?;
            return Ok(UsedCredential::CounterBehind);
        }
        bind_all(sqlx::query(TOUCH_LAST_LOGIN), touch_params(session))
            .execute(&mut *tx)
            .await?;
        bind_all(sqlx::query(INSERT_SESSION), session_params(session))
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(UsedCredential::Used)
    }

    /// `user`'s credential whose authenticator id (base64url) is `credential_id`.
    pub async fn credential_of(
        &self,
        user: UserId,
        credential_id: &str,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM webauthn_credentials \
             WHERE user_id = $1 AND credential_id = $2"
        ))
        .bind(user.to_string())
        .bind(credential_id.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    /// A user's credentials, oldest first.
    pub async fn credentials_of(&self, user: UserId) -> Result<Vec<CredentialRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE user_id = $1 \
             ORDER BY created_at, id"
        ))
        .bind(user.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(credential_from_row).collect()
    }

    /// The credential whose public id is `id`, whoever's it is.
    pub async fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    /// Deletes `user`'s credential `id` with `event`: whether there was one. Under the user's
    /// lock, as a method's removal: the recovery codes go with the last second factor, and the
    /// trusts as `trusts` says.
    pub async fn delete_credential(
        &self,
        user: UserId,
        id: &str,
        trusts: Trusts,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        lock_user(&mut tx, user, event.at).await?;
        let deleted =
            sqlx::query("DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2")
                .bind(user.to_string())
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if deleted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        forget_recovery_codes_without_factors(&mut tx, user).await?;
        if trusts == Trusts::Revoked {
            revoke_trusts(&mut tx, user, None, event.at).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Whether `user` has a method of one of `kinds`.
async fn has_method_of(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    kinds: &[MethodKind],
) -> Result<bool, StoreError> {
    let held: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM two_factor_methods WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_all(&mut **tx)
            .await?;
    Ok(held
        .iter()
        .any(|k| kinds.iter().any(|kind| kind.as_str() == k)))
}

/// Keeps `login`'s completion code on its challenge at `now`: only while the login is `user`'s,
/// live (unfinished, unexpired, attempts left) and has no completion code yet, so that one
/// enrolment finishes it. Whether it did.
async fn let_login_finish(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    login: KeyAtLogin<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let set = sqlx::query(
        "UPDATE login_challenges SET enrollment_code_hash = $2 \
         WHERE id_hash = $1 AND user_id = $3 AND completed_at IS NULL AND expires_at > $4 \
         AND attempts < $5 AND enrollment_code_hash IS NULL",
    )
    .bind(login.id_hash.to_owned())
    .bind(login.completion_hash.to_owned())
    .bind(user.to_string())
    .bind(now)
    .bind(login.max_attempts)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(set == 1)
}

fn user_of(row: &AnyRow, what: &str) -> Result<UserId, StoreError> {
    let user: String = row.try_get("user_id")?;
    UserId::parse(&user).map_err(|_| StoreError::Corrupt(format!("{what} of user {user:?}")))
}

fn ceremony_from_row(row: &AnyRow) -> Result<CeremonyRecord, StoreError> {
    Ok(CeremonyRecord {
        id: row.try_get("id")?,
        user_id: match row.try_get::<Option<String>, _>("user_id")? {
            Some(_) => Some(user_of(row, "WebAuthn ceremony")?),
            None => None,
        },
        purpose: row.try_get("purpose")?,
        login_id_hash: row.try_get("login_id_hash")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        state: row.try_get("state")?,
        expires_at: Instant::from_millis(row.try_get("expires_at")?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")?
            .map(Instant::from_millis),
    })
}

fn credential_from_row(row: &AnyRow) -> Result<CredentialRecord, StoreError> {
    Ok(CredentialRecord {
        id: row.try_get("id")?,
        user_id: user_of(row, "WebAuthn credential")?,
        credential_id: row.try_get("credential_id")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        credential: row.try_get("credential")?,
        counter: row.try_get("counter")?,
        backup_eligible: row.try_get::<i64, _>("backup_eligible")? != 0,
        backup_state: row.try_get::<i64, _>("backup_state")? != 0,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Instant::from_millis),
    })
}

/// Spends `user`'s unexpired, unused ceremony `id` of `purpose` at `now` in `tx` (`None`: a
/// ceremony of no user's): whether it was there to spend (one conditional UPDATE, so that of two
/// answers at once only one goes on).
async fn spend_ceremony(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    user: Option<UserId>,
    purpose: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let whose = match user {
        Some(_) => "user_id = $4",
        None => "user_id IS NULL AND $4 = ''",
    };
    let spent = sqlx::query(&format!(
        "UPDATE webauthn_challenges SET used_at = $2 \
         WHERE id = $1 AND purpose = $3 AND {whose} AND used_at IS NULL AND expires_at > $2"
    ))
    .bind(id.to_owned())
    .bind(now)
    .bind(purpose.to_owned())
    .bind(user.map(|u| u.to_string()).unwrap_or_default())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(spent == 1)
}

/// Moves `$2`'s credential `$1` forward to counter `$3` (with its credential `$4`), used at
/// `$5`, unless the counter stored is already there or past it (both zero: an authenticator
/// that keeps none). Shared with a login's code check, which runs it in its own transaction.
pub(super) const USE_CREDENTIAL: &str = "UPDATE webauthn_credentials SET counter = $3, credential = $4, last_used_at = $5 \
     WHERE id = $1 AND user_id = $2 AND (counter < $3 OR ($3 = 0 AND counter = 0))";

pub(super) fn use_params(
    user: UserId,
    id: &str,
    counter: i64,
    blob: &str,
    at: Instant,
) -> Vec<super::row::Param> {
    vec![
        id.into(),
        user.to_string().into(),
        counter.into(),
        blob.into(),
        at.millis().into(),
    ]
}

/// Spends the unexpired, unused second-factor ceremony `$1` of the user `$2` for the login
/// whose `twoFactorId` digest is `$3`, at `$4`.
pub(super) const SPEND_SECOND_FACTOR: &str = "UPDATE webauthn_challenges SET used_at = $4 \
     WHERE id = $1 AND user_id = $2 AND login_id_hash = $3 AND purpose = 'second_factor' \
     AND used_at IS NULL AND expires_at > $4";

pub(super) fn second_factor_params(
    ceremony: &str,
    user: UserId,
    login_id_hash: &str,
    at: Instant,
) -> Vec<super::row::Param> {
    vec![
        ceremony.into(),
        user.to_string().into(),
        login_id_hash.into(),
        at.millis().into(),
    ]
}
