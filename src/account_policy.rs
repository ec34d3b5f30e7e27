//! What an account's email address may be used for, as pure rules, and the administrator's
//! choices about it: whether an address not yet verified may be typed as a login id, and
//! whether people may make their own accounts (self-registration) and with which addresses.
//! The settings are one document (`accounts`), read and replaced whole like the welcome step's.

use serde::{Deserialize, Serialize};

use crate::clock::Instant;
use crate::domain::{Email, FieldError, Invalid, LoginId, User};

/// Where the settings are kept.
pub const SETTINGS_KEY: &str = "accounts";

/// The account settings: defaults in code, changeable at run time (the stored copy wins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AccountSettings {
    /// Whether an email address not yet verified may be typed as the login id. Off by default:
    /// an address is a login id once its link was opened; the username always is.
    pub unverified_email_login: bool,
    /// Whether anyone may make an account at `/register` (or `POST /api/user/registration`).
    /// Off by default: accounts are made by administrators and invitations.
    pub self_registration: bool,
    /// The email domains a self-registration may use (`example.com`: exactly that domain, not
    /// its subdomains); empty: any.
    pub registration_domains: Vec<String>,
}

/// The field the allow-list arrives in, as the API names it.
pub const REGISTRATION_DOMAINS_FIELD: &str = "accounts.registrationDomains";

impl AccountSettings {
    /// The settings as an administrator sent them, checked: every domain of the allow-list is
    /// a domain name, kept in lowercase ASCII (IDNA) form and once, so that the rule compares
    /// keys.
    pub fn checked(mut self) -> Result<Self, Vec<FieldError>> {
        let mut domains: Vec<String> = Vec::new();
        let mut errors = Vec::new();
        for raw in &self.registration_domains {
            match domain_key(raw) {
                Ok(key) if !domains.contains(&key) => domains.push(key),
                Ok(_) => {}
                Err(invalid) => errors.push(FieldError::new(REGISTRATION_DOMAINS_FIELD, invalid)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.registration_domains = domains;
        Ok(self)
    }

    /// The settings as stored; the defaults when none are, or when a stored copy no longer
    /// reads.
    pub fn from_stored(json: Option<&str>) -> Self {
        json.and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }
}

/// Whether a login names its user by an address not yet verified: it goes on only when the
/// settings allow it (`may_log_in_with`), and otherwise as a login of an unknown id.
pub fn unverified_login_id(user: &User, login_id: &LoginId) -> bool {
    matches!(login_id, LoginId::Email(_)) && user.verified_email().is_none()
}

/// Whether `login_id` (which found `user`) may log `user` in under `settings`.
pub fn may_log_in_with(settings: &AccountSettings, user: &User, login_id: &LoginId) -> bool {
    !unverified_login_id(user, login_id) || settings.unverified_email_login
}

/// A domain of the allow-list as the rule compares it: the domain of an address's key, so that
/// `Example.COM`, `@example.com` and `bücher.de`'s ASCII form match the addresses they name.
fn domain_key(raw: &str) -> Result<String, Invalid> {
    let domain = raw.trim().trim_start_matches('@');
    let refused = || {
        Invalid::new(
            "[invalid]",
            format!("{raw:?} is not a domain name like example.com"),
        )
    };
    if domain.is_empty() || domain.contains('@') {
        return Err(refused());
    }
    let address = Email::parse(&format!("someone@{domain}")).map_err(|_| refused())?;
    Ok(email_domain(&address).to_owned())
}

/// The domain of an address, as its key spells it (lowercase, IDNA's ASCII form).
fn email_domain(email: &Email) -> &str {
    email
        .key()
        .rsplit_once('@')
        .map_or("", |(_, domain)| domain)
}

/// Whether a self-registration may use `email` under `settings`: any address when the
/// allow-list is empty, else one whose domain is on it (exactly: a subdomain is another
/// domain, which its own entry allows).
pub fn registration_domain_allowed(settings: &AccountSettings, email: &Email) -> bool {
    settings.registration_domains.is_empty()
        || settings
            .registration_domains
            .iter()
            .any(|allowed| allowed == email_domain(email))
}

/// Whether an account waits for its first verification before it may log in: one a person
/// made for themselves (`required`, kept with it), while it has an address in force that is not
/// verified. An administrator who vouches for the address, or removes it, lets it in.
pub fn awaits_first_verification(required: bool, user: &User) -> bool {
    required && user.email.is_some() && user.email_verified_at.is_none()
}

/// How an address an administrator sets starts (or one a person gives at the welcome step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewEmail {
    /// The administrator vouches for it (FusionAuth's `skipVerification`): verified at once.
    Verified,
    /// Verified when the link sent to it (or an invitation) is opened.
    Unverified,
}

/// What a change of profile that leaves `email` in force makes of its verification: an address
/// kept keeps it (and becomes verified when an administrator vouches for it); a new address is
/// verified only when vouched for, and replaces any address the person asked for and has not
/// verified yet. Answers when the address was verified, and whether that waiting address stays.
pub fn email_after_change(
    current: Option<&User>,
    email: Option<&Email>,
    new: NewEmail,
    now: Instant,
) -> (Option<Instant>, bool) {
    let before = current.and_then(|u| u.email.as_ref()).map(Email::key);
    let kept = before == email.map(Email::key);
    let verified_before = current.and_then(|u| u.email_verified_at).filter(|_| kept);
    let verified_at = match (email, new) {
        (None, _) => None,
        (Some(_), NewEmail::Verified) => verified_before.or(Some(now)),
        (Some(_), NewEmail::Unverified) => verified_before,
    };
    (verified_at, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Roles, UserId, Username};

    fn user(verified: bool) -> User {
        User {
            id: UserId::new(),
            username: Username::parse("ann").unwrap(),
            email: Some(Email::parse("ann@example.com").unwrap()),
            email_verified_at: verified.then(|| Instant::from_millis(1)),
            pending_email: None,
            full_name: None,
            mobile_phone: None,
            roles: Roles::user(),
            active: true,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: None,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
            password_changed_at: Instant::from_millis(0),
            last_login_at: None,
        }
    }

    #[test]
    fn an_unverified_address_logs_in_only_when_the_administrator_allows_it() {
        let by_email = LoginId::parse("ann@example.com").unwrap();
        let by_name = LoginId::parse("ann").unwrap();
        let refuse = AccountSettings::default();
        let allow = AccountSettings {
            unverified_email_login: true,
            ..AccountSettings::default()
        };
        assert!(!may_log_in_with(&refuse, &user(false), &by_email));
        assert!(may_log_in_with(&allow, &user(false), &by_email));
        assert!(may_log_in_with(&refuse, &user(true), &by_email));
        assert!(
            may_log_in_with(&refuse, &user(false), &by_name),
            "the username always works"
        );
    }

    #[test]
    fn self_registration_is_off_and_open_to_any_domain_by_default() {
        let settings = AccountSettings::default();
        assert!(!settings.self_registration);
        assert!(registration_domain_allowed(
            &settings,
            &Email::parse("anyone@anywhere.example").unwrap()
        ));
        assert_eq!(
            AccountSettings::from_stored(Some(r#"{"unverifiedEmailLogin": true}"#)),
            AccountSettings {
                unverified_email_login: true,
                ..AccountSettings::default()
            },
            "settings stored before self-registration read with it off"
        );
    }

    #[test]
    fn the_allow_list_takes_exactly_its_domains_whatever_their_case() {
        let settings = AccountSettings {
            registration_domains: vec!["Example.COM".into(), " @bücher.de ".into()],
            ..AccountSettings::default()
        }
        .checked()
        .unwrap();
        assert_eq!(
            settings.registration_domains,
            ["example.com", "xn--bcher-kva.de"]
        );
        let allowed =
            |raw: &str| registration_domain_allowed(&settings, &Email::parse(raw).unwrap());
        assert!(allowed("ann@example.com"));
        assert!(allowed("Ann@EXAMPLE.com"));
        assert!(allowed("ann@xn--bcher-kva.de"));
        assert!(allowed("ann@bücher.de"));
        assert!(
            !allowed("ann@mail.example.com"),
            "a subdomain is another domain"
        );
        assert!(!allowed("ann@example.com.evil.test"));
        assert!(!allowed("ann@notexample.com"));
    }

    #[test]
    fn an_allow_list_entry_that_is_no_domain_is_refused_by_name() {
        for bad in ["", "example", "ann@example.com", "exa mple.com", "-x.com"] {
            let refused = AccountSettings {
                registration_domains: vec![bad.into()],
                ..AccountSettings::default()
            }
            .checked()
            .unwrap_err();
            assert_eq!(refused[0].field, REGISTRATION_DOMAINS_FIELD, "{bad:?}");
            assert_eq!(
                refused[0].code, "[invalid]accounts.registrationDomains",
                "{bad:?}"
            );
        }
        let twice = AccountSettings {
            registration_domains: vec!["example.com".into(), "EXAMPLE.com".into()],
            ..AccountSettings::default()
        };
        assert_eq!(
            twice.checked().unwrap().registration_domains,
            ["example.com"]
        );
    }

    #[test]
    fn a_registered_account_waits_for_its_address_and_no_other_account_does() {
        assert!(awaits_first_verification(true, &user(false)));
        assert!(!awaits_first_verification(true, &user(true)));
        assert!(!awaits_first_verification(false, &user(false)));
        let mut without_address = user(false);
        without_address.email = None;
        assert!(
            !awaits_first_verification(true, &without_address),
            "an administrator who removes the address lets the account in"
        );
    }

    #[test]
    fn settings_read_with_defaults_for_what_is_missing_or_unreadable() {
        assert_eq!(
            AccountSettings::from_stored(None),
            AccountSettings::default()
        );
        assert!(
            AccountSettings::from_stored(Some(r#"{"unverifiedEmailLogin": true}"#))
                .unverified_email_login
        );
        assert_eq!(
            AccountSettings::from_stored(Some("not json")),
            AccountSettings::default()
        );
        assert!(serde_json::from_str::<AccountSettings>(r#"{"nope": 1}"#).is_err());
    }

    #[test]
    fn an_address_kept_keeps_its_verification_and_a_new_one_is_verified_only_when_vouched_for() {
        let email = |raw: &str| Email::parse(raw).unwrap();
        let now = Instant::from_millis(100);
        let user = user(true);
        let after = |address: Option<&str>, new| {
            email_after_change(Some(&user), address.map(email).as_ref(), new, now)
        };
        let kept = user.email_verified_at;
        assert_eq!(
            after(Some("ANN@example.com"), NewEmail::Unverified),
            (kept, true)
        );
        assert_eq!(
            after(Some("ann@example.com"), NewEmail::Verified),
            (kept, true)
        );
        assert_eq!(
            after(Some("bo@example.com"), NewEmail::Unverified),
            (None, false)
        );
        assert_eq!(
            after(Some("bo@example.com"), NewEmail::Verified),
            (Some(now), false)
        );
        assert_eq!(after(None, NewEmail::Verified), (None, false));
        let unverified = self::user(false);
        assert_eq!(
            email_after_change(
                Some(&unverified),
                unverified.email.as_ref(),
                NewEmail::Verified,
                now
            ),
            (Some(now), true),
            "an administrator vouches for it"
        );
        assert_eq!(
            email_after_change(
                None,
                Some(&email("new@example.com")),
                NewEmail::Unverified,
                now
            ),
            (None, false)
        );
    }
}
