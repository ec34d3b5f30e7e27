//! The key policy at the ceremonies (`key_policy.rs`'s rules): what a registration or an
//! assertion asks of the authenticator under the settings in force — user verification, and
//! `direct` attestation verified against the operator's roots for the models allowed — and
//! each refusal audited as `webauthn.policy_refused`.

use webauthn_rs::prelude::{
    AttestationCaList, AttestationCaListBuilder, CreationChallengeResponse,
    RequestChallengeResponse,
};
use webauthn_rs_proto::UserVerificationPolicy;

use super::{WebAuthn, WebauthnError, field};
use crate::audit::Origin;
use crate::clock::Instant;
use crate::domain::{FieldError, Invalid, UserId};
use crate::key_policy::{Attestation, KeyKind, WebauthnPolicy};
use crate::two_factor::TwoFactorError;

impl WebAuthn {
    /// The `webauthn` section of the settings in force.
    pub(super) async fn key_policy(&self) -> Result<WebauthnPolicy, WebauthnError> {
        Ok(self.two_factor.two_factor_policy().await?.webauthn)
    }

    /// Whether the login page offers a passkey sign-in: WebAuthn is on and the settings allow
    /// passkeys.
    pub async fn offers_passkeys(&self) -> Result<bool, WebauthnError> {
        Ok(self.party.is_some() && self.key_policy().await?.passkeys)
    }

    /// What a registration's attestation must lead to: every root of the configuration for
    /// every model the settings allow (which root makes which model is the maker's to know);
    /// none when models are not restricted.
    pub(super) fn attestation_cas(
        &self,
        policy: &WebauthnPolicy,
    ) -> Result<Option<AttestationCaList>, WebauthnError> {
        if policy.attestation() == Attestation::None {
            return Ok(None);
        }
        if self.attestation_roots.is_empty() {
            return Err(field(
                "workflow",
                Invalid::new(
                    "[invalid]",
                    "registration is limited to authenticator models this server cannot \
                     verify: its configuration names no attestation roots \
                     (webauthn.attestation_roots_file)",
                ),
            ));
        }
        let mut builder = AttestationCaListBuilder::new();
        for root in self.attestation_roots.iter() {
            for model in &policy.allowed_aaguids {
                builder
                    .insert_device_der(root, *model, model.to_string(), Default::default())
                    .map_err(|e| anyhow::anyhow!("an attestation root does not read: {e}"))?;
            }
        }
        Ok(Some(builder.build()))
    }

    /// Audits `user`'s `what` refused by the key policy, and answers it as `refusal`, said as
    /// a field of the request (`counted`: as a login's refused guess, 421).
    pub(super) async fn refuse_by_policy(
        &self,
        user: UserId,
        what: &'static str,
        refusal: FieldError,
        counted: bool,
        origin: &Origin,
        now: Instant,
    ) -> WebauthnError {
        let reason = reason_of(&refusal);
        match self
            .two_factor
            .refuse_by_key_policy(user, reason, what, refusal, origin, now)
            .await
        {
            TwoFactorError::Invalid(mut fields) if counted && fields.len() == 1 => {
                WebauthnError::Refused(fields.remove(0))
            }
            TwoFactorError::Invalid(fields) => WebauthnError::Invalid(fields),
            other => other.into(),
        }
    }
}

/// The audit's reason for a refusal by the key policy, read from its code.
fn reason_of(refusal: &FieldError) -> &'static str {
    if refusal.code.starts_with("[forbidden]") {
        "kind_forbidden"
    } else if refusal.code.starts_with("[unverified]") {
        "user_not_verified"
    } else {
        "authenticator_not_allowed"
    }
}

/// Whether a refusal of the library's is the key policy's: an attestation that does not lead
/// to an allowed model.
pub(super) fn is_policy_refusal(refusal: &FieldError) -> bool {
    refusal.code.starts_with("[notAllowed]") || refusal.code.starts_with("[unverified]")
}

/// A registration of `kind` asks for the person's verification where the settings require it
/// (a passkey's options ask for it already).
pub(super) fn ask_verification_to_register(
    policy: &WebauthnPolicy,
    kind: KeyKind,
    options: &mut CreationChallengeResponse,
) {
    if policy.requires_verification(kind)
        && let Some(selection) = options.public_key.authenticator_selection.as_mut()
    {
        selection.user_verification = UserVerificationPolicy::Required;
    }
}

/// An assertion asks for the person's verification where the settings require it of security
/// keys (a passkey registered with it is held to it by the library whatever is asked).
pub(super) fn ask_verification_to_assert(
    policy: &WebauthnPolicy,
    options: &mut RequestChallengeResponse,
) {
    if policy.requires_verification(KeyKind::SecurityKey) {
        options.public_key.user_verification = UserVerificationPolicy::Required;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_policy::UserVerification;
    use webauthn_rs::prelude::{Url, Uuid, WebauthnBuilder};

    #[test]
    fn required_verification_is_asked_of_a_security_key_and_its_protection_kept() {
        let origin = Url::parse("http://localhost:8080").unwrap();
        let webauthn = WebauthnBuilder::new("localhost", &origin)
            .unwrap()
            .build()
            .unwrap();
        let (mut options, _) = webauthn
            .start_securitykey_registration(Uuid::new_v4(), "ann", "Ann", None, None, None)
            .unwrap();
        let required = WebauthnPolicy {
            user_verification: UserVerification::Required,
            ..WebauthnPolicy::default()
        };
        ask_verification_to_register(
            &WebauthnPolicy::default(),
            KeyKind::SecurityKey,
            &mut options,
        );
        let said = |o: &CreationChallengeResponse| serde_json::to_value(o).unwrap();
        assert_eq!(
            said(&options)["publicKey"]["authenticatorSelection"]["userVerification"],
            "preferred"
        );
        ask_verification_to_register(&required, KeyKind::SecurityKey, &mut options);
        super::super::consistent_protection(&mut options);
        let json = said(&options);
        assert_eq!(
            json["publicKey"]["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert_eq!(
            json["publicKey"]["extensions"]["credentialProtectionPolicy"],
            "userVerificationRequired"
        );
        let (mut asked, _) = webauthn.start_discoverable_authentication().unwrap();
        asked.public_key.user_verification = UserVerificationPolicy::Preferred;
        ask_verification_to_assert(&WebauthnPolicy::default(), &mut asked);
        assert_eq!(
            asked.public_key.user_verification,
            UserVerificationPolicy::Preferred
        );
        ask_verification_to_assert(&required, &mut asked);
        assert_eq!(
            serde_json::to_value(&asked).unwrap()["publicKey"]["userVerification"],
            "required"
        );
    }
}
