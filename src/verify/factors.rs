//! TOTP factors of the Twilio-compatible API (Entities, Factors, Challenges): the same math and
//! the same replay protection as Tessera's own authenticators.

use super::Verify;
use super::{VerifyError, sid};
use crate::clock::Instant;
use crate::otp::{Algorithm, OtpCode, TotpParams, TotpSecret, otpauth_uri};
use crate::store::{ChallengeRow, EntityRecord, FactorRecord, ServiceRecord};

/// Wrong payloads one challenge survives (Twilio's 60308 after).
const CHALLENGE_ATTEMPTS: i64 = 5;
/// Wrong codes in a row a factor takes across its challenges (four challenges' attempts) before
/// it is locked; NIST SP 800-63B §5.2.2 allows at most 100.
const FACTOR_FAILURES_IN_A_ROW: i64 = 20;
/// How long a factor stays locked after the failure that reached the limit. Each guess after
/// that locks it again: one guess per period, until a right code ends the run.
const FACTOR_LOCKED_SECONDS: i64 = 15 * 60;
const CHALLENGE_SECONDS: i64 = 300;

fn invalid(param: &'static str, message: impl Into<String>) -> VerifyError {
    VerifyError::Invalid {
        param,
        message: message.into(),
    }
}

/// How a factor makes its codes.
#[derive(Debug, Clone, Copy)]
pub struct FactorConfig {
    pub algorithm: Algorithm,
    pub code_length: u32,
    pub time_step: u32,
    pub skew: u32,
}

fn seal_context(factor: &str) -> String {
    format!("verify-factor:{factor}")
}

fn check_identity(identity: &str) -> Result<(), VerifyError> {
    let fine = (8..=64).contains(&identity.len())
        && identity
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine {
        Ok(())
    } else {
        Err(invalid("Identity", "8 to 64 letters, digits, - or _"))
    }
}

impl Verify {
    pub async fn entity(
        &self,
        service: &ServiceRecord,
        identity: &str,
        create: bool,
        now: Instant,
    ) -> Result<EntityRecord, VerifyError> {
        check_identity(identity)?;
        let create_sid = create.then(|| sid("YE"));
        self.verify_store
            .entity(&service.sid, identity, create_sid.as_deref(), now)
            .await?
            .ok_or(VerifyError::NotFound)
    }

    /// Deletes an entity with its factors and challenges.
    pub async fn delete_entity(
        &self,
        service: &ServiceRecord,
        identity: &str,
        now: Instant,
    ) -> Result<(), VerifyError> {
        let entity = self.entity(service, identity, false, now).await?;
        self.verify_store.delete_entity(&entity.sid).await?;
        Ok(())
    }

    /// A new, unverified TOTP factor; its secret and URI are shown only now.
    pub async fn create_factor(
        &self,
        service: &ServiceRecord,
        identity: &str,
        friendly_name: &str,
        secret: Option<&str>,
        config: FactorConfig,
        now: Instant,
    ) -> Result<(FactorRecord, TotpSecret, String), VerifyError> {
        let name = friendly_name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(invalid("FriendlyName", "1 to 64 characters"));
        }
        let params = TotpParams::new(
            config.algorithm,
            config.code_length.max(6),
            config.time_step,
            config.skew,
        )
        .map_err(|e| invalid("Config", e.message))?;
        let secret = match secret {
            Some(raw) => {
                TotpSecret::from_base32(raw).map_err(|e| invalid("Binding.Secret", e.message))?
            }
            None => TotpSecret::generate(),
        };
        let entity = self.entity(service, identity, true, now).await?;
        let factor_sid = sid("YF");
        let issuer = service
            .totp_issuer
            .clone()
            .unwrap_or_else(|| service.friendly_name.clone());
        let uri = otpauth_uri(&issuer, name, &secret, &params);
        let factor = FactorRecord {
            secret: self
                .secrets
                .seal(secret.bytes(), &seal_context(&factor_sid)),
            sid: factor_sid,
            entity_sid: entity.sid,
            friendly_name: name.to_owned(),
            algorithm: config.algorithm.uri_name().to_lowercase(),
            code_length: i64::from(config.code_length),
            time_step: i64::from(config.time_step),
            skew: i64::from(config.skew),
            status: "unverified".into(),
            last_used_step: None,
            created_at: now,
            updated_at: now,
        };
        self.verify_store.insert_factor(&factor).await?;
        Ok((factor, secret, uri))
    }

    pub async fn factor(
        &self,
        service: &ServiceRecord,
        identity: &str,
        factor_sid: &str,
        now: Instant,
    ) -> Result<FactorRecord, VerifyError> {
        let entity = self.entity(service, identity, false, now).await?;
        self.verify_store
            .factor(&entity.sid, factor_sid)
            .await?
            .ok_or(VerifyError::NotFound)
    }

    /// Whether `payload` is a fresh code of the factor; a right one spends its step. Every
    /// guess counts against the factor's limit of wrong codes in a row.
    async fn accept_payload(
        &self,
        factor: &FactorRecord,
        payload: &str,
        now: Instant,
    ) -> Result<bool, VerifyError> {
        let Ok(code) = OtpCode::parse(payload) else {
            return Err(invalid("AuthPayload", "a code of 3 to 8 digits"));
        };
        if !self
            .verify_store
            .reserve_factor_guess(
                &factor.sid,
                FACTOR_FAILURES_IN_A_ROW,
                now.plus_seconds(-FACTOR_LOCKED_SECONDS),
                now,
            )
            .await?
        {
            return Err(VerifyError::FactorLocked {
                minutes: FACTOR_LOCKED_SECONDS / 60,
            });
        }
        let algorithm = Algorithm::parse(&factor.algorithm)
            .map_err(|e| VerifyError::Internal(anyhow::anyhow!("{}", e.message)))?;
        let params = TotpParams {
            algorithm,
            digits: factor.code_length as u32,
            period: factor.time_step as u32,
            skew: factor.skew as u32,
        };
        let bytes = self
            .secrets
            .open(&factor.secret, &seal_context(&factor.sid))
            .map_err(|e| VerifyError::Internal(e.into()))?;
        let secret = TotpSecret::from_bytes(bytes)
            .map_err(|e| VerifyError::Internal(anyhow::anyhow!("{}", e.message)))?;
        let last = factor.last_used_step.map(|s| s.max(0) as u64);
        let Some(step) = params.matching_step(&secret, &code, now.seconds(), last) else {
            return Ok(false);
        };
        Ok(self
            .verify_store
            .claim_factor_step(&factor.sid, step as i64, now)
            .await?)
    }

    /// Verifies a new factor with a first code (`AuthPayload`).
    pub async fn verify_factor(
        &self,
        service: &ServiceRecord,
        identity: &str,
        factor_sid: &str,
        payload: &str,
        now: Instant,
    ) -> Result<FactorRecord, VerifyError> {
        let factor = self.factor(service, identity, factor_sid, now).await?;
        self.accept_payload(&factor, payload, now).await?;
        self.factor(service, identity, factor_sid, now).await
    }

    /// A challenge of a verified factor, answered at once when `payload` is given.
    pub async fn create_factor_challenge(
        &self,
        service: &ServiceRecord,
        identity: &str,
        factor_sid: &str,
        payload: Option<&str>,
        now: Instant,
    ) -> Result<ChallengeRow, VerifyError> {
        let factor = self.factor(service, identity, factor_sid, now).await?;
        if factor.status != "verified" {
            return Err(invalid("FactorSid", "the factor is not verified yet"));
        }
        let challenge = ChallengeRow {
            sid: sid("YC"),
            factor_sid: factor.sid.clone(),
            status: "pending".into(),
            responded_reason: "none".into(),
            attempts: 0,
            created_at: now,
            updated_at: now,
            expires_at: now.plus_seconds(CHALLENGE_SECONDS),
        };
        self.verify_store.insert_challenge_row(&challenge).await?;
        match payload {
            Some(payload) => {
                self.answer_challenge(service, identity, &challenge.sid, payload, now)
                    .await
            }
            None => Ok(challenge),
        }
    }

    pub async fn factor_challenge(
        &self,
        service: &ServiceRecord,
        identity: &str,
        challenge_sid: &str,
        now: Instant,
    ) -> Result<(ChallengeRow, FactorRecord), VerifyError> {
        let challenge = self
            .verify_store
            .challenge_row(challenge_sid)
            .await?
            .ok_or(VerifyError::NotFound)?;
        let factor = self
            .factor(service, identity, &challenge.factor_sid, now)
            .await?;
        let mut challenge = challenge;
        if challenge.status == "pending" && challenge.expires_at <= now {
            challenge.status = "expired".into();
        }
        Ok((challenge, factor))
    }

    /// Answers a pending challenge: `approved` with a fresh right code; wrong codes leave it
    /// pending until its attempts run out (60308).
    pub async fn answer_challenge(
        &self,
        service: &ServiceRecord,
        identity: &str,
        challenge_sid: &str,
        payload: &str,
        now: Instant,
    ) -> Result<ChallengeRow, VerifyError> {
        let (challenge, factor) = self
            .factor_challenge(service, identity, challenge_sid, now)
            .await?;
        if challenge.status != "pending" {
            return Ok(challenge);
        }
        if self
            .verify_store
            .reserve_challenge_attempt(&challenge.sid, CHALLENGE_ATTEMPTS, now)
            .await?
            .is_none()
        {
            return Err(VerifyError::ChallengeAttempts);
        }
        if self.accept_payload(&factor, payload, now).await? {
            self.verify_store
                .finish_challenge(&challenge.sid, "approved", now)
                .await?;
        }
        Ok(self
            .factor_challenge(service, identity, challenge_sid, now)
            .await?
            .0)
    }
}
