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
        if is_common(raw) {
            return Err(Invalid::new(
                "[breached]",
                "this password is too common: it is on lists of breached passwords, or is a \
                 sequence or repetition; choose another (a few unrelated words make a good one)",
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

/// Longer than any password of the breach lists; a longer one is not looked up.
const COMMON_CHARS_AT_MOST: usize = 64;

/// Whether a password is one attackers try first: a word of zxcvbn's lists of breached
/// passwords (or one with capitals, l33t or reversed), or so guessable that zxcvbn scores it 0
/// (repetitions, sequences, keyboard walks).
fn is_common(raw: &str) -> bool {
    if raw.chars().count() > COMMON_CHARS_AT_MOST {
        return false;
    }
    let estimate = zxcvbn::zxcvbn(raw, &[]);
    if estimate.score() == zxcvbn::Score::Zero {
        return true;
    }
    let whole = raw.chars().count();
    estimate.sequence().iter().any(|part| {
        // A breached password with a digit or a symbol added is still the breached password.
        let covers = part.j + 1 - part.i >= whole.saturating_sub(1);
        // The crate does not export the type of its lists; the passwords list is its default.
        covers
            && matches!(
                &part.pattern,
                zxcvbn::matching::patterns::MatchPattern::Dictionary(word)
                    if word.dictionary_name == Default::default()
            )
    })
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
    fn common_and_breached_passwords_are_refused_and_passphrases_are_not() {
        for common in [
            "password",
            "password1",
            "P@ssw0rd",
            "qwertyuiop",
            "iloveyou",
            "12345678",
        ] {
            assert_eq!(
                Password::new_choice(common).map(|_| ()).unwrap_err().code,
                "[breached]",
                "{common}"
            );
        }
        for fine in [
            "correct horse battery",
            "tessera-staple-42-river",
            "eight ch",
        ] {
            assert!(Password::new_choice(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::attempt("hunter2-secret").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
