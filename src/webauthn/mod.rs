//! WebAuthn (issue #32): security keys and platform authenticators, through Kanidm's
//! `webauthn-rs`. A registration is two calls: `start_registration` keeps the library's state
//! server-side under the digest of the challenge it sends (any node may finish it, within five
//! minutes, once), and `finish_registration` checks the browser's answer against it and keeps
//! the credential in the same transaction that spends the challenge. The rules are in
//! `rules.rs`. A key is also a login's second factor (`login.rs`), and a passkey a whole login
//! (`passkey.rs`). Every ceremony begun is counted first (`budget.rs`).

mod assert;
mod budget;
mod enrol;
mod login;
mod passkey;
mod policy;
mod rules;

use std::sync::Arc;

use webauthn_rs::prelude::{
    AttestedPasskeyRegistration, CreationChallengeResponse, Credential, CredentialID, Passkey,
    PasskeyRegistration, SecurityKeyRegistration, Uuid, Webauthn, WebauthnBuilder,
};

pub use assert::{KeyAnswer, StartedAssertion};
use budget::{CeremonyLimits, StartedBy};
pub use enrol::{EnrolledAtLogin, KeyChoices, keys_offered};
pub use passkey::{PasskeyLogin, PasskeySignIn};
use rules::Purpose;
pub use rules::{
    AssertionAnswer, AssertionResponse, AttestationAnswer, CEREMONY_SECONDS, RegistrationAnswer,
};

use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::config::{RelyingParty, WebauthnConfig};
use crate::domain::{FieldError, Invalid, KeyName, Reason, UserId};
use crate::key_policy::KeyKind;
use crate::sessions::Sessions;
use crate::store::{
    AuditStore, CounterStore, CredentialRecord, KeyChange, NewCeremony, NewRecoveryCodes,
    SessionRecord, Store, StoreError, StoredCredential, UserStore, WebauthnStore,
};
use crate::two_factor::{AFTER_A_FACTOR_CHANGE, TwoFactor, TwoFactorError};

/// The kind a passkey registration makes: discoverable, user-verified, a login of its own.
const PASSKEY: &str = "passkey";

#[derive(Debug, thiserror::Error)]
pub enum WebauthnError {
    /// The request does not hold: the fields refused, nothing written.
    #[error("{}", .0.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The public URL has no domain name, so no browser would take part.
    #[error("WebAuthn is off: the public URL has no domain name")]
    Unavailable,
    #[error("there is no such user")]
    NoSuchUser,
    /// A login's assertion that did not pass, counted as a wrong code (FusionAuth's 421); the
    /// field says why.
    #[error("{}", .0.message)]
    Refused(FieldError),
    /// A passkey that proved right, of a disabled account.
    #[error("the account is disabled")]
    Inactive,
    /// The login the key was to finish: unknown or spent (404), too many failures (429).
    #[error(transparent)]
    TwoFactor(TwoFactorError),
    /// Too many ceremonies begun lately from this client address (or, `per_user`, for this
    /// user): none begun, nothing written (429).
    #[error(
        "too many security-key requests {}; try again in {retry_after_seconds} seconds",
        if *per_user { "for this account" } else { "from this address" }
    )]
    Throttled {
        retry_after_seconds: i64,
        per_user: bool,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<TwoFactorError> for WebauthnError {
    fn from(error: TwoFactorError) -> Self {
        match error {
            TwoFactorError::Internal(e) => Self::Internal(e),
            other => Self::TwoFactor(other),
        }
    }
}

impl From<StoreError> for WebauthnError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.into())
    }
}

impl From<FieldError> for WebauthnError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

fn field(name: &str, invalid: Invalid) -> WebauthnError {
    WebauthnError::Invalid(vec![FieldError::new(name, invalid)])
}

/// What a registration asks of the browser (`{publicKey: …}`), and the ceremony it opened.
#[derive(Debug)]
pub struct StartedRegistration {
    pub options: CreationChallengeResponse,
    pub ceremony: String,
}

/// A key just registered, and the recovery codes to show once when it is the user's first
/// second factor (as the enable of a first method shows them).
#[derive(Debug)]
pub struct Registered {
    pub credential: CredentialRecord,
    pub recovery_codes: Option<Vec<String>>,
}

/// A registration's answer that passed the checks: the key to keep, and the ceremony its
/// keeping spends.
struct ProvedKey {
    ceremony: String,
    purpose: Purpose,
    record: CredentialRecord,
}

impl ProvedKey {
    /// The event of its registration, by `actor`.
    fn event(&self, actor: Actor, origin: &Origin, now: Instant) -> AuditEvent {
        AuditEvent::new(EventKind::WebauthnRegister, actor, origin, now)
            .target(self.record.user_id)
            .detail("webauthnId", self.record.id.clone())
            .detail("name", self.record.name.clone())
            .detail("kind", self.record.kind.clone())
    }
}

/// What the browser's answer to a registration claims of where it was made: FusionAuth's
/// `origin` and `rpId`, which must be this server's.
#[derive(Debug, Clone, Copy)]
pub struct Claimed<'a> {
    pub origin: &'a str,
    pub rp_id: &'a str,
}

#[derive(Clone)]
pub struct WebAuthn {
    store: WebauthnStore,
    users: UserStore,
    /// Ceremonies begun, counted against `limits` (`budget.rs`).
    counters: CounterStore,
    limits: CeremonyLimits,
    /// A refused clone is audited outside any change.
    audit: AuditStore,
    /// None when the public URL has no domain name.
    party: Option<Arc<(Webauthn, RelyingParty)>>,
    /// A login's second factor: its challenge, guesses and session (`login.rs`).
    two_factor: TwoFactor,
    /// A passkey's login opens its session itself (`passkey.rs`).
    sessions: Sessions,
    /// Keys the made-up credential ids a passkey sign-in names for an unknown login id.
    fake_ids_key: Arc<[u8]>,
    /// The operator's attestation roots (DER), which a restriction by model verifies against.
    attestation_roots: Arc<[Vec<u8>]>,
}

impl WebAuthn {
    /// The service for `party` (none: every call answers `Unavailable`), shown to people as
    /// `product_name`, its ceremonies limited as `config` says. `fake_ids_key` is a secret of
    /// the server's: the same login id gets the same made-up credential ids from every node and
    /// after every restart.
    pub fn new(
        store: Store,
        party: Option<RelyingParty>,
        config: &WebauthnConfig,
        product_name: &str,
        two_factor: TwoFactor,
        sessions: Sessions,
        fake_ids_key: &[u8],
    ) -> anyhow::Result<Self> {
        // The configuration's file, read once at the start (`check-config` reads it too).
        let attestation_roots = config.attestation_roots().map_err(anyhow::Error::msg)?;
        let party = match party {
            None => None,
            Some(party) => {
                let webauthn = WebauthnBuilder::new(&party.id, &party.origin)?
                    .rp_name(product_name)
                    .build()?;
                Some(Arc::new((webauthn, party)))
            }
        };
        Ok(Self {
            store: store.webauthn(),
            users: store.users(),
            counters: store.counters(),
            limits: CeremonyLimits::of(config),
            audit: store.audit(),
            party,
            two_factor,
            sessions,
            fake_ids_key: fake_ids_key.into(),
            attestation_roots: attestation_roots.into(),
        })
    }

    fn party(&self) -> Result<&(Webauthn, RelyingParty), WebauthnError> {
        self.party.as_deref().ok_or(WebauthnError::Unavailable)
    }

    /// This server's relying party (its id and its one origin), which the pages' own answers
    /// claim; none when WebAuthn is off.
    pub fn relying_party(&self) -> Option<&RelyingParty> {
        self.party.as_deref().map(|(_, party)| party)
    }

    /// Begins registering a security key named `name` for `user`: the options for the
    /// browser's `navigator.credentials.create`, its keys already registered excluded,
    /// attestation none (or `direct`, where the settings restrict models), user verification
    /// preferred (or required, as the settings say). Refused, and audited, where the settings
    /// switch security keys off.
    pub async fn start_registration(
        &self,
        user: UserId,
        name: &str,
        display_name: Option<&str>,
        origin: &Origin,
        now: Instant,
    ) -> Result<StartedRegistration, WebauthnError> {
        let purpose = Purpose::Registration;
        self.begin_registration(user, (name, display_name), purpose, None, origin, now)
            .await
    }

    /// Begins a registration of `purpose`: a security key's, or a passkey's (`passkey.rs`);
    /// bound to the login whose `twoFactorId` digest is `login`, for one during a login
    /// (`enrol.rs`).
    async fn begin_registration(
        &self,
        user: UserId,
        (name, display_name): (&str, Option<&str>),
        purpose: Purpose,
        login: Option<String>,
        origin: &Origin,
        now: Instant,
    ) -> Result<StartedRegistration, WebauthnError> {
        let (webauthn, _) = self.party()?;
        let name = KeyName::parse(name).map_err(|e| field("name", e))?;
        let account = self
            .users
            .user(user)
            .await?
            .filter(|u| u.active)
            .ok_or(WebauthnError::NoSuchUser)?;
        let kind = kind_of(purpose);
        let policy = self.key_policy().await?;
        if let Some(refusal) = policy.registration_refusal(kind) {
            return Err(self
                .refuse_by_policy(user, "registration", refusal, false, origin, now)
                .await);
        }
        let cas = self.attestation_cas(&policy)?;
        let display_name = match display_name.map(str::trim) {
            Some("") | None => account.username.to_string(),
            Some(given) => KeyName::parse(given)
                .map_err(|e| field("displayName", e))?
                .to_string(),
        };
        let exclude = self
            .store
            .credentials_of(user)
            .await?
            .iter()
            .filter_map(|c| decode_id(&c.credential_id))
            .collect::<Vec<CredentialID>>();
        let unique = Uuid::parse_str(&user.to_string()).map_err(anyhow::Error::from)?;
        let username = account.username.as_str();
        let starting = |e| anyhow::anyhow!("starting a registration: {e}");
        let stored = |e| anyhow::anyhow!("keeping a registration: {e}");
        let (options, state) = match (kind, cas) {
            // A passkey whose model must be proved: attested, bound to its device.
            (KeyKind::Passkey, Some(cas)) => {
                let (options, state) = webauthn
                    .start_attested_passkey_registration(
                        unique,
                        username,
                        &display_name,
                        Some(exclude),
                        cas,
                        None,
                    )
                    .map_err(starting)?;
                let state = serde_json::to_string(&state).map_err(stored)?;
                (passkey::discoverable(options), state)
            }
            (KeyKind::Passkey, None) => {
                let (options, state) = webauthn
                    .start_passkey_registration(unique, username, &display_name, Some(exclude))
                    .map_err(starting)?;
                let state = serde_json::to_string(&state).map_err(stored)?;
                (passkey::discoverable(options), state)
            }
            (KeyKind::SecurityKey, cas) => {
                let (mut options, state) = webauthn
                    .start_securitykey_registration(
                        unique,
                        username,
                        &display_name,
                        Some(exclude),
                        cas,
                        None,
                    )
                    .map_err(starting)?;
                policy::ask_verification_to_register(&policy, kind, &mut options);
                consistent_protection(&mut options);
                (options, serde_json::to_string(&state).map_err(stored)?)
            }
        };
        let ceremony = rules::ceremony_id(&options.public_key.challenge);
        let kept = NewCeremony {
            id: ceremony.clone(),
            user: Some(user),
            purpose: purpose.as_str(),
            login_id_hash: login,
            name: name.to_string(),
            display_name,
            state,
            created_at: now,
            expires_at: Instant::from_millis(now.millis() + CEREMONY_SECONDS * 1000),
        };
        self.keep_ceremony(&kept, StartedBy::User(user), now)
            .await?;
        Ok(StartedRegistration { options, ceremony })
    }

    /// Finishes `user`'s registration with the browser's `answer`: checked against the
    /// ceremony its challenge names (this user's, unexpired, unspent), then kept, with its
    /// event, in the transaction that spends the ceremony. A key is a change of second factors
    /// (`AFTER_A_FACTOR_CHANGE`), and a user's first one comes with recovery codes. Any refusal
    /// writes nothing. The person's own `session`, where they registered it, has used the key:
    /// it counts as re-authenticated with it, as one that enrolled a method does.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_registration(
        &self,
        user: UserId,
        answer: &RegistrationAnswer,
        claimed: Claimed<'_>,
        session: Option<&SessionRecord>,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Registered, WebauthnError> {
        let proved = self
            .prove_registration(user, answer, claimed, None, origin, now)
            .await?;
        let event = proved.event(actor, origin, now);
        let (codes, hashes) = self.two_factor.new_recovery_codes();
        let change = KeyChange {
            trusts: AFTER_A_FACTOR_CHANGE,
            recovery_hashes: &hashes,
            recovery: NewRecoveryCodes::WithAFirstMethod,
            at_login: None,
        };
        let first = self.keep(&proved, change, &event).await?;
        if let Some(session) = session {
            self.sessions
                .credit_second_factor(session, "hwk", now)
                .await?;
        }
        Ok(Registered {
            credential: proved.record,
            recovery_codes: first.then_some(codes),
        })
    }

    /// Checks a registration's `answer` for `user` against the ceremony its challenge names
    /// (this user's, of the login whose `twoFactorId` digest is `login` if any, unexpired,
    /// unspent) and by the library: the key to keep, or why not. Nothing is written.
    async fn prove_registration(
        &self,
        user: UserId,
        answer: &RegistrationAnswer,
        claimed: Claimed<'_>,
        login: Option<&str>,
        origin: &Origin,
        now: Instant,
    ) -> Result<ProvedKey, WebauthnError> {
        let (webauthn, party) = self.party()?;
        check_claims(party, claimed, answer.rp_id.as_deref())?;
        let (credential, ceremony_id) = rules::read_registration(answer)?;
        let ceremony = self.store.ceremony(&ceremony_id).await?;
        // A registration answers the ceremony it was begun as: a security key's or a passkey's.
        let passkey = Purpose::PasskeyRegistration;
        let purpose = match ceremony.as_ref() {
            Some(c) if c.purpose == passkey.as_str() => passkey,
            _ => Purpose::Registration,
        };
        rules::ceremony_verdict(ceremony.as_ref(), Some(user), purpose, login, now)?;
        let ceremony = ceremony.expect("the verdict found it");
        let policy_now = self.key_policy().await?;
        let unreadable =
            |e: serde_json::Error| anyhow::anyhow!("a stored registration does not read: {e}");
        let refused = |e: webauthn_rs::prelude::WebauthnError| rules::registration_refusal(&e);
        let json = |e: serde_json::Error| anyhow::Error::from(e);
        // Each state of the three keeps the library's checks of its kind: an attested passkey's
        // carries the roots and models its attestation must lead to.
        let finished = if purpose == passkey {
            match serde_json::from_str::<AttestedPasskeyRegistration>(&ceremony.state) {
                // Kept as a passkey, which a sign-in reads; its attestation stays inside.
                Ok(state) => webauthn
                    .finish_attested_passkey_registration(&credential, &state)
                    .map_err(refused)
                    .map(Passkey::from)
                    .map(|key| serde_json::to_string(&key).map(|b| (Credential::from(key), b))),
                Err(_) => {
                    let state: PasskeyRegistration =
                        serde_json::from_str(&ceremony.state).map_err(unreadable)?;
                    webauthn
                        .finish_passkey_registration(&credential, &state)
                        .map_err(refused)
                        .map(|key| serde_json::to_string(&key).map(|b| (Credential::from(key), b)))
                }
            }
        } else {
            let state: SecurityKeyRegistration =
                serde_json::from_str(&ceremony.state).map_err(unreadable)?;
            webauthn
                .finish_securitykey_registration(&credential, &state)
                .map_err(refused)
                .map(|key| serde_json::to_string(&key).map(|b| (Credential::from(key), b)))
        };
        let kind = kind_of(purpose);
        let (inner, blob) = match finished {
            Ok(made) => made.map_err(json)?,
            Err(refusal) if policy::is_policy_refusal(&refusal) => {
                return Err(self
                    .refuse_by_policy(user, "registration", refusal, false, origin, now)
                    .await);
            }
            Err(refusal) => return Err(refusal.into()),
        };
        // The settings may have changed since the ceremony began: those in force decide.
        if let Some(refusal) = policy_now.use_refusal(kind, inner.user_verified, rules::ATTESTATION)
        {
            return Err(self
                .refuse_by_policy(user, "registration", refusal, false, origin, now)
                .await);
        }
        let kind = kind.as_str();
        let record = CredentialRecord {
            id: Uuid::new_v4().to_string(),
            user_id: user,
            credential_id: encode_id(&inner.cred_id),
            kind: kind.to_owned(),
            name: ceremony.name.clone(),
            display_name: ceremony.display_name.clone(),
            credential: blob,
            counter: i64::from(inner.counter),
            backup_eligible: inner.backup_eligible,
            backup_state: inner.backup_state,
            created_at: now,
            last_used_at: None,
        };
        Ok(ProvedKey {
            ceremony: ceremony.id,
            purpose,
            record,
        })
    }

    /// Keeps a proven key with its `event` and what `change` says, spending its ceremony:
    /// whether it is the user's first second factor.
    async fn keep(
        &self,
        proved: &ProvedKey,
        change: KeyChange<'_>,
        event: &AuditEvent,
    ) -> Result<bool, WebauthnError> {
        let purpose = proved.purpose.as_str();
        match self
            .store
            .insert_credential(&proved.ceremony, purpose, &proved.record, change, event)
            .await?
        {
            StoredCredential::Stored { first } => Ok(first),
            StoredCredential::CeremonyGone => Err(WebauthnError::from(rules::spent_ceremony())),
            StoredCredential::Duplicate => Err(field(
                "credential",
                Invalid::new("[duplicate]", "this key is registered already"),
            )),
            StoredCredential::Refused => Err(WebauthnError::TwoFactor(TwoFactorError::Forbidden(
                "this login must be finished with the second factor already enrolled".into(),
            ))),
            StoredCredential::LoginGone => {
                Err(WebauthnError::TwoFactor(TwoFactorError::UnknownChallenge))
            }
        }
    }

    /// A user's keys, oldest first.
    pub async fn credentials_of(
        &self,
        user: UserId,
    ) -> Result<Vec<CredentialRecord>, WebauthnError> {
        Ok(self.store.credentials_of(user).await?)
    }

    /// Removes the key `id`, whoever's it is: whether there was one. A change of second
    /// factors, as a method's removal: the trusts end, and the recovery codes go with the last
    /// second factor (`TwoFactorStore::remove_method` follows the same rule).
    pub async fn delete(
        &self,
        id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<bool, WebauthnError> {
        let Some(key) = self.store.credential(id).await? else {
            return Ok(false);
        };
        let event = removal_event(&key, actor, origin, now);
        Ok(self
            .store
            .delete_credential(key.user_id, &key.id, AFTER_A_FACTOR_CHANGE, &event)
            .await?)
    }

    /// Removes `user`'s key `id`, never another user's (a page names its key by a form's id),
    /// with an administrator's `reason` in its event when one is given: whether there was one.
    pub async fn delete_of(
        &self,
        user: UserId,
        id: &str,
        reason: Option<&str>,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<bool, WebauthnError> {
        let reason = reason
            .map(|r| Reason::parse(r).map_err(|e| field("reason", e)))
            .transpose()?;
        let Some(key) = self
            .store
            .credential(id)
            .await?
            .filter(|k| k.user_id == user)
        else {
            return Ok(false);
        };
        let mut event = removal_event(&key, actor, origin, now);
        if let Some(reason) = reason {
            event = event.detail("reason", reason.as_str());
        }
        Ok(self
            .store
            .delete_credential(user, &key.id, AFTER_A_FACTOR_CHANGE, &event)
            .await?)
    }
}

/// The kind of credential a registration of `purpose` makes.
fn kind_of(purpose: Purpose) -> KeyKind {
    if purpose == Purpose::PasskeyRegistration {
        KeyKind::Passkey
    } else {
        KeyKind::SecurityKey
    }
}

/// The event of `key`'s removal: which key, its name, and its kind, which the security notice
/// names (`notices/rules.rs`), as a registration's event does.
fn removal_event(
    key: &CredentialRecord,
    actor: Actor,
    origin: &Origin,
    now: Instant,
) -> AuditEvent {
    AuditEvent::new(EventKind::WebauthnDelete, actor, origin, now)
        .target(key.user_id)
        .detail("webauthnId", key.id.clone())
        .detail("name", key.name.clone())
        .detail("kind", key.kind.clone())
}

/// FusionAuth's `origin` and `rpId` (and the credential's own `rpId`, when it has one) must
/// be this server's.
fn check_claims(
    party: &RelyingParty,
    claimed: Claimed<'_>,
    answer_rp_id: Option<&str>,
) -> Result<(), WebauthnError> {
    if claimed.rp_id != party.id || answer_rp_id.is_some_and(|r| r != party.id) {
        return Err(field(
            "rpId",
            Invalid::new(
                "[invalid]",
                format!("this server's relying party id is {}", party.id),
            ),
        ));
    }
    let ours = party.origin.as_str().trim_end_matches('/');
    if claimed.origin.trim_end_matches('/') != ours {
        return Err(field(
            "origin",
            Invalid::new("[invalid]", format!("this server's origin is {ours}")),
        ));
    }
    Ok(())
}

/// Chromium refuses every registration that asks a credProtect of "user verification required"
/// while verification itself is only preferred, as webauthn-rs 0.5 asks of security keys
/// (kanidm/webauthn-rs#490): such a request goes without it, which the library's finish takes
/// as an extension the authenticator ignored.
fn consistent_protection(options: &mut CreationChallengeResponse) {
    // The library's enums are not exported: they are compared as they go over the wire.
    fn said<T: serde::Serialize>(value: &T) -> Option<String> {
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
    }
    let key = &mut options.public_key;
    let verification_required = key
        .authenticator_selection
        .as_ref()
        .is_some_and(|s| said(&s.user_verification).as_deref() == Some("required"));
    if let Some(extensions) = key.extensions.as_mut()
        && !verification_required
        && extensions.cred_protect.as_ref().is_some_and(|p| {
            said(&p.credential_protection_policy).as_deref() == Some("userVerificationRequired")
        })
    {
        extensions.cred_protect = None;
    }
}

fn encode_id(id: &CredentialID) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_slice())
}

fn decode_id(text: &str) -> Option<CredentialID> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .map(CredentialID::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_security_keys_options_ask_no_protection_chromium_refuses() {
        let origin = url::Url::parse("http://localhost:8080").unwrap();
        let webauthn = WebauthnBuilder::new("localhost", &origin)
            .unwrap()
            .build()
            .unwrap();
        let (mut options, _) = webauthn
            .start_securitykey_registration(Uuid::new_v4(), "ann", "Ann", None, None, None)
            .unwrap();
        let asked = |o: &CreationChallengeResponse| {
            serde_json::to_value(o).unwrap()["publicKey"]["extensions"]
                .get("credentialProtectionPolicy")
                .cloned()
        };
        // What the library asks, and Chromium refuses with user verification only preferred.
        assert_eq!(asked(&options), Some("userVerificationRequired".into()));
        consistent_protection(&mut options);
        assert_eq!(asked(&options), None);
        let json = serde_json::to_value(&options).unwrap();
        assert_eq!(
            json["publicKey"]["authenticatorSelection"]["userVerification"],
            "preferred"
        );
        assert_eq!(json["publicKey"]["extensions"]["credProps"], true);
    }
}
