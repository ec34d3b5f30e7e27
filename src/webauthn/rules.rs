//! The pure parts of WebAuthn: a registration's answer read from FusionAuth's shape, whether a
//! ceremony may still be finished, and webauthn-rs's refusals said as the field they concern.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, WebauthnError};

use crate::clock::Instant;
use crate::domain::{FieldError, Invalid, UserId};
use crate::store::CeremonyRecord;

/// What a ceremony is for: kept with it, and asked of it when it is answered, so that an answer
/// to one kind of ceremony finishes no other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A security key's registration.
    Registration,
    /// A passkey's registration: a resident key, the person verified.
    PasskeyRegistration,
    /// Proof that a user holds one of their keys, no login (`assert`).
    Authentication,
    /// A login's second factor, bound to its `twoFactorId`.
    SecondFactor,
    /// A passkey sign-in, bound to no user.
    Passkey,
}

impl Purpose {
    /// As the store keeps it (`webauthn_challenges.purpose`).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Registration => "registration",
            Purpose::PasskeyRegistration => "passkey_registration",
            Purpose::Authentication => "authentication",
            Purpose::SecondFactor => "second_factor",
            Purpose::Passkey => "passkey",
        }
    }
}

/// How long a ceremony may be finished after it began: webauthn-rs's own timeout for the
/// browser, five minutes.
pub const CEREMONY_SECONDS: i64 = 300;

/// A registration's answer as FusionAuth takes it (`credential` of `register/complete`), which
/// is also what `PublicKeyCredential.toJSON()` gives: binary fields in base64url.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationAnswer {
    /// The credential id, base64url.
    pub id: String,
    /// The same id; `id` when left out.
    #[serde(default)]
    pub raw_id: Option<String>,
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    pub response: AttestationAnswer,
    /// Transports the browser reported (FusionAuth's place for them).
    #[serde(default)]
    pub transports: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub client_extension_results: Option<serde_json::Value>,
    #[serde(default)]
    pub authenticator_attachment: Option<String>,
    /// FusionAuth's credential may repeat the relying party's id; it must be ours.
    #[serde(default)]
    pub rp_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestationAnswer {
    /// The CBOR attestation object, base64url.
    pub attestation_object: String,
    /// The client data, base64url of its JSON.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(default)]
    pub transports: Option<Vec<String>>,
}

/// An assertion as FusionAuth takes it (`credential` of `/api/webauthn/assert` and `login`),
/// which is also what `PublicKeyCredential.toJSON()` gives: binary fields in base64url.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssertionAnswer {
    /// The credential id, base64url.
    pub id: String,
    #[serde(default)]
    pub raw_id: Option<String>,
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    pub response: AssertionResponse,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub client_extension_results: Option<serde_json::Value>,
    #[serde(default)]
    pub authenticator_attachment: Option<String>,
    #[serde(default)]
    pub rp_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponse {
    /// The authenticator data, base64url.
    pub authenticator_data: String,
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// The signature, base64url.
    pub signature: String,
    #[serde(default)]
    pub user_handle: Option<String>,
}

pub(super) const ATTESTATION: &str = "credential.response.attestationObject";
const CLIENT_DATA: &str = "credential.response.clientDataJSON";

fn refused(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, Invalid::new(code, message))
}

/// base64url as browsers and libraries write it (with or without padding); plain base64 too,
/// as some clients send it.
fn decode(field: &str, text: &str) -> Result<Vec<u8>, FieldError> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(text))
        .map_err(|_| refused(field, "[invalid]", "is not base64url"))
}

/// The answer, checked as far as reading goes, and the id of the ceremony it answers: the
/// SHA-256 of the challenge its client data carries.
pub fn read_registration(
    answer: &RegistrationAnswer,
) -> Result<(RegisterPublicKeyCredential, String), FieldError> {
    if answer.type_.as_deref().is_some_and(|t| t != "public-key") {
        return Err(refused(
            "credential.type",
            "[invalid]",
            "a WebAuthn credential's type is public-key",
        ));
    }
    let raw_id = decode(
        "credential.rawId",
        answer.raw_id.as_deref().unwrap_or(&answer.id),
    )?;
    decode("credential.id", &answer.id)?;
    let attestation = decode(ATTESTATION, &answer.response.attestation_object)?;
    let client_data = decode(CLIENT_DATA, &answer.response.client_data_json)?;
    let ceremony = ceremony_of(&client_data)?;
    let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    // webauthn-rs reads its own shape: rebuilt from the decoded parts, so that a field it
    // refuses is one we have named already.
    let reshaped = serde_json::json!({
        "id": answer.id,
        "rawId": encode(&raw_id),
        "type": "public-key",
        "response": {
            "attestationObject": encode(&attestation),
            "clientDataJSON": encode(&client_data),
        },
        "extensions": {},
    });
    let credential = serde_json::from_value(reshaped)
        .map_err(|_| refused("credential", "[invalid]", "is not a WebAuthn credential"))?;
    Ok((credential, ceremony))
}

/// An assertion, checked as far as reading goes: the library's shape, the ceremony it answers
/// and the credential id (base64url, without padding) it names.
pub fn read_assertion(
    answer: &AssertionAnswer,
) -> Result<(PublicKeyCredential, String, String), FieldError> {
    if answer.type_.as_deref().is_some_and(|t| t != "public-key") {
        return Err(refused(
            "credential.type",
            "[invalid]",
            "a WebAuthn credential's type is public-key",
        ));
    }
    let raw_id = decode(
        "credential.rawId",
        answer.raw_id.as_deref().unwrap_or(&answer.id),
    )?;
    let authenticator_data = decode(AUTHENTICATOR_DATA, &answer.response.authenticator_data)?;
    // The relying party's hash, the flags and the counter come first: shorter is no answer,
    // refused here rather than counted against a login as a wrong one.
    if authenticator_data.len() < 37 {
        return Err(refused(
            AUTHENTICATOR_DATA,
            "[invalid]",
            "is not authenticator data (37 bytes at least)",
        ));
    }
    let client_data = decode(CLIENT_DATA, &answer.response.client_data_json)?;
    let signature = decode("credential.response.signature", &answer.response.signature)?;
    let user_handle = answer
        .response
        .user_handle
        .as_deref()
        .filter(|h| !h.is_empty())
        .map(|h| decode("credential.response.userHandle", h))
        .transpose()?;
    let ceremony = ceremony_of(&client_data)?;
    let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let reshaped = serde_json::json!({
        "id": encode(&raw_id),
        "rawId": encode(&raw_id),
        "type": "public-key",
        "response": {
            "authenticatorData": encode(&authenticator_data),
            "clientDataJSON": encode(&client_data),
            "signature": encode(&signature),
            "userHandle": user_handle.as_deref().map(encode),
        },
        "extensions": {},
    });
    let credential = serde_json::from_value(reshaped)
        .map_err(|_| refused("credential", "[invalid]", "is not a WebAuthn assertion"))?;
    Ok((credential, ceremony, encode(&raw_id)))
}

pub(super) const AUTHENTICATOR_DATA: &str = "credential.response.authenticatorData";

/// webauthn-rs's refusal of an assertion, said as the field it concerns.
pub fn assertion_refusal(error: &WebauthnError) -> FieldError {
    use WebauthnError as E;
    match error {
        E::InvalidClientDataType => refused(
            CLIENT_DATA,
            "[invalid]",
            "is not an assertion's (its type is not webauthn.get)",
        ),
        E::InvalidRPIDHash => refused(
            AUTHENTICATOR_DATA,
            "[invalid]",
            "was made for another relying party id than this server's",
        ),
        E::UserNotPresent => refused(
            AUTHENTICATOR_DATA,
            "[invalid]",
            "says the person was not present (touch the key)",
        ),
        E::UserNotVerified => refused(
            AUTHENTICATOR_DATA,
            "[unverified]",
            "says the person was not verified",
        ),
        E::AuthenticationFailure => refused(
            "credential.response.signature",
            "[invalid]",
            "does not verify with the key's public key",
        ),
        E::CredentialPossibleCompromise => refused(
            AUTHENTICATOR_DATA,
            "[cloned]",
            "carries a signature counter that did not move forward: the key may be cloned",
        ),
        E::ParseCBORFailure(_) | E::ParseNOMFailure | E::ParseInsufficientBytesAvailable => {
            refused(AUTHENTICATOR_DATA, "[invalid]", "is not authenticator data")
        }
        E::CredentialNotFound => refused(
            "credential.id",
            "[invalid]",
            "is not one of the keys this challenge was given for",
        ),
        // Origin, challenge, cross-origin: the client data's, as for a registration.
        other => registration_refusal(other),
    }
}

/// An answer to a ceremony spent meanwhile (by a concurrent answer, or a replay).
pub fn spent_ceremony() -> FieldError {
    refused(
        CLIENT_DATA,
        "[invalid]",
        "answers a challenge already used: start again",
    )
}

/// The ceremony id a client data JSON answers: the SHA-256 (hex) of its challenge's bytes.
fn ceremony_of(client_data: &[u8]) -> Result<String, FieldError> {
    #[derive(Deserialize)]
    struct ClientData {
        challenge: String,
    }
    let data: ClientData = serde_json::from_slice(client_data).map_err(|_| {
        refused(
            CLIENT_DATA,
            "[invalid]",
            "is not client data JSON with a challenge",
        )
    })?;
    let challenge = decode(CLIENT_DATA, &data.challenge)?;
    Ok(ceremony_id(&challenge))
}

/// The id a ceremony is kept under: the SHA-256 (hex) of its challenge.
pub fn ceremony_id(challenge: &[u8]) -> String {
    hex::encode(Sha256::digest(challenge))
}

/// Whether `ceremony` (if any) may be finished at `now` as a `purpose`, by `user` (`None`: a
/// passkey sign-in's, bound to no user), for the login whose `twoFactorId` digest is `login`
/// (a second factor's).
pub fn ceremony_verdict(
    ceremony: Option<&CeremonyRecord>,
    user: Option<UserId>,
    purpose: Purpose,
    login: Option<&str>,
    now: Instant,
) -> Result<(), FieldError> {
    let message = match ceremony {
        None => "answers no challenge this server gave",
        Some(c)
            if c.user_id != user
                || c.purpose != purpose.as_str()
                || c.login_id_hash.as_deref() != login =>
        {
            "answers a challenge given for another user, login or ceremony"
        }
        Some(c) if c.used_at.is_some() => "answers a challenge already used: start again",
        Some(c) if c.expires_at.millis() <= now.millis() => {
            "answers a challenge that expired: start again"
        }
        Some(_) => return Ok(()),
    };
    Err(refused(CLIENT_DATA, "[invalid]", message))
}

/// webauthn-rs's refusal of a registration, said as the field it concerns.
pub fn registration_refusal(error: &WebauthnError) -> FieldError {
    use WebauthnError as E;
    match error {
        E::InvalidRPOrigin => refused(
            CLIENT_DATA,
            "[invalid]",
            "was made at another origin than this server's",
        ),
        E::CredentialCrossOrigin => refused(CLIENT_DATA, "[invalid]", "was made cross-origin"),
        E::MismatchedChallenge => refused(CLIENT_DATA, "[invalid]", "answers another challenge"),
        E::InvalidClientDataType => refused(
            CLIENT_DATA,
            "[invalid]",
            "is not a registration's (its type is not webauthn.create)",
        ),
        E::ParseJSONFailure(_) => refused(CLIENT_DATA, "[invalid]", "is not client data JSON"),
        E::InvalidRPIDHash => refused(
            ATTESTATION,
            "[invalid]",
            "was made for another relying party id than this server's",
        ),
        E::UserNotPresent => refused(
            ATTESTATION,
            "[invalid]",
            "says the person was not present (touch the key)",
        ),
        E::UserNotVerified => refused(
            ATTESTATION,
            "[unverified]",
            "says the person was not verified",
        ),
        // Models restricted by the settings: the attestation must lead to an allowed one.
        E::AttestationNotVerifiable
        | E::AttestationUntrustedAaguid
        | E::AttestationFormatMissingAaguid
        | E::AttestationChainNotTrusted(_)
        | E::AttestationTrustFailure
        | E::AttestationCertificateTrustStoreEmpty => refused(
            ATTESTATION,
            "[notAllowed]",
            "does not prove an authenticator model this server allows (its attestation must \
             lead to the maker's root for an allowed AAGUID): use another key",
        ),
        E::CredentialExcludedFromRequest | E::CredentialAlreadyExists => refused(
            "credential",
            "[duplicate]",
            "this key is registered already",
        ),
        E::ParseCBORFailure(_)
        | E::ParseNOMFailure
        | E::ParseInsufficientBytesAvailable
        | E::MissingAttestationCredentialData
        | E::COSEKeyInvalidCBORValue
        | E::COSEKeyInvalidType => refused(
            ATTESTATION,
            "[invalid]",
            "is not a CBOR attestation object with a credential",
        ),
        E::CredentialInsecureCryptography
        | E::COSEKeyInvalidAlgorithm
        | E::CredentialAlteredAlgFromRequest
        | E::COSEKeyEDUnsupported
        | E::COSEKeyECDSAInvalidCurve => refused(
            ATTESTATION,
            "[invalid]",
            "uses a signature algorithm this server does not accept",
        ),
        other => refused(ATTESTATION, "[invalid]", format!("was refused: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(client_data: &str, attestation: &str) -> RegistrationAnswer {
        RegistrationAnswer {
            id: "AQID".into(),
            raw_id: None,
            type_: Some("public-key".into()),
            response: AttestationAnswer {
                attestation_object: attestation.into(),
                client_data_json: client_data.into(),
                transports: None,
            },
            transports: None,
            client_extension_results: None,
            authenticator_attachment: None,
            rp_id: None,
        }
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn an_answer_names_its_ceremony_by_the_digest_of_its_challenge() {
        let data = br#"{"type":"webauthn.create","challenge":"AAEC","origin":"https://a.example"}"#;
        let (_, ceremony) = read_registration(&answer(&b64(data), &b64(b"\xa0"))).unwrap();
        assert_eq!(ceremony, ceremony_id(&[0, 1, 2]));
        assert_eq!(ceremony.len(), 64);
    }

    #[test]
    fn an_answer_that_does_not_read_names_its_field() {
        let data = b64(br#"{"challenge":"AAEC"}"#);
        let field = |a: RegistrationAnswer| read_registration(&a).unwrap_err().field;
        assert_eq!(field(answer("not base64!", "oA")), CLIENT_DATA);
        assert_eq!(field(answer(&data, "@@")), ATTESTATION);
        assert_eq!(field(answer(&b64(b"{}"), "oA")), CLIENT_DATA);
        assert_eq!(field(answer(&b64(b"[1,2"), "oA")), CLIENT_DATA);
        let mut wrong_type = answer(&data, "oA");
        wrong_type.type_ = Some("password".into());
        assert_eq!(field(wrong_type), "credential.type");
        let mut bad_id = answer(&data, "oA");
        bad_id.raw_id = Some("%%".into());
        assert_eq!(field(bad_id), "credential.rawId");
    }

    #[test]
    fn a_ceremony_is_finished_once_by_its_user_before_it_expires() {
        let ann = UserId::new();
        let now = Instant::from_millis(1_000_000);
        let ceremony = CeremonyRecord {
            id: "c".into(),
            user_id: Some(ann),
            purpose: "registration".into(),
            login_id_hash: None,
            name: "Key".into(),
            display_name: "Ann".into(),
            state: "{}".into(),
            expires_at: Instant::from_millis(now.millis() + 1),
            used_at: None,
        };
        let registration = Purpose::Registration;
        assert!(ceremony_verdict(Some(&ceremony), Some(ann), registration, None, now).is_ok());
        let refusal = |c: &CeremonyRecord, user, purpose, login| {
            ceremony_verdict(Some(c), user, purpose, login, now)
                .unwrap_err()
                .message
        };
        assert!(ceremony_verdict(None, Some(ann), registration, None, now).is_err());
        let another = "another user, login or ceremony";
        assert!(refusal(&ceremony, Some(UserId::new()), registration, None).contains(another));
        assert!(refusal(&ceremony, None, registration, None).contains(another));
        assert!(refusal(&ceremony, Some(ann), Purpose::Authentication, None).contains(another));
        let used = CeremonyRecord {
            used_at: Some(now),
            ..ceremony.clone()
        };
        assert!(refusal(&used, Some(ann), registration, None).contains("already used"));
        let expired = CeremonyRecord {
            expires_at: now,
            ..ceremony
        };
        assert!(refusal(&expired, Some(ann), registration, None).contains("expired"));
    }

    #[test]
    fn a_second_factors_ceremony_finishes_only_its_own_login() {
        let ann = UserId::new();
        let now = Instant::from_millis(1_000_000);
        let ceremony = CeremonyRecord {
            id: "c".into(),
            user_id: Some(ann),
            purpose: "second_factor".into(),
            login_id_hash: Some("login-a".into()),
            name: String::new(),
            display_name: String::new(),
            state: "{}".into(),
            expires_at: Instant::from_millis(now.millis() + 1),
            used_at: None,
        };
        let verdict = |login| {
            ceremony_verdict(
                Some(&ceremony),
                Some(ann),
                Purpose::SecondFactor,
                login,
                now,
            )
        };
        assert!(verdict(Some("login-a")).is_ok());
        assert!(verdict(Some("login-b")).is_err());
        assert!(verdict(None).is_err());
        // A passkey's ceremony is no user's, and no user's answer finishes another's.
        let passkey = CeremonyRecord {
            user_id: None,
            purpose: "passkey".into(),
            login_id_hash: None,
            ..ceremony.clone()
        };
        assert!(ceremony_verdict(Some(&passkey), None, Purpose::Passkey, None, now).is_ok());
        assert!(ceremony_verdict(Some(&passkey), Some(ann), Purpose::Passkey, None, now).is_err());
    }

    #[test]
    fn refusals_name_the_part_of_the_answer_they_concern() {
        assert_eq!(
            registration_refusal(&WebauthnError::InvalidRPOrigin).field,
            CLIENT_DATA
        );
        assert_eq!(
            registration_refusal(&WebauthnError::InvalidRPIDHash).field,
            ATTESTATION
        );
        assert_eq!(
            registration_refusal(&WebauthnError::ParseNOMFailure).code,
            format!("[invalid]{ATTESTATION}")
        );
        assert_eq!(
            registration_refusal(&WebauthnError::CredentialAlreadyExists).code,
            "[duplicate]credential"
        );
    }
}
