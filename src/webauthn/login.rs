//! A security key (or a passkey) as the second factor of a login waiting under its
//! `twoFactorId`. The ceremony is bound to that login; its answer is a guess like a code's,
//! counted first by `TwoFactor::reserve_key_guess` under the same rules (attempts, the account's
//! failure limit, the user active), then checked by webauthn-rs, and the login completes in the
//! transaction that spends the ceremony and moves the key's counter forward
//! (`TwoFactor::finish_key_login`). A refused answer stays a failure, as a wrong code does.

use webauthn_rs::prelude::{
    AuthenticationResult, PublicKeyCredential, SecurityKey, SecurityKeyAuthentication, Webauthn,
};

use super::budget::StartedBy;
use super::rules::{self, Purpose};
use super::{AssertionAnswer, Claimed, StartedAssertion, WebAuthn, WebauthnError, check_claims};
use crate::audit::Origin;
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{FieldError, Invalid};
use crate::key_policy::KeyKind;
use crate::store::CredentialRecord;
use crate::two_factor::{CompletedLogin, KeyGuess, KeyLogin, KeyUse, KeyUseEnd, TwoFactorError};

/// What the library made of an answer that passed it.
struct Proved {
    record: CredentialRecord,
    result: AuthenticationResult,
    used: KeyUse,
}

impl WebAuthn {
    /// Begins the second factor of the login waiting under `two_factor_id` (the `twoFactorId`
    /// of `POST /api/login`'s 242, or of a login on the pages) with one of its user's keys:
    /// the options for `navigator.credentials.get`, the ceremony bound to that login for five
    /// minutes. An unknown, finished or expired login is `TwoFactorError::UnknownChallenge`; a
    /// user without keys `[noKeys]twoFactorId`. There is no session yet: counted against the
    /// client address of `origin` (`budget.rs`).
    pub async fn start_second_factor(
        &self,
        two_factor_id: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<StartedAssertion, WebauthnError> {
        self.party()?;
        let pending = self
            .two_factor
            .pending_login(two_factor_id, now)
            .await?
            .ok_or(WebauthnError::TwoFactor(TwoFactorError::UnknownChallenge))?;
        self.begin_assertion(
            pending.user.id,
            Purpose::SecondFactor,
            Some(random::lookup_digest(two_factor_id)),
            "twoFactorId",
            StartedBy::Address(origin),
            now,
        )
        .await
    }

    /// Finishes the login `request.two_factor_id` with a key's `answer` to the ceremony
    /// `start_second_factor` began: the same guards as a code's (`TwoFactorError`: unknown
    /// login, too many failures), the assertion checked, then one transaction that completes
    /// the login, spends the ceremony and moves the counter forward. An answer that does not
    /// read, or whose claimed origin or relying party is not this server's, is refused
    /// uncounted (`Invalid`); one the checks refuse counts as a wrong code (`Refused`), a
    /// counter that did not move forward also audited as `webauthn.clone_refused`. The answer
    /// is the same as a code's: the session's tokens, and a trust token when asked for.
    pub async fn finish_second_factor(
        &self,
        request: &KeyLogin,
        answer: &AssertionAnswer,
        claimed: Claimed<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<CompletedLogin, WebauthnError> {
        let (webauthn, party) = self.party()?;
        check_claims(party, claimed, answer.rp_id.as_deref())?;
        let (credential, ceremony_id, credential_id) = rules::read_assertion(answer)?;
        let guess = self
            .two_factor
            .reserve_key_guess(request, origin, now)
            .await?;
        let proved = match self
            .prove(
                webauthn,
                &guess,
                &credential,
                &ceremony_id,
                &credential_id,
                origin,
                now,
            )
            .await?
        {
            Ok(proved) => proved,
            Err(refusal) => {
                self.two_factor.refuse_key_guess(guess, origin, now).await?;
                return Err(WebauthnError::Refused(refusal));
            }
        };
        let Proved {
            record,
            result,
            used,
        } = proved;
        let user = record.user_id;
        match self
            .two_factor
            .finish_key_login(guess, used, request, origin, now)
            .await?
        {
            KeyUseEnd::LoggedIn(done) => Ok(*done),
            KeyUseEnd::CeremonyGone => Err(WebauthnError::Refused(rules::spent_ceremony())),
            KeyUseEnd::NotMoved => match self.store.credential_of(user, &credential_id).await? {
                None => Err(WebauthnError::Refused(removed_key())),
                Some(now_stored) => {
                    self.refuse_clone(&now_stored, Some(&result), origin, now)
                        .await?;
                    Err(WebauthnError::Refused(rules::assertion_refusal(
                        &webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise,
                    )))
                }
            },
        }
    }

    /// Checks an answer against the ceremony it names, which must be this login's, and the
    /// key it names, which must still be the user's: what to write, or why it is refused.
    #[allow(clippy::too_many_arguments)]
    async fn prove(
        &self,
        webauthn: &Webauthn,
        guess: &KeyGuess,
        credential: &PublicKeyCredential,
        ceremony_id: &str,
        credential_id: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<Result<Proved, FieldError>, WebauthnError> {
        let user = guess.user().id;
        let ceremony = self.store.ceremony(ceremony_id).await?;
        if let Err(refusal) = rules::ceremony_verdict(
            ceremony.as_ref(),
            Some(user),
            Purpose::SecondFactor,
            Some(guess.login_id_hash()),
            now,
        ) {
            return Ok(Err(refusal));
        }
        let ceremony = ceremony.expect("the verdict found it");
        let Some(record) = self.store.credential_of(user, credential_id).await? else {
            return Ok(Err(removed_key()));
        };
        let state: SecurityKeyAuthentication = serde_json::from_str(&ceremony.state)
            .map_err(|e| anyhow::anyhow!("a stored assertion does not read: {e}"))?;
        let result = match webauthn.finish_securitykey_authentication(credential, &state) {
            Ok(result) => result,
            Err(error) => {
                let refusal = rules::assertion_refusal(&error);
                if refusal.code.starts_with("[cloned]") {
                    self.refuse_clone(&record, None, origin, now).await?;
                }
                return Ok(Err(refusal));
            }
        };
        // The settings in force: a kind switched off since the login began, or a person not
        // verified. Audited, and counted as the failure the guess already is.
        if let Some(refusal) = self.key_policy().await?.use_refusal(
            KeyKind::of(&record.kind),
            result.user_verified(),
            rules::AUTHENTICATOR_DATA,
        ) {
            return match self
                .refuse_by_policy(user, "second_factor", refusal, true, origin, now)
                .await
            {
                WebauthnError::Refused(refusal) => Ok(Err(refusal)),
                other => Err(other),
            };
        }
        let mut key: SecurityKey = serde_json::from_str(&record.credential)
            .map_err(|e| anyhow::anyhow!("a stored security key does not read: {e}"))?;
        key.update_credential(&result);
        let used = KeyUse {
            ceremony: ceremony.id,
            credential: record.id.clone(),
            counter: i64::from(result.counter()),
            blob: serde_json::to_string(&key).map_err(anyhow::Error::from)?,
        };
        Ok(Ok(Proved {
            record,
            result,
            used,
        }))
    }
}

fn removed_key() -> FieldError {
    FieldError::new(
        "credential.id",
        Invalid::new(
            "[invalid]",
            "is not one of the keys of this login's user (removed since the login began?)",
        ),
    )
}
