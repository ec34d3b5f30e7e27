use std::fmt;

use super::Invalid;

const USERNAME_MAX_CHARS: usize = 64;
const EMAIL_MAX_CHARS: usize = 254;
const FULL_NAME_MAX_CHARS: usize = 200;

/// A username: 1 to 64 characters, no spaces or control characters, no `@` (so that a login
/// id is never ambiguous between a username and an email). Unique without regard to case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Invalid::new("[blank]", "a username is required"));
        }
        if value.chars().count() > USERNAME_MAX_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                format!("a username has at most {USERNAME_MAX_CHARS} characters"),
            ));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '@')
        {
            return Err(Invalid::new(
                "[invalid]",
                format!("a username cannot contain {bad:?}"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is checked on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked for shape only (one `@`, a dotted domain, no spaces): whether it
/// receives mail is for a verification email to find out. Unique without regard to case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Invalid::new("[blank]", "an email address is required"));
        }
        if value.chars().count() > EMAIL_MAX_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                format!("an email address has at most {EMAIL_MAX_CHARS} characters"),
            ));
        }
        let invalid = || {
            Invalid::new(
                "[invalid]",
                format!("{value:?} is not an email address like name@example.com"),
            )
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
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::new("[blank]", "a username or email is required"));
        }
        if raw.contains('@') {
            Email::parse(raw).map(Self::Email)
        } else {
            Username::parse(raw).map(Self::Username)
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
