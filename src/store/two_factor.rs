//! Two-factor storage. Each "exactly once" rule here is one conditional UPDATE; changes to a
//! user's methods first touch the user row, which serialises them per user on both backends.

use sqlx::{Any, Row, Transaction};

use super::TwoFactorStore;
use super::factors::{
    forget_recovery_codes_without_factors, has_keys, has_second_factor, insert_recovery_codes,
    lock_user,
};
use super::row::{Columns, Param, bind_all};
use super::{Backend, StoreError, audit};
use crate::audit::{AuditEvent, Origin};
use crate::clock::Instant;
use crate::crypto::cipher::Sealed;
use crate::domain::LoginType;
use crate::domain::{Channel, Email, MethodId, MethodKind, MethodName, PhoneNumber, UserId};
use crate::otp::{Algorithm, TotpParams};

pub(super) const METHOD_COLUMNS: &str = "id, user_id, kind, name, secret_ciphertext, secret_key_id, \
    algorithm, digits, period, mobile_phone, email, last_used_step, created_at, last_used_at, \
    sends_code_on_login, channel";

const INSERT_CHALLENGE: &str = "INSERT INTO login_challenges (id_hash, user_id, login_type, \
    application_id, created_at, expires_at, ip, user_agent, remember_me) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Spends an authenticator's time step `$2` at `$3`, unless that step or a later one already was:
/// one row changed means this call won.
pub(super) const CLAIM_STEP: &str = "UPDATE two_factor_methods SET last_used_step = $2, \
    last_used_at = $3 WHERE id = $1 AND (last_used_step IS NULL OR last_used_step < $2)";

pub(super) fn claim_params(method: &MethodId, step: u64, now: Instant) -> Vec<Param> {
    vec![
        method.as_str().into(),
        step_to_db(step).into(),
        now.millis().into(),
    ]
}

/// A stored method. The authenticator secret stays sealed until a flow opens it.
#[derive(Debug, Clone)]
pub struct MethodRecord {
    pub id: MethodId,
    pub user_id: UserId,
    pub kind: MethodKind,
    pub name: Option<MethodName>,
    pub secret: Option<Sealed>,
    /// Algorithm, digits and period of an authenticator (the skew is the policy's).
    pub totp: Option<(Algorithm, u32, u32)>,
    pub mobile_phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub last_used_step: Option<u64>,
    pub created_at: Instant,
    pub last_used_at: Option<Instant>,
    /// Enabled with the older `delivery: TextMessage` form: a login sends its code unasked.
    pub sends_code_on_login: bool,
    /// A phone's: the way its codes go unless another is asked for (the one chosen at
    /// enrolment, then the one of the code that last finished a login).
    pub channel: Option<Channel>,
}

impl MethodRecord {
    /// The associated data its secret is sealed with: the ciphertext only opens in this row.
    pub fn seal_context(user: UserId, id: &MethodId) -> String {
        format!("two_factor_method:{user}:{id}")
    }
}

#[derive(Debug, Clone)]
pub struct NewMethod {
    pub id: MethodId,
    pub user_id: UserId,
    pub kind: MethodKind,
    pub name: Option<MethodName>,
    pub secret: Option<Sealed>,
    pub totp: Option<TotpParams>,
    pub mobile_phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    /// The step of the code that proved the secret, so it cannot be used again to log in.
    pub last_used_step: Option<u64>,
    /// A keyed hash of an authenticator's secret: unique per user, so one secret is enrolled
    /// once even when two enrolments of it race.
    pub secret_fingerprint: Option<String>,
    /// Enabled with the older `delivery: TextMessage` form: a login sends its code unasked.
    pub sends_code_on_login: bool,
    /// A phone's channel, chosen at enrolment.
    pub channel: Option<Channel>,
}

/// A login waiting for its second factor, as stored.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    /// SHA-256 of the `twoFactorId`.
    pub id_hash: String,
    pub user: UserId,
    pub login_type: LoginType,
    pub application_id: Option<String>,
    /// "Remember me" was ticked with the password.
    pub remember_me: bool,
    pub expires_at: Instant,
    pub origin: Origin,
    /// The challenge's audit event, written with it.
    pub event: AuditEvent,
}

impl NewChallenge {
    /// The challenge's row and its audit event, to be written together.
    pub(super) fn writes(self) -> Vec<(&'static str, Vec<Param>)> {
        let challenge = vec![
            self.id_hash.into(),
            self.user.to_string().into(),
            self.login_type.as_str().into(),
            self.application_id.into(),
            self.event.at.millis().into(),
            self.expires_at.millis().into(),
            self.origin.ip.into(),
            self.origin.user_agent.into(),
            super::flag(self.remember_me).into(),
        ];
        vec![
            (INSERT_CHALLENGE, challenge),
            (audit::INSERT, audit::event_params(&self.event)),
        ]
    }
}

/// What becomes of a user's trusted computers with a change, in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trusts {
    Kept,
    Revoked,
}

/// Which recovery codes a new method comes with, in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewRecoveryCodes {
    /// The ones given, when it is the user's first method; a later one keeps the user's set.
    WithAFirstMethod,
    /// The ones given, in place of the user's set, whatever methods they have.
    Always,
}

/// What `remove_all_methods` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedFactors {
    pub methods: u64,
    /// Security keys and passkeys.
    pub keys: u64,
}

/// How `add_method` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddedMethod {
    /// Added; `first`: the user had no method before. The recovery codes were stored if it was
    /// the first or they were asked for `Always`.
    Added { first: bool },
    /// Not added: the user has a method of a kind that forbids it.
    Refused,
}

#[derive(Debug, Clone)]
pub struct ChallengeRecord {
    pub user_id: UserId,
    pub login_type: LoginType,
    pub application_id: Option<String>,
    pub expires_at: Instant,
    pub attempts: i64,
    pub enrollment_code_hash: Option<String>,
    /// An administrator's access code was accepted for this login on the pages: it goes on to
    /// enrol a new method.
    pub access_code_used: bool,
    /// "Remember me" was ticked with the password: the session it opens is remembered.
    pub remember_me: bool,
}

/// The events an enrolment writes: the method's, and, when the service found that its code also
/// proves the profile's unverified address, that address's verification (written only while
/// the address is still the profile's and unverified).
#[derive(Debug, Clone, Copy)]
pub struct EnrolmentEvents<'a> {
    pub enabled: &'a AuditEvent,
    pub email_verified: Option<&'a AuditEvent>,
}

impl TwoFactorStore {
    /// Adds a method with its audit event. When it is the user's first (`Added { first: true }`)
    /// or `recovery` says `Always`, the recovery codes (their hashes) replace the user's;
    /// otherwise they are ignored.
    /// Trusted computers are revoked: the user's second factors changed. An authenticator whose
    /// secret the user already has, or a phone whose number they enrolled, is refused
    /// (`Duplicate`), whichever of two racing enrolments commits first. Under the user's lock, a user who already has a method of a kind in
    /// `refused_beside` gets none (`Refused`): an enrolment meant only for users without a
    /// usable method is asked again where concurrent enrolments cannot both pass.
    pub async fn add_method(
        &self,
        method: &NewMethod,
        recovery_hashes: &[String],
        recovery: NewRecoveryCodes,
        refused_beside: &[MethodKind],
        trusts: Trusts,
        events: EnrolmentEvents<'_>,
    ) -> Result<AddedMethod, StoreError> {
        let event = events.enabled;
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        lock_user(&mut tx, method.user_id, now).await?;
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT kind FROM two_factor_methods WHERE user_id = $1")
                .bind(method.user_id.to_string())
                .fetch_all(&mut *tx)
                .await?;
        if kinds.iter().any(|kind| {
            refused_beside
                .iter()
                .any(|refused| refused.as_str() == kind)
        }) {
            tx.rollback().await?;
            return Ok(AddedMethod::Refused);
        }
        match insert_method_in(&mut tx, method, now).await {
            Err(StoreError::Database(sqlx::Error::Database(db))) if db.is_unique_violation() => {
                return Err(StoreError::Duplicate {
                    field: match method.kind {
                        MethodKind::Phone => "mobilePhone",
                        _ => "secretBase32Encoded",
                    },
                });
            }
            other => other?,
        }
        // The profile's phone, when it has none, is the one just verified.
        if let Some(phone) = &method.mobile_phone {
            sqlx::query(
                "UPDATE users SET mobile_phone = $2 WHERE id = $1 AND mobile_phone IS NULL",
            )
            .bind(method.user_id.to_string())
            .bind(phone.e164().to_owned())
            .execute(&mut *tx)
            .await?;
        }
        // The service found the method's address to be the profile's unverified one: the code
        // just proven verifies it, while it still is (with its own event).
        if let (Some(event), Some(email)) = (events.email_verified, &method.email) {
            let proven = super::address_proofs::ProvenAddress {
                email_key: email.key(),
                event,
            };
            super::address_proofs::verify_proven(&mut tx, method.user_id, proven).await?;
        }
        let first = kinds.is_empty() && !has_keys(&mut tx, method.user_id).await?;
        if first || recovery == NewRecoveryCodes::Always {
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(method.user_id.to_string())
                .execute(&mut *tx)
                .await?;
            insert_recovery_codes(&mut tx, method.user_id, recovery_hashes, now).await?;
        }
        if trusts == Trusts::Revoked {
            super::trusted_computers::revoke_trusts(&mut tx, method.user_id, None, now).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(AddedMethod::Added { first })
    }

    pub async fn methods(&self, user: UserId) -> Result<Vec<MethodRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {METHOD_COLUMNS} FROM two_factor_methods WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(method_from_row).collect()
    }

    /// Records that an authenticator code of `step` was accepted — unless a code of that step or
    /// a later one already was. Of any number of concurrent calls with one code, one wins.
    pub async fn claim_totp_step(
        &self,
        method: &MethodId,
        step: u64,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let claimed = bind_all(sqlx::query(CLAIM_STEP), claim_params(method, step, now))
            .execute(self.store.writes())
            .await?
            .rows_affected();
        Ok(claimed == 1)
    }

    /// Removes one method of the user. When it was the last, the recovery codes go too.
    pub async fn remove_method(
        &self,
        user: UserId,
        method: &MethodId,
        trusts: Trusts,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        lock_user(&mut tx, user, now).await?;
        let removed = sqlx::query("DELETE FROM two_factor_methods WHERE id = $1 AND user_id = $2")
            .bind(method.as_str().to_owned())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Ok(false);
        }
        forget_recovery_codes_without_factors(&mut tx, user).await?;
        if trusts == Trusts::Revoked {
            super::trusted_computers::revoke_trusts(&mut tx, user, None, now).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Gives a phone method a new, verified number. The user's profile number follows when it
    /// was the old one; trusted computers are revoked, as for any change of method.
    pub async fn change_method_phone(
        &self,
        user: UserId,
        method: &MethodId,
        phone: &PhoneNumber,
        trusts: Trusts,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        lock_user(&mut tx, user, now).await?;
        let old: Option<Option<String>> = sqlx::query_scalar(
            "SELECT mobile_phone FROM two_factor_methods WHERE id = $1 AND user_id = $2",
        )
        .bind(method.as_str().to_owned())
        .bind(user.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(old) = old else {
            return Ok(false);
        };
        let changed = sqlx::query(
            "UPDATE two_factor_methods SET mobile_phone = $3, country = $4 \
             WHERE id = $1 AND user_id = $2",
        )
        .bind(method.as_str().to_owned())
        .bind(user.to_string())
        .bind(phone.e164().to_owned())
        .bind(phone.region())
        .execute(&mut *tx)
        .await;
        match changed {
            // Another of the user's phones has this number already.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::Duplicate {
                    field: "mobilePhone",
                });
            }
            other => other?,
        };
        sqlx::query("UPDATE users SET mobile_phone = $2 WHERE id = $1 AND (mobile_phone IS NULL OR mobile_phone = $3)")
            .bind(user.to_string())
            .bind(phone.e164().to_owned())
            .bind(old)
            .execute(&mut *tx)
            .await?;
        if trusts == Trusts::Revoked {
            super::trusted_computers::revoke_trusts(&mut tx, user, None, now).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes every second factor of the user — methods, security keys and passkeys — and
    /// their recovery codes (a recovery code was used to turn two-factor off, or an
    /// administrator reset it). The event says how many methods and keys went.
    pub async fn remove_all_methods(
        &self,
        user: UserId,
        trusts: Trusts,
        event: &AuditEvent,
    ) -> Result<RemovedFactors, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        lock_user(&mut tx, user, now).await?;
        let methods = sqlx::query("DELETE FROM two_factor_methods WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let keys = sqlx::query("DELETE FROM webauthn_credentials WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        if trusts == Trusts::Revoked {
            super::trusted_computers::revoke_trusts(&mut tx, user, None, now).await?;
        }
        let event = event
            .clone()
            .detail("methodsRemoved", methods)
            .detail("keysRemoved", keys);
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(RemovedFactors { methods, keys })
    }

    /// Replaces the user's recovery codes — only while the user has a second factor (a method
    /// or a key): `false`, and nothing stored, when the last one is gone (perhaps removed a
    /// moment before, under the same lock), since recovery codes exist exactly while they do.
    pub async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        lock_user(&mut tx, user, now).await?;
        if !has_second_factor(&mut tx, user).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        insert_recovery_codes(&mut tx, user, hashes, now).await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Spends an unused recovery code. Exactly one of any concurrent uses succeeds.
    pub async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let used = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user.to_string())
        .bind(hash.to_owned())
        .bind(now.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected();
        Ok(used == 1)
    }

    pub async fn unused_recovery_codes(&self, user: UserId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.to_string())
        .fetch_one(self.store.pool())
        .await?)
    }

    /// A live challenge: not expired, not completed, attempts left.
    pub async fn live_challenge(
        &self,
        id_hash: &str,
        max_attempts: i64,
        now: Instant,
    ) -> Result<Option<ChallengeRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, login_type, application_id, expires_at, attempts, enrollment_code_hash, \
               access_code_used_at, remember_me FROM login_challenges \
             WHERE id_hash = $1 AND completed_at IS NULL AND expires_at > $2 AND attempts < $3",
        )
        .bind(id_hash.to_owned())
        .bind(now.millis())
        .bind(max_attempts)
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| challenge_from_row(&r)).transpose()
    }

    /// Lets a challenge that was waiting for an enrolment finish with a one-time code.
    pub async fn set_enrollment_code(
        &self,
        id_hash: &str,
        code_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE login_challenges SET enrollment_code_hash = $2 WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .bind(code_hash.to_owned())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }

    /// Counts a guess at one of a user's codes before the code is compared: a failure row under
    /// `guess_id` (`release_guess` takes it back once the code proved right). Answers the
    /// user's failures after `since`, this one included. On PostgreSQL the user's row is locked
    /// first, as a login's code check locks it, so one user's guesses are counted one after
    /// another on every path; on SQLite the insert takes the write lock.
    pub async fn reserve_guess(
        &self,
        user: UserId,
        guess_id: &str,
        since: Instant,
        now: Instant,
    ) -> Result<i64, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        if self.store.backend() == Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO two_factor_failures (user_id, at, guess_id) VALUES ($1, $2, $3)")
            .bind(user.to_string())
            .bind(now.millis())
            .bind(guess_id.to_owned())
            .execute(&mut *tx)
            .await?;
        let failures: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM two_factor_failures WHERE user_id = $1 AND at > $2",
        )
        .bind(user.to_string())
        .bind(since.millis())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        tx.commit().await?;
        Ok(failures)
    }

    /// Whether a user of this server has an enrolled phone method in `region` (an ISO code).
    pub async fn has_enrolled_number_in(&self, region: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM two_factor_methods WHERE country = $1 LIMIT 1")
                .bind(region.to_owned())
                .fetch_optional(self.store.pool())
                .await?;
        Ok(found.is_some())
    }

    /// The user's failures after `since`.
    pub async fn recent_failures(&self, user: UserId, since: Instant) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM two_factor_failures WHERE user_id = $1 AND at > $2",
        )
        .bind(user.to_string())
        .bind(since.millis())
        .fetch_one(self.store.pool())
        .await?)
    }

    /// Takes back a guess `reserve_guess` counted: its code was right, or it was refused
    /// unchecked (`event` says so).
    pub async fn release_guess(
        &self,
        guess_id: &str,
        event: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query("DELETE FROM two_factor_failures WHERE guess_id = $1")
            .bind(guess_id.to_owned())
            .execute(&mut *tx)
            .await?;
        if let Some(event) = event {
            audit::record(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts a method inside a transaction.
pub(super) async fn insert_method_in(
    tx: &mut Transaction<'_, Any>,
    method: &NewMethod,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO two_factor_methods (id, user_id, kind, name, secret_ciphertext, \
           secret_key_id, algorithm, digits, period, mobile_phone, email, last_used_step, \
           created_at, last_used_at, secret_fingerprint, country, sends_code_on_login, channel) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15, $16, $17)",
    )
    .bind(method.id.as_str().to_owned())
    .bind(method.user_id.to_string())
    .bind(method.kind.as_str())
    .bind(method.name.as_ref().map(|n| n.as_str().to_owned()))
    .bind(method.secret.as_ref().map(|s| s.ciphertext.clone()))
    .bind(method.secret.as_ref().map(|s| s.key_id.clone()))
    .bind(method.totp.map(|t| t.algorithm.uri_name()))
    .bind(method.totp.map(|t| i64::from(t.digits)))
    .bind(method.totp.map(|t| i64::from(t.period)))
    .bind(method.mobile_phone.as_ref().map(|p| p.e164().to_owned()))
    .bind(method.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(method.last_used_step.map(step_to_db))
    .bind(now.millis())
    .bind(method.secret_fingerprint.clone())
    .bind(method.mobile_phone.as_ref().and_then(PhoneNumber::region))
    .bind(i64::from(method.sends_code_on_login))
    .bind(method.channel.map(Channel::as_str))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The countries of phone methods stored before methods kept theirs (migration
/// `method_countries`): SQL cannot read a numbering plan, so the numbers are parsed here, once.
pub(super) async fn fill_method_countries(pool: &sqlx::AnyPool) -> Result<(), StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, mobile_phone FROM two_factor_methods \
         WHERE mobile_phone IS NOT NULL AND country IS NULL",
    )
    .fetch_all(pool)
    .await?;
    for (id, phone) in rows {
        let Some(region) = PhoneNumber::parse(&phone).ok().and_then(|p| p.region()) else {
            continue;
        };
        sqlx::query("UPDATE two_factor_methods SET country = $2 WHERE id = $1")
            .bind(id)
            .bind(region)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Steps are u64 in the math and BIGINT in the database; no real step comes near i64::MAX.
pub(super) fn step_to_db(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {why}"))
}

pub(super) fn method_from_row(row: &impl Columns) -> Result<MethodRecord, StoreError> {
    let id: String = row.column("id")?;
    let user_id: String = row.column("user_id")?;
    let kind: String = row.column("kind")?;
    let secret = match (
        row.column::<Option<String>>("secret_ciphertext")?,
        row.column::<Option<String>>("secret_key_id")?,
    ) {
        (Some(ciphertext), Some(key_id)) => Some(Sealed { key_id, ciphertext }),
        _ => None,
    };
    let totp = match (
        row.column::<Option<String>>("algorithm")?,
        row.column::<Option<i64>>("digits")?,
        row.column::<Option<i64>>("period")?,
    ) {
        (Some(algorithm), Some(digits), Some(period)) => Some((
            Algorithm::parse(&algorithm).map_err(|e| corrupt("algorithm", e))?,
            u32::try_from(digits).map_err(|e| corrupt("digits", e))?,
            u32::try_from(period).map_err(|e| corrupt("period", e))?,
        )),
        _ => None,
    };
    Ok(MethodRecord {
        id: MethodId::parse(&id).map_err(|e| corrupt("method id", e))?,
        user_id: UserId::parse(&user_id).map_err(|e| corrupt("user id", e))?,
        kind: kind.parse().map_err(|e| corrupt("kind", e))?,
        name: row
            .column::<Option<String>>("name")?
            .map(|n| MethodName::parse(&n))
            .transpose()
            .map_err(|e| corrupt("name", e))?,
        secret,
        totp,
        mobile_phone: row
            .column::<Option<String>>("mobile_phone")?
            .map(|p| PhoneNumber::parse(&p))
            .transpose()
            .map_err(|e| corrupt("mobile_phone", e))?,
        // An address enrolled before today's rules of emails is sent to as it was stored.
        email: row.column::<Option<String>>("email")?.map(|e| {
            Email::parse(&e).unwrap_or_else(|_| Email::from_stored(&e, &e.to_lowercase()))
        }),
        last_used_step: row
            .column::<Option<i64>>("last_used_step")?
            .map(|s| u64::try_from(s).unwrap_or(0)),
        created_at: Instant::from_millis(row.column("created_at")?),
        last_used_at: row
            .column::<Option<i64>>("last_used_at")?
            .map(Instant::from_millis),
        sends_code_on_login: row.column::<i64>("sends_code_on_login")? != 0,
        channel: row
            .column::<Option<String>>("channel")?
            .map(|c| c.parse::<Channel>())
            .transpose()
            .map_err(|e| corrupt("channel", e))?,
    })
}

pub(super) fn challenge_from_row(row: &impl Columns) -> Result<ChallengeRecord, StoreError> {
    let user_id: String = row.column("user_id")?;
    let login_type: String = row.column("login_type")?;
    Ok(ChallengeRecord {
        user_id: UserId::parse(&user_id).map_err(|e| corrupt("user id", e))?,
        login_type: LoginType::parse(&login_type)
            .ok_or_else(|| corrupt("login_type", &login_type))?,
        application_id: row.column("application_id")?,
        expires_at: Instant::from_millis(row.column("expires_at")?),
        attempts: row.column("attempts")?,
        enrollment_code_hash: row.column("enrollment_code_hash")?,
        access_code_used: row.column::<Option<i64>>("access_code_used_at")?.is_some(),
        remember_me: row.column::<i64>("remember_me")? != 0,
    })
}
