//! The fields of a sign-up, checked as pure rules: the rules of every account (username,
//! address, a new password), the allow-list of the settings, and the confirmation the page asks
//! for. Every refused field is said at once.

use super::SignUp;
use crate::account_policy::{AccountSettings, registration_domain_allowed};
use crate::domain::{Email, FieldError, Invalid, Password, Username};

/// The fields as the API names them (FusionAuth's `user.…`); the page shows each error beside
/// its own field.
pub const USERNAME_FIELD: &str = "user.username";
pub const EMAIL_FIELD: &str = "user.email";
pub const PASSWORD_FIELD: &str = "user.password";
/// Only the page sends it.
pub const CONFIRM_PASSWORD_FIELD: &str = "confirmPassword";

/// A sign-up whose every field passed.
pub(super) struct SignUpFields {
    pub username: Username,
    pub email: Email,
    pub password: Password,
}

pub(super) fn check(
    request: &SignUp<'_>,
    settings: &AccountSettings,
) -> Result<SignUpFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut refuse = |field: &str, invalid: Invalid| errors.push(FieldError::new(field, invalid));
    let username = Username::parse(request.username)
        .map_err(|e| refuse(USERNAME_FIELD, e))
        .ok();
    let email = match Email::parse(request.email) {
        Ok(email) if !registration_domain_allowed(settings, &email) => {
            refuse(EMAIL_FIELD, outside_the_allow_list(settings));
            None
        }
        Ok(email) => Some(email),
        Err(e) => {
            refuse(EMAIL_FIELD, e);
            None
        }
    };
    let password = Password::new_choice(request.password)
        .map_err(|e| refuse(PASSWORD_FIELD, e))
        .ok();
    if let Some(again) = request.confirmation
        && password.is_some()
        && again != request.password
    {
        refuse(
            CONFIRM_PASSWORD_FIELD,
            Invalid::new("[mismatch]", "the two passwords are not the same"),
        );
    }
    match (username, email, password) {
        (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(SignUpFields {
            username,
            email,
            password,
        }),
        _ => Err(errors),
    }
}

fn outside_the_allow_list(settings: &AccountSettings) -> Invalid {
    Invalid::new(
        "[notAllowed]",
        format!(
            "accounts here are made only with an email address at {}",
            settings.registration_domains.join(" or ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Origin;

    const GOOD: &str = "a few unrelated words";

    fn sign_up<'a>(
        username: &'a str,
        email: &'a str,
        password: &'a str,
        confirmation: Option<&'a str>,
        origin: &'a Origin,
    ) -> SignUp<'a> {
        SignUp {
            username,
            email,
            password,
            confirmation,
            origin,
        }
    }

    fn codes(result: Result<SignUpFields, Vec<FieldError>>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.code).collect(),
        }
    }

    #[test]
    fn a_good_sign_up_passes_with_its_values_in_their_types() {
        let origin = Origin::default();
        let fields = check(
            &sign_up("Ann", "Ann@Example.com", GOOD, Some(GOOD), &origin),
            &AccountSettings::default(),
        )
        .ok()
        .unwrap();
        assert_eq!(fields.username.as_str(), "Ann");
        assert_eq!(fields.email.key(), "ann@example.com");
    }

    #[test]
    fn every_refused_field_is_said_at_once_by_the_rules_of_every_account() {
        let origin = Origin::default();
        let settings = AccountSettings::default();
        assert_eq!(
            codes(check(&sign_up("", "", "", None, &origin), &settings)),
            [
                "[blank]user.username",
                "[blank]user.email",
                "[blank]user.password"
            ]
        );
        assert_eq!(
            codes(check(
                &sign_up("ann", "not-an-address", "password", None, &origin),
                &settings
            )),
            ["[invalid]user.email", "[breached]user.password"]
        );
        assert_eq!(
            codes(check(
                &sign_up(&"a".repeat(300), "ann@example.com", "short", None, &origin),
                &settings
            )),
            ["[tooLong]user.username", "[tooShort]user.password"]
        );
    }

    #[test]
    fn the_confirmation_must_match_where_the_form_asks_for_it() {
        let origin = Origin::default();
        let settings = AccountSettings::default();
        let mismatch = sign_up("ann", "ann@example.com", GOOD, Some("other words"), &origin);
        assert_eq!(
            codes(check(&mismatch, &settings)),
            ["[mismatch]confirmPassword"]
        );
        let api = sign_up("ann", "ann@example.com", GOOD, None, &origin);
        assert!(check(&api, &settings).is_ok(), "the API sends none");
        let weak = sign_up("ann", "ann@example.com", "123", Some("456"), &origin);
        assert_eq!(
            codes(check(&weak, &settings)),
            ["[tooShort]user.password"],
            "a refused password is said once, not also as a mismatch"
        );
    }

    #[test]
    fn an_address_outside_the_allow_list_is_refused_and_named() {
        let origin = Origin::default();
        let settings = AccountSettings {
            registration_domains: vec!["example.com".into()],
            ..AccountSettings::default()
        };
        let outside = sign_up("ann", "ann@elsewhere.test", GOOD, None, &origin);
        let refused = check(&outside, &settings).err().unwrap();
        assert_eq!(refused[0].code, "[notAllowed]user.email");
        assert!(
            refused[0].message.contains("at example.com"),
            "{}",
            refused[0].message
        );
        let inside = sign_up("ann", "ann@EXAMPLE.com", GOOD, None, &origin);
        assert!(check(&inside, &settings).is_ok());
    }
}
