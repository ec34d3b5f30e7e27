use std::fmt;

use super::Invalid;

const MIN_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing it costs nothing extra.
const MAX_CHARS: usize = 256;

/// A plaintext password on its way to the hasher. It never prints: `Debug` and `Display` show
/// a placeholder, so a password cannot reach a log by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// A new password someone is choosing: the length rules of NIST SP 800-63B apply.
    pub fn new_choice(raw: &str) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err(Invalid::new("[blank]", "a password is required"));
        }
        if chars < MIN_CHARS {
            return Err(Invalid::new(
                "[tooShort]",
                format!("a password has at least {MIN_CHARS} characters"),
            ));
        }
        if chars > MAX_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                format!("a password has at most {MAX_CHARS} characters"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password offered at login: any non-empty value is checked against the hash, but an
    /// oversized one is refused before it reaches the hasher.
    pub fn attempt(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::new("[blank]", "a password is required"));
        }
        if raw.chars().count() > MAX_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                format!("a password has at most {MAX_CHARS} characters"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_has_eight_to_256_characters() {
        assert_eq!(Password::new_choice("").unwrap_err().code, "[blank]");
        assert_eq!(
            Password::new_choice("short").unwrap_err().code,
            "[tooShort]"
        );
        assert!(Password::new_choice("eight ch").is_ok());
        assert_eq!(
            Password::new_choice(&"p".repeat(257)).unwrap_err().code,
            "[tooLong]"
        );
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::attempt("hunter2-secret").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
