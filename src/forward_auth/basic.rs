//! Basic authentication for clients without a browser, as pure values: the `Authorization`
//! header a proxy passed on, read; and which credential a rule's policy accepts.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::access_rules::Policy;
use crate::auth::BasicAsks;

/// The longest `Authorization` value read: room for the longest login id and the longest
/// password (256 characters of up to 4 bytes each), in base64.
pub const MAX_AUTHORIZATION_BYTES: usize = 2048;

/// What the client sent in `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// Nothing, or another scheme (the application's own `Bearer` tokens): not Tessera's.
    Nothing,
    Basic(BasicCredentials),
    /// Basic credentials that do not read, and why (said to the client; never the value).
    Malformed(&'static str),
}

/// A login id and a secret, as sent: the secret is an app password or the account password,
/// which only the check tells. Neither is parsed further here; the secret never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    login: String,
    secret: String,
}

impl BasicCredentials {
    pub fn login(&self) -> &str {
        &self.login
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("login", &self.login)
            .field("secret", &"…")
            .finish()
    }
}

/// Reads the `Authorization` values of a request (RFC 7617: `Basic base64(id:secret)`, UTF-8).
pub fn read_authorization(values: &[&[u8]]) -> Presented {
    let value = match values {
        [] => return Presented::Nothing,
        [one] => *one,
        _ => return Presented::Malformed("the Authorization header is sent more than once"),
    };
    let Some((scheme, rest)) = split_scheme(value) else {
        return Presented::Nothing;
    };
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Presented::Nothing;
    }
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Presented::Malformed("the Basic credentials are too long");
    }
    let Ok(decoded) = STANDARD.decode(rest.trim_ascii()) else {
        return Presented::Malformed("the Basic credentials are not base64");
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return Presented::Malformed("the Basic credentials are not UTF-8 text");
    };
    let Some((login, secret)) = text.split_once(':') else {
        return Presented::Malformed("the Basic credentials have no colon between id and password");
    };
    if login.trim().is_empty() || secret.is_empty() {
        return Presented::Malformed("the Basic credentials need a username and a password");
    }
    if login.chars().chain(secret.chars()).any(char::is_control) {
        return Presented::Malformed("the Basic credentials hold control characters");
    }
    Presented::Basic(BasicCredentials {
        login: login.to_owned(),
        secret: secret.to_owned(),
    })
}

/// `Scheme rest` split at the first space; `None` for a value with no scheme.
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let value = value.trim_ascii_start();
    let at = value.iter().position(|b| *b == b' ')?;
    Some((&value[..at], &value[at + 1..]))
}

/// What the secret of Basic credentials proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The account password: one factor.
    AccountPassword,
    /// An app password; `two_factor`: made in a session that gave a second factor, so it
    /// stands for both (it could be made only by someone who had both).
    AppPassword { two_factor: bool },
}

/// Whether a rule of `policy` lets `credential` through.
pub fn accepts(policy: Policy, credential: Credential) -> bool {
    match (policy, credential) {
        (Policy::Bypass | Policy::OneFactor, _) => true,
        (Policy::TwoFactor, Credential::AppPassword { two_factor }) => two_factor,
        (Policy::TwoFactor, Credential::AccountPassword) | (Policy::Deny, _) => false,
    }
}

/// Whether the account password is worth comparing (an Argon2id hash) for a rule of `policy`:
/// only where it would be accepted.
pub fn takes_account_password(policy: Policy) -> bool {
    accepts(policy, Credential::AccountPassword)
}

/// What a rule of `policy` asks of the secret of Basic credentials.
pub fn asks(policy: Policy) -> BasicAsks {
    BasicAsks {
        account_password: takes_account_password(policy),
        second_factor: !accepts(policy, Credential::AppPassword { two_factor: false }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: &str) -> Presented {
        read_authorization(&[value.as_bytes()])
    }

    fn basic(id_and_secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(id_and_secret))
    }

    #[test]
    fn basic_credentials_read_as_rfc_7617_writes_them() {
        let Presented::Basic(found) = read(&basic("ann:abcd-efgh-ijkl-mnop")) else {
            panic!("not read");
        };
        assert_eq!(found.login(), "ann");
        assert_eq!(found.secret(), "abcd-efgh-ijkl-mnop");
        let Presented::Basic(colons) = read(&format!("basic  {}", STANDARD.encode("ann:a:b:c")))
        else {
            panic!("not read");
        };
        assert_eq!(
            colons.secret(),
            "a:b:c",
            "the first colon splits; a password may hold more"
        );
        let Presented::Basic(accents) = read(&basic("zoë:pässwörd")) else {
            panic!("not read");
        };
        assert_eq!(accents.login(), "zoë");
        assert!(
            !format!("{accents:?}").contains("pässwörd"),
            "the secret never prints"
        );
    }

    #[test]
    fn another_scheme_or_none_is_not_tessera_s() {
        assert_eq!(read_authorization(&[]), Presented::Nothing);
        assert_eq!(read("Bearer abc.def"), Presented::Nothing);
        assert_eq!(read("Basic"), Presented::Nothing);
    }

    #[test]
    fn credentials_that_do_not_read_say_why() {
        for (value, why) in [
            ("Basic !!!not-base64", "not base64"),
            (basic("no-colon-here").as_str(), "no colon"),
            (basic(":secret").as_str(), "need a username"),
            (basic("ann:").as_str(), "need a username and a password"),
            (basic("ann:a\nb").as_str(), "control characters"),
            (
                format!("Basic {}", STANDARD.encode([b'a', b':', 0xff, 0xfe])).as_str(),
                "not UTF-8",
            ),
            (
                basic(&format!("ann:{}", "x".repeat(MAX_AUTHORIZATION_BYTES))).as_str(),
                "too long",
            ),
        ] {
            match read(value) {
                Presented::Malformed(said) => assert!(said.contains(why), "{said}"),
                other => panic!("{value}: {other:?}"),
            }
        }
        let doubled = basic("ann:x");
        assert!(matches!(
            read_authorization(&[doubled.as_bytes(), doubled.as_bytes()]),
            Presented::Malformed(_)
        ));
    }

    #[test]
    fn a_two_factor_rule_takes_only_an_app_password_made_with_two_factors() {
        let strong = Credential::AppPassword { two_factor: true };
        let weak = Credential::AppPassword { two_factor: false };
        let password = Credential::AccountPassword;
        for credential in [strong, weak, password] {
            assert!(accepts(Policy::OneFactor, credential), "{credential:?}");
            assert!(!accepts(Policy::Deny, credential), "{credential:?}");
        }
        assert!(accepts(Policy::TwoFactor, strong));
        assert!(!accepts(Policy::TwoFactor, weak));
        assert!(!accepts(Policy::TwoFactor, password));
        assert!(takes_account_password(Policy::OneFactor));
        assert!(!takes_account_password(Policy::TwoFactor));
        assert!(!takes_account_password(Policy::Deny));
        assert_eq!(
            asks(Policy::TwoFactor),
            BasicAsks {
                account_password: false,
                second_factor: true
            }
        );
        assert_eq!(
            asks(Policy::OneFactor),
            BasicAsks {
                account_password: true,
                second_factor: false
            }
        );
    }
}
