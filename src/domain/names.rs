use std::fmt;

use precis_core::profile::PrecisFastInvocation;
use precis_core::{FreeformClass, StringClass};
use precis_profiles::{UsernameCaseMapped, UsernameCasePreserved};
use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

use super::Invalid;

const USERNAME_MAX_CHARS: usize = 64;
const EMAIL_MAX_CHARS: usize = 254;
const FULL_NAME_MAX_CHARS: usize = 200;

/// Why a username or an email was refused: its shape (refused before the Unicode rules too),
/// or a Unicode rule against look-alikes, which a login id made before the rules still passes
/// as it was keyed then (`LoginId::parse`).
enum Refusal<T> {
    Shape(Invalid),
    LookAlike { invalid: Invalid, keyed_before: T },
}

impl<T> Refusal<T> {
    fn into_invalid(self) -> Invalid {
        match self {
            Refusal::Shape(invalid) | Refusal::LookAlike { invalid, .. } => invalid,
        }
    }
}

/// A character named so that an invisible one shows: `'\u{200b}' (U+200B)`.
fn describe(c: char) -> String {
    format!("{c:?} (U+{:04X})", u32::from(c))
}

/// The character a PRECIS profile refused, named for the person who typed it.
fn refused_character(what: &str, error: &precis_core::Error) -> Invalid {
    let message = match error {
        precis_core::Error::BadCodepoint(info) => match char::from_u32(info.cp) {
            Some(c) => format!(
                "{what} cannot contain {}: invisible, direction-changing, compatibility and \
                 symbol characters make names that look like others",
                describe(c)
            ),
            None => format!("{what} contains a character it cannot have"),
        },
        _ => format!("{what} is not valid: it breaks the rules of RFC 8265 (PRECIS)"),
    };
    Invalid::new("[invalid]", message)
}

/// A username: 1 to 64 characters, no spaces or control characters, no `@` (so that a login
/// id is never ambiguous between a username and an email), and no look-alikes of another name:
/// it must pass PRECIS (RFC 8265), which refuses invisible, direction-changing and other
/// format characters, and be written in one script (digits and punctuation go with any).
///
/// Kept as written, in NFC with full-width letters made ASCII (`UsernameCasePreserved`); unique
/// on its key, `UsernameCaseMapped` (also lowercase): `ＡＤＭＩＮ`, `Admin` and `admin` are
/// one name, and so are `café` in NFC and NFD.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username {
    name: String,
    key: String,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::parse_or_refuse(raw).map_err(Refusal::into_invalid)
    }

    fn parse_or_refuse(raw: &str) -> Result<Self, Refusal<Self>> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Refusal::Shape(Invalid::new(
                "[blank]",
                "a username is required",
            )));
        }
        if value.chars().count() > USERNAME_MAX_CHARS {
            return Err(Refusal::Shape(Invalid::new(
                "[tooLong]",
                format!("a username has at most {USERNAME_MAX_CHARS} characters"),
            )));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '@')
        {
            return Err(Refusal::Shape(Invalid::new(
                "[invalid]",
                format!("a username cannot contain {}", describe(bad)),
            )));
        }
        let look_alike = |invalid| Refusal::LookAlike {
            invalid,
            keyed_before: Self::from_stored(value, &value.to_lowercase()),
        };
        let refused = |e| look_alike(refused_character("a username", &e));
        let name = UsernameCasePreserved::enforce(value)
            .map_err(refused)?
            .into_owned();
        let key = UsernameCaseMapped::enforce(value)
            .map_err(refused)?
            .into_owned();
        if !key.is_single_script() {
            return Err(look_alike(Invalid::new(
                "[invalid]",
                "a username is written in one script: letters of two (say Latin and \
                 Cyrillic) make names that look like others",
            )));
        }
        Ok(Self { name, key })
    }

    /// A username read back from the store with the key it is stored under. A row made before
    /// the rules of `parse` stays readable, and keeps its key until it is renamed.
    pub fn from_stored(name: &str, key: &str) -> Self {
        Self {
            name: name.to_owned(),
            key: key.to_owned(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The form uniqueness is checked on, and a login looked up by.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.name)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// An email address, checked for shape (one `@`, a dotted domain, no spaces): whether it
/// receives mail is for a verification email to find out. Invisible and direction-changing
/// characters are refused (PRECIS `FreeformClass`). Kept as written, in NFC; unique on its
/// key: the local part in NFKC and lowercase (few mail systems tell case apart, and none
/// should give `Bob` and `bob` to two people), the domain in IDNA's ASCII form (`bücher.de`
/// and `xn--bcher-kva.de` are one domain). No script rule: the address is the mail system's.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    address: String,
    key: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::parse_or_refuse(raw).map_err(Refusal::into_invalid)
    }

    fn parse_or_refuse(raw: &str) -> Result<Self, Refusal<Self>> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Refusal::Shape(Invalid::new(
                "[blank]",
                "an email address is required",
            )));
        }
        if value.chars().count() > EMAIL_MAX_CHARS {
            return Err(Refusal::Shape(Invalid::new(
                "[tooLong]",
                format!("an email address has at most {EMAIL_MAX_CHARS} characters"),
            )));
        }
        let invalid = || {
            Refusal::Shape(Invalid::new(
                "[invalid]",
                format!("{value:?} is not an email address like name@example.com"),
            ))
        };
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-'));
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        let look_alike = |invalid| Refusal::LookAlike {
            invalid,
            keyed_before: Self::from_stored(value, &value.to_lowercase()),
        };
        if let Err(error) = FreeformClass::default().allows(value) {
            return Err(look_alike(refused_character("an email address", &error)));
        }
        let local_key = local.nfkc().collect::<String>().to_lowercase();
        // NFKC can make an `@` or a space of a full-width or compatibility character.
        if local_key
            .chars()
            .any(|c| c == '@' || c.is_whitespace() || c.is_control())
        {
            return Err(look_alike(Invalid::new(
                "[invalid]",
                "the part of an email address before the @ has a character that stands for \
                 an @ or a space",
            )));
        }
        let domain_key = idna::domain_to_ascii_strict(domain).map_err(|_| {
            look_alike(Invalid::new(
                "[invalid]",
                format!("{domain:?} is not a domain name"),
            ))
        })?;
        Ok(Self {
            address: format!("{}@{}", local.nfc(), domain.nfc()),
            key: format!("{local_key}@{domain_key}"),
        })
    }

    /// An address read back from the store with the key it is stored under (see
    /// `Username::from_stored`).
    pub fn from_stored(address: &str, key: &str) -> Self {
        Self {
            address: address.to_owned(),
            key: key.to_owned(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.address)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// A person's name as they write it: free text, trimmed, at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Invalid::new("[blank]", "the name is empty"));
        }
        if value.chars().count() > FULL_NAME_MAX_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                format!("a name has at most {FULL_NAME_MAX_CHARS} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(Invalid::new(
                "[invalid]",
                "a name cannot contain control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a person types to log in: their username or their email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginId {
    Username(Username),
    Email(Email),
}

impl LoginId {
    /// Normalised as a new name is, so that `ＡＤＭＩＮ` or `café` in NFD finds `admin` or
    /// `café`. A login id that only the rules against look-alikes refuse is looked up as it
    /// was keyed before them: accounts made then (and left alone because their names
    /// collided, see `store::names`) still log in, and no canonical key can match it.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::new("[blank]", "a username or email is required"));
        }
        if raw.contains('@') {
            match Email::parse_or_refuse(raw) {
                Ok(email)
                | Err(Refusal::LookAlike {
                    keyed_before: email,
                    ..
                }) => Ok(Self::Email(email)),
                Err(Refusal::Shape(invalid)) => Err(invalid),
            }
        } else {
            match Username::parse_or_refuse(raw) {
                Ok(name)
                | Err(Refusal::LookAlike {
                    keyed_before: name, ..
                }) => Ok(Self::Username(name)),
                Err(Refusal::Shape(invalid)) => Err(invalid),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_trimmed_and_keyed_without_case() {
        let name = Username::parse("  Alice ").unwrap();
        assert_eq!(name.as_str(), "Alice");
        assert_eq!(name.key(), "alice");
    }

    #[test]
    fn a_username_refuses_blanks_spaces_at_signs_and_excess_length() {
        assert_eq!(Username::parse("  ").unwrap_err().code, "[blank]");
        assert_eq!(Username::parse("a b").unwrap_err().code, "[invalid]");
        assert_eq!(Username::parse("a@b").unwrap_err().code, "[invalid]");
        assert_eq!(Username::parse("a\u{7}").unwrap_err().code, "[invalid]");
        assert_eq!(
            Username::parse(&"x".repeat(65)).unwrap_err().code,
            "[tooLong]"
        );
        assert!(Username::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn look_alikes_of_a_username_share_its_key_or_are_refused() {
        let key = |raw: &str| Username::parse(raw).map(|n| n.key().to_owned());
        // Full width, case, and NFD are the same name as `admin` and `café`.
        assert_eq!(
            key("\u{ff21}\u{ff24}\u{ff2d}\u{ff29}\u{ff2e}").unwrap(),
            "admin"
        );
        assert_eq!(key("Admin").unwrap(), "admin");
        assert_eq!(key("cafe\u{301}").unwrap(), key("caf\u{e9}").unwrap());
        // Invisible, direction-changing and mixed-script names are refused.
        for raw in [
            "admin\u{200b}",
            "ad\u{ad}min",
            "\u{202e}nimda",
            "ad\u{2060}min",
            "\u{430}dmin",
        ] {
            let refused = Username::parse(raw).unwrap_err();
            assert_eq!(refused.code, "[invalid]", "{raw:?}");
        }
        assert!(
            Username::parse("\u{430}dmin")
                .unwrap_err()
                .message
                .contains("one script")
        );
        assert!(
            Username::parse("admin\u{200b}")
                .unwrap_err()
                .message
                .contains("U+200B")
        );
    }

    #[test]
    fn a_username_keeps_its_case_for_display_but_not_its_width_or_decomposition() {
        let name = Username::parse("\u{ff21}da_Caf\u{65}\u{301}").unwrap();
        assert_eq!(name.as_str(), "Ada_Caf\u{e9}");
        assert_eq!(name.key(), "ada_caf\u{e9}");
    }

    #[test]
    fn names_in_one_script_other_than_latin_are_usernames() {
        for raw in [
            "\u{3a3}\u{3af}\u{3c3}\u{3c5}\u{3c6}\u{3bf}\u{3c2}",
            "\u{65e5}\u{672c}\u{3054}",
            "\u{5e9}\u{5dc}\u{5d5}\u{5dd}",
            "ivan-2",
        ] {
            assert!(Username::parse(raw).is_ok(), "{raw:?}");
        }
    }

    #[test]
    fn an_email_is_keyed_by_its_nfkc_lowercase_local_part_and_ascii_domain() {
        let email = Email::parse("Cafe\u{301}@B\u{fc}cher.DE").unwrap();
        assert_eq!(email.as_str(), "Caf\u{e9}@B\u{fc}cher.DE");
        assert_eq!(email.key(), "caf\u{e9}@xn--bcher-kva.de");
        assert_eq!(
            Email::parse("caf\u{e9}@xn--bcher-kva.de").unwrap().key(),
            email.key()
        );
        assert_eq!(
            Email::parse("\u{ff22}ob@example.com").unwrap().key(),
            "bob@example.com"
        );
    }

    #[test]
    fn an_email_refuses_invisible_and_direction_changing_characters() {
        for raw in [
            "bob\u{200b}@example.com",
            "bob@exa\u{ad}mple.com",
            "\u{202e}bob@example.com",
            "bob\u{ff20}x@example.com",
        ] {
            assert_eq!(Email::parse(raw).unwrap_err().code, "[invalid]", "{raw:?}");
        }
    }

    #[test]
    fn a_login_id_is_normalised_like_a_name_or_keyed_as_before_the_rules() {
        let Ok(LoginId::Username(name)) = LoginId::parse("\u{ff21}DMIN") else {
            panic!("a username");
        };
        assert_eq!(name.key(), "admin");
        // Refused as a new name, but an account made before the rules is found by it.
        let Ok(LoginId::Username(old)) = LoginId::parse("\u{430}dmin") else {
            panic!("a username");
        };
        assert_eq!(old.key(), "\u{430}dmin");
        let Ok(LoginId::Email(old)) = LoginId::parse("Bob\u{200b}@Example.com") else {
            panic!("an email");
        };
        assert_eq!(old.key(), "bob\u{200b}@example.com");
        // What was refused before the rules still is.
        assert_eq!(LoginId::parse("a b").unwrap_err().code, "[invalid]");
        assert_eq!(LoginId::parse("bob@").unwrap_err().code, "[invalid]");
    }

    #[test]
    fn an_email_needs_one_at_sign_and_a_dotted_domain() {
        assert!(Email::parse("Bob@Example.com").is_ok());
        assert_eq!(
            Email::parse("Bob@Example.com").unwrap().key(),
            "bob@example.com"
        );
        for bad in [
            "bob",
            "bob@",
            "@example.com",
            "bob@example",
            "bob@@example.com",
            "b ob@example.com",
            "bob@.com",
            "bob@example..com",
        ] {
            assert_eq!(Email::parse(bad).unwrap_err().code, "[invalid]", "{bad}");
        }
    }

    #[test]
    fn a_login_id_with_an_at_sign_is_an_email() {
        assert!(matches!(
            LoginId::parse("a@example.com"),
            Ok(LoginId::Email(_))
        ));
        assert!(matches!(LoginId::parse("admin"), Ok(LoginId::Username(_))));
        assert_eq!(LoginId::parse("").unwrap_err().code, "[blank]");
    }
}
