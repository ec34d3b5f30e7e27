//! The secret of a one-time password link (FusionAuth's `changePasswordId`), as it arrives in a
//! URL or a body.

use std::fmt;

use super::Invalid;

/// A link's secret as a person's browser or an application hands it back: 32 to 64 characters
/// of URL-safe base64, what Tessera makes (43, from 32 random bytes) with room for no other
/// alphabet. It never prints: `Debug` hides it, since whoever holds it may set a password.
#[derive(Clone, PartialEq, Eq)]
pub struct ChangePasswordId(String);

impl ChangePasswordId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Invalid::new("[blank]", "a changePasswordId is required"));
        }
        let shaped = (32..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !shaped {
            return Err(Invalid::new(
                "[invalid]",
                "this is not a password link Tessera made: check that the whole link was copied",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChangePasswordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangePasswordId(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_secret_is_url_safe_base64_of_a_sensible_length() {
        let made = "k3J5sL0_Qm-2vXyZ8aBcDeFgHiJkLmNoPqRsTuVwXyZ";
        assert_eq!(ChangePasswordId::parse(made).unwrap().expose(), made);
        assert_eq!(ChangePasswordId::parse("").unwrap_err().code, "[blank]");
        assert_eq!(
            ChangePasswordId::parse("short").unwrap_err().code,
            "[invalid]"
        );
        let slashed = "k3J5sL0/Qm-2vXyZ8aBcDeFgHiJkLmNoPqRsTuVwXyZ";
        assert_eq!(
            ChangePasswordId::parse(slashed).unwrap_err().code,
            "[invalid]"
        );
        assert_eq!(
            ChangePasswordId::parse(&"a".repeat(65)).unwrap_err().code,
            "[invalid]"
        );
    }

    #[test]
    fn a_link_secret_never_prints() {
        let id = ChangePasswordId::parse(&"a".repeat(43)).unwrap();
        assert!(!format!("{id:?}").contains("aaaa"));
    }
}
