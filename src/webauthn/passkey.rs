//! Passkeys (FusionAuth's `bootstrap` workflow): a discoverable credential, registered with user
//! verification required, that logs a person in alone: possession and the person's PIN or
//! biometric in one gesture, so the login has both factors (`amr` `hwk`, `user`, `mfa`) and no
//! password. The sign-in's ceremony is bound to no user: the answer's user handle names one,
//! and only that user's passkeys may answer (a security key is a second factor only). The
//! session opens in the transaction that spends the ceremony and moves the counter forward.

use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey,
};
use webauthn_rs_proto::{AllowCredentials, ResidentKeyRequirement};

use super::budget::StartedBy;
use super::rules::{self, Purpose};
use super::{
    AssertionAnswer, CEREMONY_SECONDS, Claimed, PASSKEY, StartedAssertion, StartedRegistration,
    WebAuthn, WebauthnError, check_claims, field,
};
use crate::account_policy;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{FieldError, Invalid, LoginId, LoginType, User, UserId};
use crate::key_policy::KeyKind;
use crate::sessions::IssuedTokens;
use crate::store::{CredentialRecord, MethodRecord, NewCeremony, UsedCredential};

/// A passkey sign-in's request beside the answer.
#[derive(Debug, Clone)]
pub struct PasskeySignIn {
    /// `api`: tokens for an application; `web`: the pages' session.
    pub login_type: LoginType,
    pub application_id: Option<String>,
    /// The login page's "Remember me", ticked: a web session spared the inactivity timeout, as
    /// a password's login with it is (`Sessions::remembers`).
    pub remember_me: bool,
}

/// A person signed in by a passkey.
#[derive(Debug, Clone)]
pub struct PasskeyLogin {
    pub user: User,
    /// The user's second-factor methods, for the answer's user.
    pub methods: Vec<MethodRecord>,
    pub tokens: IssuedTokens,
    /// The passkey that signed, as now stored.
    pub credential: CredentialRecord,
}

/// webauthn-rs's passkey registration asks for a resident key only as `discouraged`; a passkey
/// here signs in without a username, so it must be discoverable: asked as `required`, as Kanidm
/// asks for its own.
pub(super) fn discoverable(mut options: CreationChallengeResponse) -> CreationChallengeResponse {
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.require_resident_key = true;
        selection.resident_key = Some(ResidentKeyRequirement::Required);
    }
    options
}

impl WebAuthn {
    /// Begins registering a passkey named `name` for `user`: the options for
    /// `navigator.credentials.create` with a resident key and user verification required, its
    /// keys already registered excluded. `finish_registration` keeps it as a `passkey`.
    pub async fn start_passkey_registration(
        &self,
        user: UserId,
        name: &str,
        display_name: Option<&str>,
        origin: &Origin,
        now: Instant,
    ) -> Result<StartedRegistration, WebauthnError> {
        let purpose = Purpose::PasskeyRegistration;
        self.begin_registration(user, (name, display_name), purpose, None, origin, now)
            .await
    }

    /// Begins a passkey sign-in: the options for `navigator.credentials.get`, user
    /// verification required, the ceremony bound to no user (five minutes, one answer). Without
    /// `login_id` no credential is named (the browser offers the passkeys it holds for this
    /// site); with one, that account's passkeys are named — or, for a login id without any,
    /// made-up ids that stay the same for it, so the answer does not tell who has an account.
    /// The options carry no `mediation`: a page asks modally, or conditionally for autofill.
    /// Counted against the client address of `origin` (`budget.rs`).
    pub async fn start_passkey_login(
        &self,
        login_id: Option<&str>,
        origin: &Origin,
        now: Instant,
    ) -> Result<StartedAssertion, WebauthnError> {
        let (webauthn, _) = self.party()?;
        // No user is known yet: nothing to audit, only the answer.
        if let Some(refusal) = self
            .key_policy()
            .await?
            .registration_refusal(KeyKind::Passkey)
        {
            return Err(refusal.into());
        }
        let login_id = login_id
            .map(|raw| LoginId::parse(raw).map_err(|e| field("loginId", e)))
            .transpose()?;
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| anyhow::anyhow!("starting a passkey sign-in: {e}"))?;
        options.mediation = None;
        if let Some(login_id) = &login_id {
            options.public_key.allow_credentials = self
                .passkey_ids(login_id)
                .await?
                .into_iter()
                .map(|id| AllowCredentials {
                    type_: "public-key".into(),
                    id: id.into(),
                    transports: None,
                })
                .collect();
        }
        let ceremony = rules::ceremony_id(&options.public_key.challenge);
        let kept = NewCeremony {
            id: ceremony.clone(),
            user: None,
            purpose: Purpose::Passkey.as_str(),
            login_id_hash: None,
            name: String::new(),
            display_name: String::new(),
            state: serde_json::to_string(&state).map_err(anyhow::Error::from)?,
            created_at: now,
            expires_at: Instant::from_millis(now.millis() + CEREMONY_SECONDS * 1000),
        };
        self.keep_ceremony(&kept, StartedBy::Address(origin), now)
            .await?;
        Ok(StartedAssertion { options, ceremony })
    }

    /// Finishes a passkey sign-in with the browser's `answer`: the user its user handle names,
    /// the answer checked against that user's passkeys with user verification required, then
    /// the session opened in the transaction that spends the ceremony and moves the counter
    /// forward. Every refusal is a field (`Invalid`) and writes nothing but its audit event (a
    /// `login.failure` once the user is known; `webauthn.clone_refused` for a counter that did
    /// not move forward); a right passkey of a disabled account is `Inactive`.
    pub async fn finish_passkey_login(
        &self,
        request: &PasskeySignIn,
        answer: &AssertionAnswer,
        claimed: Claimed<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<PasskeyLogin, WebauthnError> {
        let (webauthn, party) = self.party()?;
        check_claims(party, claimed, answer.rp_id.as_deref())?;
        let (credential, ceremony_id, credential_id) = rules::read_assertion(answer)?;
        let ceremony = self.store.ceremony(&ceremony_id).await?;
        rules::ceremony_verdict(ceremony.as_ref(), None, Purpose::Passkey, None, now)?;
        let ceremony = ceremony.expect("the verdict found it");
        let user = webauthn
            .identify_discoverable_authentication(&credential)
            .ok()
            .and_then(|(unique, _)| UserId::parse(&unique.to_string()).ok())
            .ok_or_else(|| {
                field(
                    "credential.response.userHandle",
                    Invalid::new(
                        "[invalid]",
                        "is missing or names no user: a passkey's answer names its user",
                    ),
                )
            })?;
        let Some(account) = self.users.user(user).await? else {
            return Err(not_a_passkey().into());
        };
        let refuse = |refusal: FieldError| self.refuse_passkey(&account, refusal, origin, now);
        if let Some(refusal) = self
            .key_policy()
            .await?
            .registration_refusal(KeyKind::Passkey)
        {
            return Err(self
                .refuse_by_policy(user, "passkey_login", refusal, false, origin, now)
                .await);
        }
        let passkeys: Vec<CredentialRecord> = self
            .store
            .credentials_of(user)
            .await?
            .into_iter()
            .filter(|c| c.kind == PASSKEY)
            .collect();
        let Some(mut record) = passkeys
            .iter()
            .find(|c| c.credential_id == credential_id)
            .cloned()
        else {
            return Err(refuse(not_a_passkey()).await);
        };
        let keys = passkeys
            .iter()
            .map(|c| serde_json::from_str::<Passkey>(&c.credential).map(DiscoverableKey::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("a stored passkey does not read: {e}"))?;
        let state: DiscoverableAuthentication = serde_json::from_str(&ceremony.state)
            .map_err(|e| anyhow::anyhow!("a stored passkey sign-in does not read: {e}"))?;
        let result = match webauthn.finish_discoverable_authentication(&credential, state, &keys) {
            Ok(result) => result,
            Err(error) => {
                let refusal = rules::assertion_refusal(&error);
                if refusal.code.starts_with("[cloned]") {
                    self.refuse_clone(&record, None, origin, now).await?;
                }
                return Err(refuse(refusal).await);
            }
        };
        if !account.active {
            return Err(WebauthnError::Inactive);
        }
        let mut key: Passkey = serde_json::from_str(&record.credential)
            .map_err(|e| anyhow::anyhow!("a stored passkey does not read: {e}"))?;
        key.update_credential(&result);
        let counter = i64::from(result.counter());
        let blob = serde_json::to_string(&key).map_err(anyhow::Error::from)?;
        // Possession of the key and the person's verification by it: two factors at once.
        let amr = vec!["hwk".to_owned(), "user".to_owned(), "mfa".to_owned()];
        let remembered = self
            .sessions
            .remembers(request.login_type, request.remember_me);
        let (session, refresh_token) = self.sessions.new_session(
            user,
            request.login_type,
            amr.clone(),
            request.application_id.clone(),
            remembered,
            origin,
            now,
        );
        let mut event = AuditEvent::new(EventKind::LoginSuccess, Actor::User(user), origin, now)
            .target(user)
            .detail("amr", amr)
            .detail("loginType", request.login_type.as_str())
            .detail("method", "passkey")
            .detail("webauthnId", record.id.clone());
        if remembered {
            event = event.detail("rememberMe", true);
        }
        match self
            .store
            .open_passkey_session(&ceremony.id, &record.id, counter, &blob, &session, &event)
            .await?
        {
            UsedCredential::Used => {}
            UsedCredential::CeremonyGone => {
                return Err(refuse(rules::spent_ceremony()).await);
            }
            UsedCredential::UserInactive => return Err(WebauthnError::Inactive),
            // A sign-in proves no session again: the store never answers this for it.
            UsedCredential::SessionEnded => {
                return Err(anyhow::anyhow!("a passkey sign-in answered SessionEnded").into());
            }
            UsedCredential::CounterBehind => {
                let refusal = match self.store.credential_of(user, &credential_id).await? {
                    None => not_a_passkey(),
                    Some(now_stored) => {
                        self.refuse_clone(&now_stored, Some(&result), origin, now)
                            .await?;
                        rules::assertion_refusal(
                            &webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise,
                        )
                    }
                };
                return Err(refuse(refusal).await);
            }
        }
        metrics::counter!("tessera_logins_total", "outcome" => "success_passkey").increment(1);
        tracing::info!(target: "security", user = %user, "passkey login succeeded");
        let tokens = self
            .sessions
            .issue_tokens(&account, &session, refresh_token);
        let methods = self.two_factor.user_methods(user).await?;
        record.counter = counter;
        record.credential = blob;
        record.last_used_at = Some(now);
        Ok(PasskeyLogin {
            user: account,
            methods,
            tokens,
            credential: record,
        })
    }

    /// The credential ids a passkey sign-in for `login_id` names: the account's passkeys, or
    /// made-up ones when it has none (or there is no such active account).
    async fn passkey_ids(&self, login_id: &LoginId) -> Result<Vec<Vec<u8>>, WebauthnError> {
        // An address not verified yet names nobody here, as at a password login by default.
        if let Some(found) = self.users.user_by_login_id(login_id).await?
            && found.user.active
            && !account_policy::unverified_login_id(&found.user, login_id)
        {
            let ids: Vec<Vec<u8>> = self
                .store
                .credentials_of(found.user.id)
                .await?
                .iter()
                .filter(|c| c.kind == PASSKEY)
                .filter_map(|c| super::decode_id(&c.credential_id))
                .map(|id| id.as_slice().to_vec())
                .collect();
            if !ids.is_empty() {
                return Ok(ids);
            }
        }
        let name = match login_id {
            LoginId::Username(name) => name.to_string(),
            LoginId::Email(email) => email.to_string(),
        };
        let fakes =
            WebauthnFakeCredentialGenerator::<FakePasskeyDistribution>::new(&self.fake_ids_key)
                .and_then(|generator| generator.generate(name.as_bytes()))
                .map_err(|e| anyhow::anyhow!("making up credential ids: {e}"))?;
        Ok(fakes.iter().map(|id| id.as_slice().to_vec()).collect())
    }

    /// Audits a refused passkey sign-in of `user` as a login's failure, and answers it.
    async fn refuse_passkey(
        &self,
        user: &User,
        refusal: FieldError,
        origin: &Origin,
        now: Instant,
    ) -> WebauthnError {
        let event = AuditEvent::new(EventKind::LoginFailure, Actor::Anonymous, origin, now)
            .target(user.id)
            .detail("reason", "passkey_refused")
            .detail("field", refusal.field.clone());
        tracing::info!(target: "security", user = %user.id, field = refusal.field.as_str(), "passkey login refused");
        metrics::counter!("tessera_logins_total", "outcome" => "passkey_refused").increment(1);
        // A failure to audit a failure must not turn a 400 into a 500; it is logged instead.
        if let Err(error) = self.audit.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
        refusal.into()
    }
}

fn not_a_passkey() -> FieldError {
    FieldError::new(
        "credential.id",
        Invalid::new(
            "[invalid]",
            "is not a passkey of the user its user handle names (a security key is a second \
             factor only)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use webauthn_rs::prelude::{Url, Uuid, WebauthnBuilder};

    #[test]
    fn a_passkeys_registration_asks_for_a_resident_key_and_user_verification() {
        let origin = Url::parse("https://login.example.com").unwrap();
        let webauthn = WebauthnBuilder::new("example.com", &origin)
            .unwrap()
            .build()
            .unwrap();
        let (options, _) = webauthn
            .start_passkey_registration(Uuid::new_v4(), "ann", "Ann", None)
            .unwrap();
        let before = serde_json::to_value(&options).unwrap();
        assert_eq!(
            before["publicKey"]["authenticatorSelection"]["residentKey"], "discouraged",
            "the library's own choice, which `discoverable` changes"
        );
        let after = serde_json::to_value(discoverable(options)).unwrap();
        let selection = &after["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["requireResidentKey"], true);
        assert_eq!(selection["userVerification"], "required");
    }
}
