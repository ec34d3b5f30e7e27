//! The name a person gives a security key or a passkey ("YubiKey on my keyring", "Laptop"),
//! shown in their list and in the audit log.

use std::fmt;

use super::Invalid;

/// Longest name, in characters.
const MAX_CHARS: usize = 64;

/// A key's name: trimmed, 1 to 64 characters, no control characters (it is shown in pages
/// and sentences, where a line break or an escape would mislead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Invalid::new(
                "[blank]",
                "give the key a name, such as where it is kept",
            ));
        }
        if value.chars().count() > MAX_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                format!("a key's name has at most {MAX_CHARS} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(Invalid::new(
                "[invalid]",
                "a key's name cannot contain control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_name_is_trimmed_and_refused_when_blank_long_or_with_control_characters() {
        assert_eq!(
            KeyName::parse("  YubiKey 5 ").unwrap().as_str(),
            "YubiKey 5"
        );
        assert_eq!(
            KeyName::parse(&"é".repeat(64))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            64
        );
        assert_eq!(KeyName::parse(" \t ").unwrap_err().code, "[blank]");
        assert_eq!(
            KeyName::parse(&"x".repeat(65)).unwrap_err().code,
            "[tooLong]"
        );
        assert_eq!(
            KeyName::parse("a\u{1b}[31mb").unwrap_err().code,
            "[invalid]"
        );
        assert_eq!(KeyName::parse("a\nb").unwrap_err().code, "[invalid]");
    }
}
