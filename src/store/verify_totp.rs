use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::VerifyStore;
use crate::clock::Instant;
use crate::crypto::cipher::Sealed;

#[derive(Debug, Clone)]
pub struct EntityRecord {
    pub sid: String,
    pub service_sid: String,
    pub identity: String,
    pub created_at: Instant,
}

#[derive(Debug, Clone)]
pub struct FactorRecord {
    pub sid: String,
    pub entity_sid: String,
    pub friendly_name: String,
    pub secret: Sealed,
    pub algorithm: String,
    pub code_length: i64,
    pub time_step: i64,
    pub skew: i64,
    pub status: String,
    pub last_used_step: Option<i64>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

#[derive(Debug, Clone)]
pub struct ChallengeRow {
    pub sid: String,
    pub factor_sid: String,
    pub status: String,
    pub responded_reason: String,
    pub attempts: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub expires_at: Instant,
}

const FACTOR_COLUMNS: &str = "sid, entity_sid, friendly_name, secret_ciphertext, secret_key_id, \
    algorithm, code_length, time_step, skew, status, last_used_step, created_at, updated_at";
const CHALLENGE_COLUMNS: &str =
    "sid, factor_sid, status, responded_reason, attempts, created_at, updated_at, expires_at";

impl VerifyStore {
    /// The entity of this identity, made on first use (as Twilio does for factors).
    pub async fn entity(
        &self,
        service_sid: &str,
        identity: &str,
        create_sid: Option<&str>,
        now: Instant,
    ) -> Result<Option<EntityRecord>, StoreError> {
        if let Some(sid) = create_sid {
            sqlx::query(
                "INSERT INTO verify_entities (sid, service_sid, identity, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (service_sid, identity) DO NOTHING",
            )
            .bind(sid.to_owned())
            .bind(service_sid.to_owned())
            .bind(identity.to_owned())
            .bind(now.millis())
            .execute(self.store.writes())
            .await?;
        }
        let row = sqlx::query("SELECT sid, service_sid, identity, created_at FROM verify_entities WHERE service_sid = $1 AND identity = $2")
            .bind(service_sid.to_owned())
            .bind(identity.to_owned())
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|r| {
            Ok(EntityRecord {
                sid: r.try_get("sid")?,
                service_sid: r.try_get("service_sid")?,
                identity: r.try_get("identity")?,
                created_at: Instant::from_millis(r.try_get("created_at")?),
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }

    pub async fn delete_entity(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM verify_entities WHERE sid = $1")
            .bind(sid.to_owned())
            .execute(self.store.writes())
            .await?
            .rows_affected()
            == 1)
    }

    pub async fn insert_factor(&self, factor: &FactorRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO verify_factors ({FACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(factor.sid.clone())
        .bind(factor.entity_sid.clone())
        .bind(factor.friendly_name.clone())
        .bind(factor.secret.ciphertext.clone())
        .bind(factor.secret.key_id.clone())
        .bind(factor.algorithm.clone())
        .bind(factor.code_length)
        .bind(factor.time_step)
        .bind(factor.skew)
        .bind(factor.status.clone())
        .bind(factor.last_used_step)
        .bind(factor.created_at.millis())
        .bind(factor.updated_at.millis())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    pub async fn factor(
        &self,
        entity_sid: &str,
        sid: &str,
    ) -> Result<Option<FactorRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FACTOR_COLUMNS} FROM verify_factors WHERE entity_sid = $1 AND sid = $2"
        ))
        .bind(entity_sid.to_owned())
        .bind(sid.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| factor_from_row(&r)).transpose()
    }

    /// Spends a TOTP step of a factor (and marks it verified): once per step, whatever the races.
    pub async fn claim_factor_step(
        &self,
        sid: &str,
        step: i64,
        now: Instant,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE verify_factors SET last_used_step = $2, status = 'verified', updated_at = $3, \
             failures_in_a_row = 0 \
             WHERE sid = $1 AND (last_used_step IS NULL OR last_used_step < $2)",
        )
        .bind(sid.to_owned())
        .bind(step)
        .bind(now.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected()
            == 1)
    }

    /// Counts a guess at a factor's code as a failure before the code is compared, so that
    /// concurrent guesses count against each other (`claim_factor_step` ends the run when the
    /// code is right). Refused, and nothing counted, when the factor has `max` failures in a
    /// row and the last of them came after `locked_since`.
    pub async fn reserve_factor_guess(
        &self,
        sid: &str,
        max: i64,
        locked_since: Instant,
        now: Instant,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE verify_factors SET failures_in_a_row = failures_in_a_row + 1, \
             last_failure_at = $2 \
             WHERE sid = $1 AND (failures_in_a_row < $3 OR last_failure_at <= $4)",
        )
        .bind(sid.to_owned())
        .bind(now.millis())
        .bind(max)
        .bind(locked_since.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected()
            == 1)
    }

    pub async fn insert_challenge_row(&self, challenge: &ChallengeRow) -> Result<(), StoreError> {
        sqlx::query(&format!("INSERT INTO verify_challenges ({CHALLENGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(challenge.sid.clone())
            .bind(challenge.factor_sid.clone())
            .bind(challenge.status.clone())
            .bind(challenge.responded_reason.clone())
            .bind(challenge.attempts)
            .bind(challenge.created_at.millis())
            .bind(challenge.updated_at.millis())
            .bind(challenge.expires_at.millis())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }

    pub async fn challenge_row(&self, sid: &str) -> Result<Option<ChallengeRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM verify_challenges WHERE sid = $1"
        ))
        .bind(sid.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| challenge_from_row(&r)).transpose()
    }

    /// Takes one attempt of a pending challenge (at most `max`); `None` when none is left.
    pub async fn reserve_challenge_attempt(
        &self,
        sid: &str,
        max: i64,
        now: Instant,
    ) -> Result<Option<ChallengeRow>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE verify_challenges SET attempts = attempts + 1, updated_at = $2 \
             WHERE sid = $1 AND status = 'pending' AND attempts < $3 AND expires_at > $2 RETURNING {CHALLENGE_COLUMNS}"
        ))
        .bind(sid.to_owned())
        .bind(now.millis())
        .bind(max)
        .fetch_optional(self.store.writes())
        .await?;
        row.map(|r| challenge_from_row(&r)).transpose()
    }

    pub async fn finish_challenge(
        &self,
        sid: &str,
        status: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE verify_challenges SET status = $2, responded_reason = 'none', updated_at = $3 WHERE sid = $1 AND status = 'pending'",
        )
        .bind(sid.to_owned())
        .bind(status.to_owned())
        .bind(now.millis())
        .execute(self.store.writes())
        .await?
        .rows_affected()
            == 1)
    }
}

fn factor_from_row(r: &AnyRow) -> Result<FactorRecord, StoreError> {
    Ok(FactorRecord {
        sid: r.try_get("sid")?,
        entity_sid: r.try_get("entity_sid")?,
        friendly_name: r.try_get("friendly_name")?,
        secret: Sealed {
            ciphertext: r.try_get("secret_ciphertext")?,
            key_id: r.try_get("secret_key_id")?,
        },
        algorithm: r.try_get("algorithm")?,
        code_length: r.try_get("code_length")?,
        time_step: r.try_get("time_step")?,
        skew: r.try_get("skew")?,
        status: r.try_get("status")?,
        last_used_step: r.try_get("last_used_step")?,
        created_at: Instant::from_millis(r.try_get("created_at")?),
        updated_at: Instant::from_millis(r.try_get("updated_at")?),
    })
}

fn challenge_from_row(r: &AnyRow) -> Result<ChallengeRow, StoreError> {
    Ok(ChallengeRow {
        sid: r.try_get("sid")?,
        factor_sid: r.try_get("factor_sid")?,
        status: r.try_get("status")?,
        responded_reason: r.try_get("responded_reason")?,
        attempts: r.try_get("attempts")?,
        created_at: Instant::from_millis(r.try_get("created_at")?),
        updated_at: Instant::from_millis(r.try_get("updated_at")?),
        expires_at: Instant::from_millis(r.try_get("expires_at")?),
    })
}
