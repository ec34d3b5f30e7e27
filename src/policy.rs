//! Who must use a second factor, when a trusted computer skips it, and the limits around it:
//! pure functions of the settings and the facts of one login, without I/O.

use serde::{Deserialize, Serialize};

use crate::clock::Instant;
pub use crate::domain::LoginType;
use crate::domain::{Channel, FieldError, GroupId, Invalid, MethodKind};
pub use crate::key_policy::WebauthnPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginPolicy {
    /// Never ask for a second factor.
    Disabled,
    /// Ask users who enrolled a method (and those flagged "two-factor required").
    Enabled,
    /// Every user must use a second factor; one without a method must enrol first.
    Required,
    /// Like `required` for administrators, like `enabled` for everyone else.
    RequiredForAdmins,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    /// A second factor at every login; no computer is trusted.
    EveryLogin,
    /// A computer trusted after a second factor is not asked again for `trust_days`.
    OncePerComputer,
}

/// Which logins send their code without being asked, as soon as they answer 242.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendCodeOnLogin {
    /// None: the person (or the application) asks for the code.
    Never,
    /// Those of users whose phone was enabled with the older `delivery: TextMessage` form, as
    /// applications written for that form expect.
    #[default]
    Legacy,
    /// Also those of users whose preferred method is a text, a call or an email.
    Preferred,
}

/// Which second factors may be used, and by which channels a phone may hear its codes; each is
/// on unless switched off, but WhatsApp, which also needs a provider that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AllowedMethods {
    pub authenticator: bool,
    /// Codes to a phone by text message.
    pub sms: bool,
    /// Codes to a phone by a call that reads them out.
    pub voice: bool,
    /// Codes to a phone by WhatsApp.
    pub whatsapp: bool,
    pub email: bool,
}

impl Default for AllowedMethods {
    fn default() -> Self {
        Self {
            authenticator: true,
            sms: true,
            voice: true,
            // WhatsApp also needs a provider that carries it, switched on in the delivery
            // settings: off until an administrator turns both on.
            whatsapp: false,
            email: true,
        }
    }
}

impl AllowedMethods {
    /// A phone is allowed while one of its channels is.
    pub fn allows(&self, kind: MethodKind) -> bool {
        match kind {
            MethodKind::Authenticator => self.authenticator,
            MethodKind::Phone => Channel::PHONE.into_iter().any(|c| self.allows_channel(c)),
            MethodKind::Email => self.email,
        }
    }

    pub fn allows_channel(&self, channel: Channel) -> bool {
        match channel {
            Channel::Sms => self.sms,
            Channel::Call => self.voice,
            Channel::Whatsapp => self.whatsapp,
            Channel::Email => self.email,
        }
    }

    pub fn kinds(&self) -> Vec<MethodKind> {
        MethodKind::ALL
            .into_iter()
            .filter(|k| self.allows(*k))
            .collect()
    }
}

/// The two-factor settings: defaults from the configuration file, changeable at run time (the
/// stored copy wins). Field names are the API's (camelCase); the configuration file and
/// environment variables may use the snake_case names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TwoFactorPolicy {
    #[serde(alias = "web_login_policy")]
    pub web_login_policy: LoginPolicy,
    #[serde(alias = "api_login_policy")]
    pub api_login_policy: LoginPolicy,
    #[serde(alias = "trust_level")]
    pub trust_level: TrustLevel,
    #[serde(alias = "trust_days")]
    pub trust_days: i64,
    pub methods: AllowedMethods,
    /// How long a login may wait for its second factor.
    #[serde(alias = "challenge_ttl_seconds")]
    pub challenge_ttl_seconds: i64,
    /// How long a login may wait for a user who has no method yet to enrol one (installing an
    /// app takes longer than typing a code), and how long a new authenticator key waits for its
    /// first code.
    #[serde(alias = "enrollment_ttl_seconds")]
    pub enrollment_ttl_seconds: i64,
    /// Wrong codes one challenge survives.
    #[serde(alias = "max_code_attempts")]
    pub max_code_attempts: i64,
    /// Wrong codes for one user within the window before new challenges are refused.
    #[serde(alias = "failure_limit")]
    pub failure_limit: i64,
    #[serde(alias = "failure_window_seconds")]
    pub failure_window_seconds: i64,
    /// How recent a login must be to change two-factor settings.
    #[serde(alias = "reauthentication_seconds")]
    pub reauthentication_seconds: i64,
    /// Authenticator steps accepted either side of now.
    #[serde(alias = "totp_skew_steps")]
    pub totp_skew_steps: u32,
    /// Whether users may choose "every login" for themselves when computers may be trusted.
    #[serde(alias = "users_choose_trust")]
    pub users_choose_trust: bool,
    #[serde(alias = "send_code_on_login")]
    pub send_code_on_login: SendCodeOnLogin,
    /// Whether a forgotten password may be reset by a code texted to the account's phone
    /// instead of a link by email. Off by default: for a user whose second factor is that
    /// phone, the phone alone then sets the password and passes the second factor.
    #[serde(alias = "password_reset_by_sms")]
    pub password_reset_by_sms: bool,
    /// Groups (by id, which a rename keeps) whose members must use a second factor, as a user
    /// flagged "two-factor required" must.
    #[serde(alias = "required_for_groups")]
    #[schema(value_type = Vec<String>)]
    pub required_for_groups: Vec<GroupId>,
    /// Security keys and passkeys: which kinds, user verification, who must use one, which
    /// models (`key_policy.rs`).
    pub webauthn: WebauthnPolicy,
}

impl Default for TwoFactorPolicy {
    fn default() -> Self {
        Self {
            // An administrator's password alone must not open the console or the API.
            web_login_policy: LoginPolicy::RequiredForAdmins,
            api_login_policy: LoginPolicy::RequiredForAdmins,
            trust_level: TrustLevel::OncePerComputer,
            trust_days: 30,
            methods: AllowedMethods::default(),
            challenge_ttl_seconds: 300,
            enrollment_ttl_seconds: 600,
            max_code_attempts: 5,
            failure_limit: 10,
            failure_window_seconds: 900,
            reauthentication_seconds: 600,
            totp_skew_steps: 1,
            users_choose_trust: true,
            send_code_on_login: SendCodeOnLogin::Legacy,
            password_reset_by_sms: false,
            required_for_groups: Vec::new(),
            webauthn: WebauthnPolicy::default(),
        }
    }
}

impl TwoFactorPolicy {
    /// Every out-of-range value, named.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut range = |field: &str, value: i64, low: i64, high: i64| {
            if !(low..=high).contains(&value) {
                errors.push(FieldError::new(
                    field,
                    Invalid::new(
                        "[invalid]",
                        format!("{field} must be between {low} and {high}"),
                    ),
                ));
            }
        };
        range("trustDays", self.trust_days, 1, 365);
        range("challengeTtlSeconds", self.challenge_ttl_seconds, 30, 3600);
        range(
            "enrollmentTtlSeconds",
            self.enrollment_ttl_seconds,
            60,
            3600,
        );
        range("maxCodeAttempts", self.max_code_attempts, 1, 20);
        range("failureLimit", self.failure_limit, 1, 100);
        range(
            "failureWindowSeconds",
            self.failure_window_seconds,
            60,
            86_400,
        );
        range(
            "reauthenticationSeconds",
            self.reauthentication_seconds,
            60,
            86_400,
        );
        range("totpSkewSteps", i64::from(self.totp_skew_steps), 0, 3);
        let requires = [self.web_login_policy, self.api_login_policy]
            .iter()
            .any(|p| matches!(p, LoginPolicy::Required | LoginPolicy::RequiredForAdmins));
        if requires && self.methods.kinds().is_empty() {
            errors.push(FieldError::new(
                "methods",
                Invalid::new(
                    "[invalid]",
                    "with two-factor required, keep at least one method on, or nobody (no administrator either) could enrol",
                ),
            ));
        }
        errors.extend(self.webauthn.check());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn login_policy(&self, login_type: LoginType) -> LoginPolicy {
        match login_type {
            LoginType::Web => self.web_login_policy,
            LoginType::Api => self.api_login_policy,
        }
    }

    /// Whether a login must read the user's groups: the settings name some.
    pub fn names_groups(&self) -> bool {
        !self.required_for_groups.is_empty()
            || !self.webauthn.phishing_resistant_for_groups.is_empty()
    }

    /// Whether a member of `groups` must use a second factor by the groups rule.
    pub fn requires_for_groups(&self, groups: &[GroupId]) -> bool {
        groups.iter().any(|g| self.required_for_groups.contains(g))
    }

    pub fn trusts_computers(&self) -> bool {
        self.trust_level == TrustLevel::OncePerComputer
    }

    /// Whether too many recent failures close new challenges for a user.
    pub fn challenges_blocked(&self, recent_failures: i64) -> bool {
        recent_failures >= self.failure_limit
    }

    /// Whether a code guess may be checked, given the user's failures in the window counting
    /// this guess as one: at most `failure_limit` wrong codes per window, however many logins
    /// are open.
    pub fn guess_allowed(&self, failures_with_this_guess: i64) -> bool {
        failures_with_this_guess <= self.failure_limit
    }

    /// How long a login that answered 242 waits: a user who must enrol first gets the time an
    /// enrolment takes.
    pub fn challenge_lifetime_seconds(&self, decision: &Decision) -> i64 {
        match decision {
            Decision::Enroll => self.enrollment_ttl_seconds.max(self.challenge_ttl_seconds),
            _ => self.challenge_ttl_seconds,
        }
    }

    pub fn failure_window_start(&self, now: Instant) -> Instant {
        now.plus_seconds(-self.failure_window_seconds)
    }

    /// Whether a session may change two-factor settings: its login is recent enough and, when
    /// the user has a second factor (a method, a security key or a passkey), proved one.
    pub fn allows_sensitive_change(
        &self,
        authenticated_at: Instant,
        amr: &[String],
        has_second_factor: bool,
        now: Instant,
    ) -> bool {
        let recent = now <= authenticated_at.plus_seconds(self.reauthentication_seconds);
        // "mfa" marks a login that gave a second factor now (not one spared by a trusted
        // computer).
        let second_factor = !has_second_factor || amr.iter().any(|m| m == "mfa");
        recent && second_factor
    }
}

/// The facts of one password login that decide what comes next.
#[derive(Debug, Clone)]
pub struct LoginFacts<'a> {
    pub login_type: LoginType,
    pub is_admin: bool,
    /// The per-user "two-factor required" flag.
    pub user_requires_two_factor: bool,
    /// The user's groups; read only when the settings name groups (empty otherwise).
    pub groups: &'a [GroupId],
    /// The kinds of the user's enrolled methods.
    pub enrolled: &'a [MethodKind],
    /// The user has WebAuthn credentials (security keys, passkeys): a second factor of its
    /// own, asked for by the WebAuthn ceremony rather than by a code. Only the kinds the settings
    /// allow count.
    pub security_keys: bool,
    /// The user has credentials of a kind the settings switched off: they count for nothing,
    /// but the user, who chose a second factor, must still give one (enrolling another).
    pub forbidden_keys: bool,
    /// The user must use a key rather than a code (`WebauthnPolicy::must_use_key`).
    pub must_use_key: bool,
    /// A valid trusted-computer id came with the login.
    pub trusted_computer: bool,
    /// The user had `failure_limit` wrong codes in the window: no challenge opens now.
    pub two_factor_blocked: bool,
    /// The user chose a second factor at every login.
    pub user_wants_every_login: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Done: open the session.
    Grant,
    /// Ask for a code of one of these methods, or (when the user has some) a security key: the
    /// list is empty when a key is the user's only second factor.
    Challenge(Vec<MethodKind>),
    /// The user must use a second factor but has none allowed: enrol first.
    Enroll,
}

pub fn decide(policy: &TwoFactorPolicy, facts: &LoginFacts<'_>) -> Decision {
    let login_policy = policy.login_policy(facts.login_type);
    if login_policy == LoginPolicy::Disabled {
        return Decision::Grant;
    }
    // A user who must use a key has no code method to offer, whatever they enrolled.
    let usable: Vec<MethodKind> = facts
        .enrolled
        .iter()
        .copied()
        .filter(|k| policy.methods.allows(*k) && !facts.must_use_key)
        .collect();
    let must = match login_policy {
        LoginPolicy::Required => true,
        LoginPolicy::RequiredForAdmins => facts.is_admin,
        LoginPolicy::Enabled | LoginPolicy::Disabled => false,
    } || facts.user_requires_two_factor
        || policy.requires_for_groups(facts.groups)
        || facts.forbidden_keys;
    // A trusted computer does not spare a blocked account: the trust would let through the
    // logins that the wrong codes closed; nor one that must use a key, as a code may have
    // earned the trust.
    let has_second_factor = !usable.is_empty() || facts.security_keys;
    if facts.trusted_computer
        && !facts.must_use_key
        && !facts.two_factor_blocked
        && policy.trusts_computers()
        && !facts.user_wants_every_login
        && has_second_factor
    {
        return Decision::Grant;
    }
    if has_second_factor {
        return Decision::Challenge(usable);
    }
    // One who must use a key enrols one (`check` keeps a kind allowed for them).
    if facts.must_use_key || (must && !policy.methods.kinds().is_empty()) {
        return Decision::Enroll;
    }
    Decision::Grant
}

#[cfg(test)]
mod tests {
    use super::*;
    use MethodKind::*;

    fn facts(enrolled: &[MethodKind]) -> LoginFacts<'_> {
        LoginFacts {
            login_type: LoginType::Api,
            is_admin: false,
            user_requires_two_factor: false,
            groups: &[],
            enrolled,
            security_keys: false,
            forbidden_keys: false,
            must_use_key: false,
            trusted_computer: false,
            two_factor_blocked: false,
            user_wants_every_login: false,
        }
    }

    #[test]
    fn a_security_key_is_a_second_factor_of_its_own() {
        let keys_only = LoginFacts {
            security_keys: true,
            ..facts(&[])
        };
        for policy in [LoginPolicy::Enabled, LoginPolicy::Required] {
            // Asked for, with no code method beside it: never sent to enrol one instead.
            assert_eq!(
                decide(&with_api(policy), &keys_only),
                Decision::Challenge(vec![])
            );
        }
        assert_eq!(
            decide(
                &with_api(LoginPolicy::Enabled),
                &LoginFacts {
                    security_keys: true,
                    ..facts(&[MethodKind::Email])
                }
            ),
            Decision::Challenge(vec![MethodKind::Email])
        );
        // A trusted computer spares it as it spares a code; a disabled policy asks nothing.
        assert_eq!(
            decide(
                &with_api(LoginPolicy::Enabled),
                &LoginFacts {
                    trusted_computer: true,
                    ..keys_only
                }
            ),
            Decision::Grant
        );
        assert_eq!(
            decide(&with_api(LoginPolicy::Disabled), &keys_only),
            Decision::Grant
        );
    }

    #[test]
    fn one_who_must_use_a_key_is_offered_no_code_and_no_trusted_computer() {
        let must = LoginFacts {
            must_use_key: true,
            ..facts(&[Authenticator, Email])
        };
        let enabled = with_api(LoginPolicy::Enabled);
        assert_eq!(
            decide(&enabled, &must),
            Decision::Enroll,
            "no key: enrol one"
        );
        let with_key = LoginFacts {
            security_keys: true,
            trusted_computer: true,
            ..must
        };
        assert_eq!(decide(&enabled, &with_key), Decision::Challenge(vec![]));
        assert_eq!(
            decide(&with_api(LoginPolicy::Disabled), &with_key),
            Decision::Grant
        );
    }

    #[test]
    fn a_user_whose_only_keys_are_switched_off_must_enrol_another_factor() {
        let only_forbidden = LoginFacts {
            forbidden_keys: true,
            ..facts(&[])
        };
        let enabled = with_api(LoginPolicy::Enabled);
        assert_eq!(decide(&enabled, &only_forbidden), Decision::Enroll);
        let with_method = LoginFacts {
            enrolled: &[Email],
            ..only_forbidden
        };
        assert_eq!(
            decide(&enabled, &with_method),
            Decision::Challenge(vec![Email])
        );
    }

    fn with_api(policy: LoginPolicy) -> TwoFactorPolicy {
        TwoFactorPolicy {
            api_login_policy: policy,
            ..TwoFactorPolicy::default()
        }
    }

    #[test]
    fn guesses_are_checked_up_to_the_failure_limit_and_not_beyond() {
        let policy = TwoFactorPolicy {
            failure_limit: 3,
            ..TwoFactorPolicy::default()
        };
        assert!(policy.guess_allowed(1));
        assert!(
            policy.guess_allowed(3),
            "the third failure of three is still checked"
        );
        assert!(!policy.guess_allowed(4));
        assert!(
            policy.challenges_blocked(3),
            "and no new login opens after it"
        );
    }

    #[test]
    fn the_decision_table() {
        use Decision::*;
        use LoginPolicy::*;
        // (policy, admin, flagged, enrolled, trusted) -> decision
        type Row<'a> = (LoginPolicy, bool, bool, &'a [MethodKind], bool, Decision);
        let rows: &[Row<'_>] = &[
            (Disabled, false, true, &[Authenticator], false, Grant),
            (Enabled, false, false, &[], false, Grant),
            (
                Enabled,
                false,
                false,
                &[Authenticator],
                false,
                Challenge(vec![Authenticator]),
            ),
            (Enabled, false, true, &[], false, Enroll),
            (Required, false, false, &[], false, Enroll),
            (
                Required,
                false,
                false,
                &[Phone, Authenticator],
                false,
                Challenge(vec![Phone, Authenticator]),
            ),
            (RequiredForAdmins, true, false, &[], false, Enroll),
            (RequiredForAdmins, false, false, &[], false, Grant),
            (
                RequiredForAdmins,
                false,
                false,
                &[Email],
                false,
                Challenge(vec![Email]),
            ),
            (Required, false, false, &[Authenticator], true, Grant),
            (Enabled, false, false, &[Authenticator], true, Grant),
        ];
        for (policy, admin, flagged, enrolled, trusted, expected) in rows {
            let mut f = facts(enrolled);
            f.is_admin = *admin;
            f.user_requires_two_factor = *flagged;
            f.trusted_computer = *trusted;
            assert_eq!(
                &decide(&with_api(*policy), &f),
                expected,
                "{policy:?} admin={admin} flagged={flagged} {enrolled:?} trusted={trusted}"
            );
        }
    }

    #[test]
    fn a_member_of_a_group_the_settings_name_must_use_a_second_factor() {
        let (staff, guests) = (GroupId::new(), GroupId::new());
        let policy = TwoFactorPolicy {
            api_login_policy: LoginPolicy::Enabled,
            required_for_groups: vec![staff],
            ..TwoFactorPolicy::default()
        };
        let mut f = facts(&[]);
        assert_eq!(decide(&policy, &f), Decision::Grant, "in no group");
        let only_guests = [guests];
        f.groups = &only_guests;
        assert_eq!(decide(&policy, &f), Decision::Grant, "in another group");
        let both = [guests, staff];
        f.groups = &both;
        assert_eq!(decide(&policy, &f), Decision::Enroll, "a member must enrol");
        let enrolled = [Authenticator];
        f.enrolled = &enrolled;
        assert_eq!(
            decide(&policy, &f),
            Decision::Challenge(vec![Authenticator])
        );
        // Exactly as the per-user flag: a trusted computer still spares an enrolled member.
        f.trusted_computer = true;
        assert_eq!(decide(&policy, &f), Decision::Grant);
        // And a policy that asks nobody asks no member either.
        let disabled = TwoFactorPolicy {
            api_login_policy: LoginPolicy::Disabled,
            ..policy.clone()
        };
        f.enrolled = &[];
        assert_eq!(decide(&disabled, &f), Decision::Grant);
    }

    #[test]
    fn the_groups_rule_reads_ids_from_the_settings_document() {
        let id = GroupId::new();
        let policy: TwoFactorPolicy =
            serde_json::from_str(&format!(r#"{{"requiredForGroups": ["{id}"]}}"#)).unwrap();
        assert_eq!(policy.required_for_groups, [id]);
        assert!(policy.requires_for_groups(&[GroupId::new(), id]));
        assert!(!TwoFactorPolicy::default().requires_for_groups(&[id]));
    }

    #[test]
    fn a_trusted_computer_does_not_spare_a_blocked_account() {
        let mut f = facts(&[Authenticator]);
        f.trusted_computer = true;
        assert_eq!(decide(&TwoFactorPolicy::default(), &f), Decision::Grant);
        f.two_factor_blocked = true;
        assert_eq!(
            decide(&TwoFactorPolicy::default(), &f),
            Decision::Challenge(vec![Authenticator])
        );
    }

    #[test]
    fn every_login_ignores_trusted_computers() {
        let policy = TwoFactorPolicy {
            trust_level: TrustLevel::EveryLogin,
            ..TwoFactorPolicy::default()
        };
        let mut f = facts(&[Authenticator]);
        f.trusted_computer = true;
        assert_eq!(
            decide(&policy, &f),
            Decision::Challenge(vec![Authenticator])
        );
    }

    #[test]
    fn a_user_who_chose_every_login_is_always_asked() {
        let mut f = facts(&[Authenticator]);
        f.trusted_computer = true;
        f.user_wants_every_login = true;
        assert_eq!(
            decide(&TwoFactorPolicy::default(), &f),
            Decision::Challenge(vec![Authenticator])
        );
    }

    #[test]
    fn switched_off_methods_do_not_count() {
        let mut policy = with_api(LoginPolicy::Required);
        policy.methods.sms = false;
        policy.methods.voice = false;
        policy.methods.whatsapp = false;
        assert_eq!(decide(&policy, &facts(&[Phone])), Decision::Enroll);
        assert_eq!(
            decide(&policy, &facts(&[Phone, Authenticator])),
            Decision::Challenge(vec![Authenticator])
        );
    }

    #[test]
    fn a_phone_counts_while_one_of_its_channels_is_on() {
        let mut policy = with_api(LoginPolicy::Required);
        policy.methods.sms = false;
        policy.methods.whatsapp = false;
        assert_eq!(
            decide(&policy, &facts(&[Phone])),
            Decision::Challenge(vec![Phone])
        );
        assert!(!policy.methods.allows_channel(Channel::Sms));
        assert!(policy.methods.allows_channel(Channel::Call));
    }

    #[test]
    fn web_and_api_logins_follow_their_own_policy() {
        let policy = TwoFactorPolicy {
            web_login_policy: LoginPolicy::Required,
            api_login_policy: LoginPolicy::Disabled,
            ..TwoFactorPolicy::default()
        };
        let mut f = facts(&[]);
        assert_eq!(decide(&policy, &f), Decision::Grant);
        f.login_type = LoginType::Web;
        assert_eq!(decide(&policy, &f), Decision::Enroll);
    }

    #[test]
    fn sensitive_changes_need_a_recent_login_with_a_second_factor_when_enrolled() {
        let policy = TwoFactorPolicy::default();
        let login = Instant::from_millis(1_000_000);
        let pwd = vec!["pwd".to_owned()];
        let both = vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
        let trusted = vec!["pwd".to_owned(), "trusted".to_owned()];
        let soon = login.plus_seconds(599);
        let late = login.plus_seconds(601);
        assert!(policy.allows_sensitive_change(login, &both, true, soon));
        assert!(!policy.allows_sensitive_change(login, &both, true, late));
        assert!(!policy.allows_sensitive_change(login, &pwd, true, soon));
        assert!(!policy.allows_sensitive_change(login, &trusted, true, soon));
        assert!(policy.allows_sensitive_change(login, &pwd, false, soon));
    }

    #[test]
    fn out_of_range_settings_are_named() {
        let policy = TwoFactorPolicy {
            trust_days: 0,
            max_code_attempts: 500,
            ..TwoFactorPolicy::default()
        };
        let errors = policy.check().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["trustDays", "maxCodeAttempts"]);
        assert!(TwoFactorPolicy::default().check().is_ok());
    }

    #[test]
    fn requiring_two_factor_with_every_method_off_is_refused() {
        let policy = TwoFactorPolicy {
            web_login_policy: LoginPolicy::Required,
            methods: AllowedMethods {
                authenticator: false,
                sms: false,
                voice: false,
                whatsapp: false,
                email: false,
            },
            ..TwoFactorPolicy::default()
        };
        let errors = policy.check().unwrap_err();
        assert_eq!(errors[0].field, "methods");
    }

    #[test]
    fn settings_read_from_json_with_defaults_for_what_is_missing() {
        let policy: TwoFactorPolicy = serde_json::from_str(
            r#"{"webLoginPolicy": "required_for_admins", "methods": {"sms": false}}"#,
        )
        .unwrap();
        assert_eq!(policy.web_login_policy, LoginPolicy::RequiredForAdmins);
        assert!(!policy.methods.sms && policy.methods.voice);
        assert!(serde_json::from_str::<TwoFactorPolicy>(r#"{"nope": 1}"#).is_err());
    }
}
