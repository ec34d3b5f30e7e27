//! A security key or a passkey registered during a login that must enrol a second factor
//! (`PendingLogin::must_enrol`: the user has none, or an administrator's access code let the
//! login through). The ceremony runs under the login's `twoFactorId` instead of a session and
//! is bound to it; the key is kept, with the login's completion code on its challenge, in one
//! transaction that refuses a login gone or already enrolled, and a user who meanwhile has a
//! second factor (`TwoFactor::key_enrolment` says who may enrol). The code then completes the
//! login as any enrolment's does, as a key (`amr` `hwk`, `mfa`).

use super::rules::Purpose;
use super::{
    Claimed, Registered, RegistrationAnswer, StartedRegistration, WebAuthn, WebauthnError, field,
};
use crate::audit::{Actor, Origin};
use crate::clock::Instant;
use crate::domain::Invalid;
use crate::key_policy::KeyKind;
use crate::store::{KeyAtLogin, KeyChange, NewRecoveryCodes};
use crate::two_factor::{
    AFTER_A_FACTOR_CHANGE, CompleteLogin, CompletedLogin, KeyLogin, PendingLogin, SecondStep,
    TwoFactorError,
};

/// The kinds of key a login that must enrol is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyChoices {
    /// A security key: a second factor beside the password.
    pub security_key: bool,
    /// A passkey: discoverable and user-verified, which also signs in alone.
    pub passkey: bool,
}

impl KeyChoices {
    pub fn any(self) -> bool {
        self.security_key || self.passkey
    }

    fn offers(self, purpose: Purpose) -> bool {
        match purpose {
            Purpose::PasskeyRegistration => self.passkey,
            _ => self.security_key,
        }
    }
}

/// The keys the login `pending` may enrol: the kinds its settings allow (`two_factor.webauthn`),
/// wherever WebAuthn is on (the public URL has a domain name). The one place that decides it,
/// for the pages and the API alike.
pub fn keys_offered(webauthn_on: bool, pending: &PendingLogin) -> KeyChoices {
    let allows = |kind| webauthn_on && pending.policy.webauthn.allows(kind);
    KeyChoices {
        security_key: allows(KeyKind::SecurityKey),
        passkey: allows(KeyKind::Passkey),
    }
}

/// A key registered during a login: the key (with the recovery codes to show once), and the
/// one-time code that completes the login.
#[derive(Debug)]
pub struct EnrolledAtLogin {
    pub registered: Registered,
    pub completion_code: String,
}

impl WebAuthn {
    /// The keys the login `pending` is offered to enrol (`keys_offered`).
    pub fn keys_offered(&self, pending: &PendingLogin) -> KeyChoices {
        keys_offered(self.party.is_some(), pending)
    }

    /// Begins registering a key named `name` for the user of the login waiting under
    /// `two_factor_id`, which must be allowed to enrol one: a passkey's options if `passkey`,
    /// else a security key's, the ceremony bound to that login for five minutes. A login
    /// unknown, finished or expired is `UnknownChallenge`; one whose user has a second factor
    /// must finish with it (`Forbidden`); a kind not offered is `[disabled]workflow`.
    pub async fn start_registration_at_login(
        &self,
        two_factor_id: &str,
        (name, display_name): (&str, Option<&str>),
        passkey: bool,
        origin: &Origin,
        now: Instant,
    ) -> Result<StartedRegistration, WebauthnError> {
        self.party()?;
        let enrolment = self
            .two_factor
            .enrolment_at_login(two_factor_id, now)
            .await?;
        let pending = self
            .two_factor
            .pending_login(two_factor_id, now)
            .await?
            .ok_or(WebauthnError::TwoFactor(TwoFactorError::UnknownChallenge))?;
        let purpose = if passkey {
            Purpose::PasskeyRegistration
        } else {
            Purpose::Registration
        };
        if !self.keys_offered(&pending).offers(purpose) {
            return Err(field(
                "workflow",
                Invalid::new(
                    "[disabled]",
                    "this kind of key cannot be enrolled at this login",
                ),
            ));
        }
        let user = enrolment.user;
        let login = Some(enrolment.id_hash);
        self.begin_registration(user, (name, display_name), purpose, login, origin, now)
            .await
    }

    /// Finishes a registration `start_registration_at_login` began for the login waiting under
    /// `two_factor_id`: the answer checked as any registration's, against a ceremony of that
    /// login and its user, then the key kept with its event (`webauthn.register`, by the user,
    /// with the login's type) and the login's completion code, in one transaction. Of
    /// registrations that race for one login, one keeps a key. The recovery codes come as with
    /// any enrolment at login: with a first second factor, or a new set after an access code.
    pub async fn finish_registration_at_login(
        &self,
        two_factor_id: &str,
        answer: &RegistrationAnswer,
        claimed: Claimed<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<EnrolledAtLogin, WebauthnError> {
        self.party()?;
        let enrolment = self.two_factor.key_enrolment(two_factor_id, now).await?;
        let login = &enrolment.login;
        let user = login.user;
        let proved = self
            .prove_registration(user, answer, claimed, Some(&login.id_hash), origin, now)
            .await?;
        let event = proved
            .event(Actor::User(user), origin, now)
            .detail("loginType", login.login_type.as_str());
        let (codes, hashes) = self.two_factor.new_recovery_codes();
        let change = KeyChange {
            trusts: AFTER_A_FACTOR_CHANGE,
            recovery_hashes: &hashes,
            recovery: login.recovery,
            at_login: Some(KeyAtLogin {
                id_hash: &login.id_hash,
                completion_hash: &enrolment.completion_hash,
                max_attempts: login.max_attempts,
                refused_beside: login.refused_beside.as_deref(),
                keys_beside: &login.keys_beside,
            }),
        };
        let first = self.keep(&proved, change, &event).await?;
        tracing::info!(target: "security", user = %user, "security key registered during a login");
        let codes_shown = first || login.recovery == NewRecoveryCodes::Always;
        Ok(EnrolledAtLogin {
            registered: Registered {
                credential: proved.record,
                recovery_codes: codes_shown.then_some(codes),
            },
            completion_code: enrolment.completion_code,
        })
    }

    /// An application's registration during its login (`POST /api/webauthn/register/complete`
    /// with the `twoFactorId`): `finish_registration_at_login`, then the login completed at
    /// once with its completion code, as `POST /api/two-factor/login` completes it (the
    /// computer trusted if asked). The key, and the login.
    pub async fn enrol_key_and_log_in(
        &self,
        request: &KeyLogin,
        answer: &RegistrationAnswer,
        claimed: Claimed<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(Registered, CompletedLogin), WebauthnError> {
        let enrolled = self
            .finish_registration_at_login(&request.two_factor_id, answer, claimed, origin, now)
            .await?;
        let completion = CompleteLogin {
            two_factor_id: request.two_factor_id.clone(),
            code: enrolled.completion_code,
            trust_computer: request.trust_computer,
            application_id: request.application_id.clone(),
            browser_id: request.browser_id.clone(),
        };
        match self
            .two_factor
            .complete_login(&completion, origin, now)
            .await?
        {
            SecondStep::LoggedIn(done) => Ok((enrolled.registered, *done)),
            SecondStep::Enrol => Err(WebauthnError::Internal(anyhow::anyhow!(
                "a login that enrolled a key was sent on to enrolment"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_of_keys_offers_each_kind_by_its_purpose() {
        let keys_only = KeyChoices {
            security_key: true,
            passkey: false,
        };
        assert!(keys_only.offers(Purpose::Registration));
        assert!(!keys_only.offers(Purpose::PasskeyRegistration));
        assert!(keys_only.any());
        assert!(!KeyChoices::default().any());
    }
}
