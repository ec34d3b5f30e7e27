use std::fmt;

use precis_core::profile::PrecisFastInvocation;
use precis_profiles::OpaqueString;

use super::Invalid;

const MIN_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing it costs nothing extra.
const MAX_CHARS: usize = 256;

/// A plaintext password on its way to the hasher, in the form RFC 8265 (PRECIS
/// `OpaqueString`) compares: NFC, with every kind of space made U+0020, so that `café` typed
/// on a keyboard that sends NFD is the `café` that was chosen in NFC. It never prints: `Debug`
/// and `Display` show a placeholder, so a password cannot reach a log by accident.
#[derive(Clone)]
pub struct Password {
    normal: String,
    /// An attempt as typed, when that differs from its normal form: hashes made before
    /// passwords were normalised were made from what was typed (`PasswordHasher::verify`).
    as_typed: Option<String>,
}

impl Password {
    /// A new password someone is choosing: the length rules of NIST SP 800-63B apply, and the
    /// characters of PRECIS `OpaqueString` (no control or unassigned characters).
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
        let normal = OpaqueString::enforce(raw).map_err(|_| {
            Invalid::new(
                "[invalid]",
                "a password cannot contain control or unassigned characters",
            )
        })?;
        if is_common(&normal) {
            return Err(Invalid::new(
                "[breached]",
                "this password is too common: it is on lists of breached passwords, or is a \
                 sequence or repetition; choose another (a few unrelated words make a good one)",
            ));
        }
        Ok(Self {
            normal: normal.into_owned(),
            as_typed: None,
        })
    }

    /// A password offered at login: any non-empty value is checked against the hash, but an
    /// oversized one is refused before it reaches the hasher. One that `OpaqueString` refuses
    /// can only be a password chosen before the rule, and is checked as typed.
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
        Ok(match OpaqueString::enforce(raw) {
            Ok(normal) if normal != raw => Self {
                normal: normal.into_owned(),
                as_typed: Some(raw.to_owned()),
            },
            _ => Self {
                normal: raw.to_owned(),
                as_typed: None,
            },
        })
    }

    /// The normal form: what is hashed, and checked first.
    pub fn expose(&self) -> &str {
        &self.normal
    }

    /// The attempt as typed, when it differs from `expose()`.
    pub fn as_typed(&self) -> Option<&str> {
        self.as_typed.as_deref()
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
    fn a_password_is_compared_in_nfc_with_plain_spaces() {
        let chosen = Password::new_choice("cafe\u{301} au lait").unwrap();
        assert_eq!(chosen.expose(), "caf\u{e9} au lait");
        assert_eq!(chosen.as_typed(), None);
        let typed = Password::attempt("caf\u{e9}\u{a0}au lait").unwrap();
        assert_eq!(typed.expose(), "caf\u{e9} au lait");
        assert_eq!(typed.as_typed(), Some("caf\u{e9}\u{a0}au lait"));
        assert_eq!(Password::attempt("plain ascii").unwrap().as_typed(), None);
    }

    #[test]
    fn a_new_password_cannot_hold_control_characters_but_an_old_one_is_still_tried() {
        assert_eq!(
            Password::new_choice("bell\u{7}rings").unwrap_err().code,
            "[invalid]"
        );
        assert_eq!(
            Password::attempt("bell\u{7}rings").unwrap().expose(),
            "bell\u{7}rings"
        );
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::attempt("hunter2-secret").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
