//! The administrator's rules for security keys and passkeys: the `webauthn` section of the
//! two-factor settings. Which kinds may be used, whether the person must be verified (a PIN or
//! a biometric), who must use a phishing-resistant method (a key) rather than a code, and which
//! authenticator models (AAGUIDs) may register. Pure functions of the settings, without I/O.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{FieldError, GroupId, Invalid};

/// The two kinds of WebAuthn credential, as the store keeps them (`webauthn_credentials.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A second factor after the password.
    SecurityKey,
    /// A discoverable credential that also signs in alone.
    Passkey,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::SecurityKey => "security_key",
            KeyKind::Passkey => "passkey",
        }
    }

    /// The kind a stored credential says; anything else is a security key, as before passkeys.
    pub fn of(stored: &str) -> Self {
        if stored == "passkey" {
            KeyKind::Passkey
        } else {
            KeyKind::SecurityKey
        }
    }

    fn said(self) -> &'static str {
        match self {
            KeyKind::SecurityKey => "security keys",
            KeyKind::Passkey => "passkeys",
        }
    }
}

/// Whether a security key must verify the person (WebAuthn's `userVerification`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    /// Every registration and use must carry the UV flag.
    Required,
    /// Asked for; a key without a PIN or biometric still counts by its presence.
    #[default]
    Preferred,
}

/// What a registration asks of the authenticator about where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attestation {
    /// Nothing: the AAGUID it reports is only its own claim.
    None,
    /// A certificate chain that must lead to one of the operator's attestation roots.
    Direct,
}

/// The `webauthn` section of the two-factor settings. Field names are the API's (camelCase);
/// the configuration file may use the snake_case names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebauthnPolicy {
    /// Security keys may be registered and used.
    #[serde(alias = "security_keys")]
    pub security_keys: bool,
    /// Passkeys may be registered and used.
    pub passkeys: bool,
    /// For security keys; a passkey always verifies the person.
    #[serde(alias = "user_verification")]
    pub user_verification: UserVerification,
    /// Administrators must use a key (or a passkey): no code finishes their logins.
    #[serde(alias = "phishing_resistant_for_admins")]
    pub phishing_resistant_for_admins: bool,
    /// Groups (by id) whose members must use a key, as administrators may have to.
    #[serde(alias = "phishing_resistant_for_groups")]
    #[schema(value_type = Vec<String>)]
    pub phishing_resistant_for_groups: Vec<GroupId>,
    /// Authenticator models that may register (empty: any). Set, a registration asks for
    /// `direct` attestation, verified against the configuration's attestation roots.
    #[serde(alias = "allowed_aaguids")]
    #[schema(value_type = Vec<String>)]
    pub allowed_aaguids: Vec<Uuid>,
}

impl Default for WebauthnPolicy {
    fn default() -> Self {
        Self {
            security_keys: true,
            passkeys: true,
            user_verification: UserVerification::Preferred,
            phishing_resistant_for_admins: false,
            phishing_resistant_for_groups: Vec::new(),
            allowed_aaguids: Vec::new(),
        }
    }
}

impl WebauthnPolicy {
    /// Whether credentials of `kind` may be registered, offered, accepted and counted.
    pub fn allows(&self, kind: KeyKind) -> bool {
        match kind {
            KeyKind::SecurityKey => self.security_keys,
            KeyKind::Passkey => self.passkeys,
        }
    }

    /// Whether one kind or the other is allowed.
    pub fn allows_any(&self) -> bool {
        self.security_keys || self.passkeys
    }

    /// Whether a registration or an assertion of `kind` must carry the UV flag.
    pub fn requires_verification(&self, kind: KeyKind) -> bool {
        kind == KeyKind::Passkey || self.user_verification == UserVerification::Required
    }

    /// Whether this user must finish logins with a key rather than a code: an administrator
    /// under `phishingResistantForAdmins`, or a member of a group it names.
    pub fn must_use_key(&self, is_admin: bool, groups: &[GroupId]) -> bool {
        (self.phishing_resistant_for_admins && is_admin)
            || groups
                .iter()
                .any(|g| self.phishing_resistant_for_groups.contains(g))
    }

    /// What a registration asks for: attestation only when models are restricted, since only a
    /// verified chain makes the AAGUID more than the authenticator's own claim.
    pub fn attestation(&self) -> Attestation {
        if self.allowed_aaguids.is_empty() {
            Attestation::None
        } else {
            Attestation::Direct
        }
    }

    /// Every bad field of the section, named as the API names it.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let wants_keys =
            self.phishing_resistant_for_admins || !self.phishing_resistant_for_groups.is_empty();
        if wants_keys && !self.allows_any() {
            errors.push(FieldError::new(
                "webauthn.phishingResistantForAdmins",
                Invalid::new(
                    "[invalid]",
                    "webauthn: a phishing-resistant method needs security keys or passkeys \
                     allowed, or nobody it names could log in",
                ),
            ));
        }
        if self.allowed_aaguids.iter().any(Uuid::is_nil) {
            errors.push(FieldError::new(
                "webauthn.allowedAaguids",
                Invalid::new(
                    "[invalid]",
                    "webauthn.allowedAaguids: the nil AAGUID names no model (it is what keys \
                     without attestation report)",
                ),
            ));
        }
        let mut seen = self.allowed_aaguids.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.allowed_aaguids.len() {
            errors.push(FieldError::new(
                "webauthn.allowedAaguids",
                Invalid::new(
                    "[duplicate]",
                    "webauthn.allowedAaguids names one model twice",
                ),
            ));
        }
        let mut groups = self.phishing_resistant_for_groups.clone();
        groups.sort_by_key(|g| g.to_string());
        groups.dedup();
        if groups.len() != self.phishing_resistant_for_groups.len() {
            errors.push(FieldError::new(
                "webauthn.phishingResistantForGroups",
                Invalid::new(
                    "[duplicate]",
                    "webauthn.phishingResistantForGroups names one group twice",
                ),
            ));
        }
        errors
    }

    /// Why a registration of `kind` is refused now, if it is.
    pub fn registration_refusal(&self, kind: KeyKind) -> Option<FieldError> {
        (!self.allows(kind)).then(|| forbidden(kind))
    }

    /// Why a credential of `kind` that answered with the UV flag `verified` (a registration
    /// or an assertion) is refused, if it is: its kind is switched off, or the person was not
    /// verified where the settings require it.
    pub fn use_refusal(&self, kind: KeyKind, verified: bool, field: &str) -> Option<FieldError> {
        if !self.allows(kind) {
            return Some(forbidden(kind));
        }
        (self.requires_verification(kind) && !verified).then(|| {
            FieldError::new(
                field,
                Invalid::new(
                    "[unverified]",
                    "says the person was not verified: this server requires a PIN or a \
                     biometric on the key",
                ),
            )
        })
    }
}

fn forbidden(kind: KeyKind) -> FieldError {
    FieldError::new(
        "workflow",
        Invalid::new(
            "[forbidden]",
            format!("{} are switched off on this server", kind.said()),
        ),
    )
}

/// Why a code is refused at the login of a user who must use a key.
pub fn code_refusal() -> FieldError {
    FieldError::new(
        "code",
        Invalid::new(
            "[keyRequired]",
            "this account must finish logging in with a security key or passkey, not a code \
             (a recovery code still works if the key is lost)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyKind::*;

    #[test]
    fn both_kinds_are_allowed_and_only_passkeys_must_verify_by_default() {
        let policy = WebauthnPolicy::default();
        assert!(policy.allows(SecurityKey) && policy.allows(Passkey));
        assert!(!policy.requires_verification(SecurityKey));
        assert!(policy.requires_verification(Passkey));
        assert_eq!(policy.attestation(), Attestation::None);
        assert!(policy.check().is_empty());
        assert!(!policy.must_use_key(true, &[GroupId::new()]));
    }

    #[test]
    fn a_forbidden_kind_is_refused_at_registration_and_at_use() {
        let policy = WebauthnPolicy {
            passkeys: false,
            ..WebauthnPolicy::default()
        };
        let refused = policy.registration_refusal(Passkey).unwrap();
        assert_eq!(refused.code, "[forbidden]workflow");
        assert_eq!(refused.message, "passkeys are switched off on this server");
        assert!(policy.registration_refusal(SecurityKey).is_none());
        let used = policy.use_refusal(Passkey, true, "x").unwrap();
        assert_eq!(used.code, "[forbidden]workflow");
        assert!(policy.use_refusal(SecurityKey, false, "x").is_none());
    }

    #[test]
    fn required_verification_refuses_a_key_without_the_uv_flag() {
        let policy = WebauthnPolicy {
            user_verification: UserVerification::Required,
            ..WebauthnPolicy::default()
        };
        let refused = policy
            .use_refusal(SecurityKey, false, "credential.response.authenticatorData")
            .unwrap();
        assert_eq!(
            refused.code,
            "[unverified]credential.response.authenticatorData"
        );
        assert!(policy.use_refusal(SecurityKey, true, "x").is_none());
        // A passkey must verify whatever the setting says.
        let preferred = WebauthnPolicy::default();
        assert!(preferred.use_refusal(Passkey, false, "x").is_some());
        assert!(preferred.use_refusal(SecurityKey, false, "x").is_none());
    }

    #[test]
    fn administrators_or_members_of_named_groups_must_use_a_key() {
        let (staff, guests) = (GroupId::new(), GroupId::new());
        let policy = WebauthnPolicy {
            phishing_resistant_for_admins: true,
            phishing_resistant_for_groups: vec![staff],
            ..WebauthnPolicy::default()
        };
        assert!(policy.must_use_key(true, &[]));
        assert!(policy.must_use_key(false, &[guests, staff]));
        assert!(!policy.must_use_key(false, &[guests]));
        let groups_only = WebauthnPolicy {
            phishing_resistant_for_admins: false,
            ..policy
        };
        assert!(!groups_only.must_use_key(true, &[]));
    }

    #[test]
    fn allowed_models_ask_for_direct_attestation() {
        let policy = WebauthnPolicy {
            allowed_aaguids: vec![Uuid::new_v4()],
            ..WebauthnPolicy::default()
        };
        assert_eq!(policy.attestation(), Attestation::Direct);
    }

    #[test]
    fn check_names_every_bad_field() {
        let model = Uuid::new_v4();
        let group = GroupId::new();
        let policy = WebauthnPolicy {
            security_keys: false,
            passkeys: false,
            phishing_resistant_for_groups: vec![group, group],
            allowed_aaguids: vec![Uuid::nil(), model, model],
            ..WebauthnPolicy::default()
        };
        let codes: Vec<String> = policy.check().into_iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            [
                "[invalid]webauthn.phishingResistantForAdmins",
                "[invalid]webauthn.allowedAaguids",
                "[duplicate]webauthn.allowedAaguids",
                "[duplicate]webauthn.phishingResistantForGroups",
            ]
        );
    }

    #[test]
    fn the_section_reads_from_json_or_snake_case_with_defaults() {
        let model = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
        let policy: WebauthnPolicy = serde_json::from_str(&format!(
            r#"{{"passkeys": false, "userVerification": "required", "allowedAaguids": ["{model}"]}}"#
        ))
        .unwrap();
        assert!(policy.security_keys && !policy.passkeys);
        assert_eq!(policy.user_verification, UserVerification::Required);
        assert_eq!(policy.allowed_aaguids[0].to_string(), model);
        let snake: WebauthnPolicy = serde_json::from_str(
            r#"{"security_keys": false, "phishing_resistant_for_admins": true}"#,
        )
        .unwrap();
        assert!(!snake.security_keys && snake.phishing_resistant_for_admins);
        assert!(serde_json::from_str::<WebauthnPolicy>(r#"{"allowedAaguids": ["nope"]}"#).is_err());
        assert!(serde_json::from_str::<WebauthnPolicy>(r#"{"attestation": "direct"}"#).is_err());
    }
}
