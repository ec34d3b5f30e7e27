//! The authentication ceremony with a security key: `start_assertion` asks the browser to sign
//! a challenge with one of the user's keys, and `assert` checks the signature and moves the
//! key's counter forward in the transaction that spends the challenge. A counter that does not
//! move forward is a clone's (or a replay's): refused, audited, nothing else written.

use webauthn_rs::prelude::{
    AuthenticationResult, RequestChallengeResponse, SecurityKey, SecurityKeyAuthentication,
};

use super::budget::StartedBy;
use super::rules::{self, Purpose};
use super::{AssertionAnswer, Claimed, WebAuthn, WebauthnError, field};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{Invalid, UserId};
use crate::key_policy::KeyKind;
use crate::sessions::with_second_factor;
use crate::store::{CredentialRecord, NewCeremony, SessionProof, SessionRecord, UsedCredential};
use crate::two_factor::TwoFactorError;

/// What an assertion asks of the browser (`{publicKey: …}`), and the ceremony it opened.
#[derive(Debug)]
pub struct StartedAssertion {
    pub options: RequestChallengeResponse,
    pub ceremony: String,
}

/// A key's answer to an assertion, and where the browser says it made it.
#[derive(Debug, Clone, Copy)]
pub struct KeyAnswer<'a> {
    pub answer: &'a AssertionAnswer,
    pub claimed: Claimed<'a>,
}

/// What a right answer writes to the person's session, in the transaction that spends its
/// ceremony: the session's new `amr` and the event that says so (the key's id added to it).
struct Reauthentication<'a> {
    session: &'a SessionRecord,
    amr: Vec<String>,
    event: AuditEvent,
}

impl WebAuthn {
    /// Begins an assertion by one of `user`'s keys (security keys and passkeys): the options
    /// for `navigator.credentials.get`, the ceremony kept five minutes for one answer, which
    /// `assert` checks. This is the `reauthentication` workflow: proof that the person holds
    /// one of their keys, without a login. Counted against the user (`budget.rs`).
    pub async fn start_assertion(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<StartedAssertion, WebauthnError> {
        self.users
            .user(user)
            .await?
            .filter(|u| u.active)
            .ok_or(WebauthnError::NoSuchUser)?;
        self.begin_assertion(
            user,
            Purpose::Authentication,
            None,
            "userId",
            StartedBy::User(user),
            now,
        )
        .await
    }

    /// Begins an assertion by one of `user`'s keys as a ceremony of `purpose` (bound to the
    /// login `login_id_hash`, a second factor's), counted against `by`; a user without keys is
    /// refused as `field`.
    pub(super) async fn begin_assertion(
        &self,
        user: UserId,
        purpose: Purpose,
        login_id_hash: Option<String>,
        field_name: &str,
        by: StartedBy<'_>,
        now: Instant,
    ) -> Result<StartedAssertion, WebauthnError> {
        let (webauthn, _) = self.party()?;
        let policy = self.key_policy().await?;
        // A passkey's blob reads as a security key's: both are the library's credential. Only
        // the kinds the settings allow are offered.
        let keys = self
            .store
            .credentials_of(user)
            .await?
            .iter()
            .filter(|c| policy.allows(KeyKind::of(&c.kind)))
            .map(|c| serde_json::from_str::<SecurityKey>(&c.credential))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("a stored security key does not read: {e}"))?;
        if keys.is_empty() {
            return Err(field(
                field_name,
                Invalid::new("[noKeys]", "this user has no security key"),
            ));
        }
        let (mut options, state) = webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|e| anyhow::anyhow!("starting an assertion: {e}"))?;
        // The library hints at a roaming key; a passkey on this phone or computer may answer too.
        options.public_key.hints = None;
        super::policy::ask_verification_to_assert(&policy, &mut options);
        let ceremony = rules::ceremony_id(&options.public_key.challenge);
        let kept = NewCeremony {
            id: ceremony.clone(),
            user: Some(user),
            purpose: purpose.as_str(),
            login_id_hash,
            name: String::new(),
            display_name: String::new(),
            state: serde_json::to_string(&state).map_err(anyhow::Error::from)?,
            created_at: now,
            expires_at: Instant::from_millis(now.millis() + rules::CEREMONY_SECONDS * 1000),
        };
        self.keep_ceremony(&kept, by, now).await?;
        Ok(StartedAssertion { options, ceremony })
    }

    /// Whether `key` reads as an answer made at this server: a 400's field otherwise, before
    /// anything is counted or looked up.
    pub fn check_answer(&self, key: KeyAnswer<'_>) -> Result<(), WebauthnError> {
        let (_, party) = self.party()?;
        super::check_claims(party, key.claimed, key.answer.rp_id.as_deref())?;
        rules::read_assertion(key.answer)?;
        Ok(())
    }

    /// Checks the browser's `answer` against the ceremony its challenge names and the key it
    /// names, and notes the use: the key, as now stored. Any refusal writes nothing, but a
    /// counter that did not move forward is audited as `webauthn.clone_refused`. With the
    /// person's own `session`, the ceremony must be its user's, and the session is
    /// re-authenticated with the key (`hwk`, `mfa`) in the same transaction, as a code's
    /// re-authentication records it (`login.reauthenticate`).
    pub async fn assert(
        &self,
        answer: &AssertionAnswer,
        claimed: Claimed<'_>,
        session: Option<&SessionRecord>,
        origin: &Origin,
        now: Instant,
    ) -> Result<CredentialRecord, WebauthnError> {
        let proof = session.map(|session| {
            let proved = ["hwk".to_owned()];
            let user = session.user_id;
            Reauthentication {
                session,
                amr: with_second_factor(session.amr.clone(), &proved),
                event: AuditEvent::new(EventKind::Reauthenticate, Actor::User(user), origin, now)
                    .target(user)
                    .detail("amr", proved.to_vec()),
            }
        });
        self.assert_proving(KeyAnswer { answer, claimed }, proof, origin, now)
            .await
    }

    /// A key's answer proving `session`'s person again, as the caller (re-authentication,
    /// step-up: `auth/session.rs`) decided it counts: the session takes `amr` and a fresh
    /// authentication time, and `event` (with the key's id) is written, in the transaction that
    /// spends the ceremony, which must be the session user's. Refusals as `assert`'s.
    pub async fn prove_session(
        &self,
        key: KeyAnswer<'_>,
        session: &SessionRecord,
        amr: Vec<String>,
        event: AuditEvent,
        origin: &Origin,
        now: Instant,
    ) -> Result<CredentialRecord, WebauthnError> {
        let proof = Reauthentication {
            session,
            amr,
            event,
        };
        self.assert_proving(key, Some(proof), origin, now).await
    }

    async fn assert_proving(
        &self,
        key: KeyAnswer<'_>,
        proof: Option<Reauthentication<'_>>,
        origin: &Origin,
        now: Instant,
    ) -> Result<CredentialRecord, WebauthnError> {
        let KeyAnswer { answer, claimed } = key;
        let (webauthn, party) = self.party()?;
        super::check_claims(party, claimed, answer.rp_id.as_deref())?;
        let (credential, ceremony_id, credential_id) = rules::read_assertion(answer)?;
        let ceremony = self.store.ceremony(&ceremony_id).await?;
        let user = match &proof {
            Some(proof) => proof.session.user_id,
            None => ceremony
                .as_ref()
                .and_then(|c| c.user_id)
                .unwrap_or_else(UserId::new),
        };
        rules::ceremony_verdict(
            ceremony.as_ref(),
            Some(user),
            Purpose::Authentication,
            None,
            now,
        )?;
        let ceremony = ceremony.expect("the verdict found it");
        let Some(mut record) = self.store.credential_of(user, &credential_id).await? else {
            return Err(field(
                "credential.id",
                Invalid::new(
                    "[invalid]",
                    "is not one of the keys this challenge was given for",
                ),
            ));
        };
        let state: SecurityKeyAuthentication = serde_json::from_str(&ceremony.state)
            .map_err(|e| anyhow::anyhow!("a stored assertion does not read: {e}"))?;
        let result = match webauthn.finish_securitykey_authentication(&credential, &state) {
            Ok(result) => result,
            Err(error) => {
                let refusal = rules::assertion_refusal(&error);
                if refusal.code.starts_with("[cloned]") {
                    self.refuse_clone(&record, None, origin, now).await?;
                }
                return Err(refusal.into());
            }
        };
        // The settings in force: a kind switched off since, or a person not verified.
        if let Some(refusal) = self.key_policy().await?.use_refusal(
            KeyKind::of(&record.kind),
            result.user_verified(),
            rules::AUTHENTICATOR_DATA,
        ) {
            return Err(self
                .refuse_by_policy(user, "assertion", refusal, false, origin, now)
                .await);
        }
        let mut key: SecurityKey = serde_json::from_str(&record.credential)
            .map_err(|e| anyhow::anyhow!("a stored security key does not read: {e}"))?;
        key.update_credential(&result);
        let counter = i64::from(result.counter());
        let blob = serde_json::to_string(&key).map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(EventKind::WebauthnAssert, Actor::User(user), origin, now)
            .target(user)
            .detail("webauthnId", record.id.clone())
            .detail("name", record.name.clone())
            .detail("counter", counter);
        let proof = proof.map(|p| Reauthentication {
            event: p.event.detail("webauthnId", record.id.clone()),
            ..p
        });
        let session_proof = proof.as_ref().map(|p| SessionProof {
            session_id: &p.session.id,
            amr: &p.amr,
            event: &p.event,
        });
        match self
            .store
            .use_credential(
                &ceremony.id,
                (user, &record.id),
                counter,
                &blob,
                &event,
                session_proof,
            )
            .await?
        {
            UsedCredential::Used => {
                record.counter = counter;
                record.credential = blob;
                record.last_used_at = Some(now);
                Ok(record)
            }
            UsedCredential::SessionEnded => Err(WebauthnError::TwoFactor(
                TwoFactorError::Forbidden("the session ended: log in again".into()),
            )),
            UsedCredential::CeremonyGone => Err(field(
                "credential.response.clientDataJSON",
                Invalid::new("[invalid]", "answers a challenge already used: start again"),
            )),
            UsedCredential::CounterBehind | UsedCredential::UserInactive => {
                self.refuse_clone(&record, Some(&result), origin, now)
                    .await?;
                Err(rules::assertion_refusal(
                    &webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise,
                )
                .into())
            }
        }
    }

    /// Audits a key refused for a counter that did not move forward.
    pub(super) async fn refuse_clone(
        &self,
        record: &CredentialRecord,
        result: Option<&AuthenticationResult>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), WebauthnError> {
        let mut event = AuditEvent::new(
            EventKind::WebauthnCloneRefused,
            Actor::Anonymous,
            origin,
            now,
        )
        .target(record.user_id)
        .detail("webauthnId", record.id.clone())
        .detail("name", record.name.clone())
        .detail("stored", record.counter);
        if let Some(result) = result {
            event = event.detail("counter", i64::from(result.counter()));
        }
        Ok(self.audit.record_event(&event).await?)
    }
}
