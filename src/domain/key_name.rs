//! The name a person gives a security key or a passkey ("YubiKey on my keyring", "Laptop"),
//! shown in their list and in the audit log.

use std::fmt;

use super::Invalid;
use super::short_text::ShortText;

/// Longest name, in characters.
const MAX_CHARS: usize = 64;

/// A key's name: trimmed, 1 to 64 characters, no control characters (it is shown in pages
/// and sentences, where a line break or an escape would mislead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        ShortText {
            min: 1,
            max: MAX_CHARS,
            line_breaks: false,
            too_short: "give the key a name, such as where it is kept",
            what: "a key's name",
        }
        .parse(raw)
        .map(Self)
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
