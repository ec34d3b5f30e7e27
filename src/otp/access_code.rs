use std::fmt;

use rand::Rng;
use rand::rngs::OsRng;

use super::recovery::{ALPHABET, normalise};
use crate::domain::Invalid;

/// 20 characters of Crockford's base32: 100 bits, beyond reach of guessing at the failure limit
/// and of a search of its stored SHA-256 within its day.
const LENGTH: usize = 20;
const GROUP: usize = 5;

/// A one-time access code an administrator gives a person who lost their second factor,
/// `7QKD2-M9X4T-R2H8C-W3N6P`: twice a recovery code's length, so the two are told apart by
/// their length alone. Kept normalised (no dashes, upper case) and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessCode(String);

impl AccessCode {
    pub fn generate() -> Self {
        let mut rng = OsRng;
        loop {
            let drawn: String = (0..LENGTH)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            // Twenty digits would be read as a (too long) numeric code: about one draw in
            // twelve billion is drawn again.
            if drawn.bytes().any(|b| b.is_ascii_alphabetic()) {
                return Self(drawn);
            }
        }
    }

    /// Reads a code as a person types it: any case, with or without dashes or spaces, and with
    /// the look-alikes O, I and L read as 0, 1 and 1.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let normalised = normalise(raw);
        if normalised.len() != LENGTH || !normalised.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(Invalid::new(
                "[invalid]",
                "an access code has 20 letters and digits, like 7QKD2-M9X4T-R2H8C-W3N6P",
            ));
        }
        Ok(Self(normalised))
    }

    /// Whether a typed value is meant as an access code rather than a numeric or a recovery
    /// code: it has a letter and more characters than a recovery code.
    pub fn is_meant(raw: &str) -> bool {
        let significant = raw.chars().filter(|c| !matches!(c, '-' | ' ')).count();
        significant > 10 && raw.chars().any(|c| c.is_ascii_alphabetic())
    }

    /// The form shown to the administrator, in groups of five.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(GROUP)
            .map(|group| String::from_utf8_lossy(group).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The normalised form that is hashed for storage.
    pub fn normalised(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::RecoveryCode;

    #[test]
    fn a_generated_code_has_four_groups_of_five_from_the_unambiguous_alphabet() {
        let code = AccessCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 23);
        assert_eq!(shown.matches('-').count(), 3);
        assert!(!shown.contains(['I', 'L', 'O', 'U']));
        assert_eq!(AccessCode::parse(&shown).unwrap(), code);
    }

    #[test]
    fn a_typed_code_is_read_forgivingly() {
        let code = AccessCode::parse("7QKD2-M9X4T-R2H8C-W3N6P").unwrap();
        assert_eq!(code.normalised(), "7QKD2M9X4TR2H8CW3N6P");
        assert_eq!(AccessCode::parse("7qkd2 m9x4t r2h8c w3n6p").unwrap(), code);
        assert_eq!(AccessCode::parse("7QKD2M9X4TR2H8CW3N6P").unwrap(), code);
        assert_eq!(
            AccessCode::parse("7QKD2-M9X4T-R2H8C-W3N6O")
                .unwrap()
                .normalised(),
            "7QKD2M9X4TR2H8CW3N60"
        );
    }

    #[test]
    fn anything_else_is_not_an_access_code() {
        for bad in [
            "",
            "123456",
            "QJD73-L6GR5",
            "7QKD2-M9X4T-R2H8C-W3N6",
            "7QKD2-M9X4T-R2H8C-W3N6PX",
            "7QKD2-M9X4T-R2H8C-W3N6U",
            "7QKD2_M9X4T_R2H8C_W3N6P",
        ] {
            assert!(AccessCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_access_code_is_told_from_numeric_and_recovery_codes_by_its_shape() {
        assert!(AccessCode::is_meant("7QKD2-M9X4T-R2H8C-W3N6P"));
        assert!(
            AccessCode::is_meant("7QKD2-M9X4T-R"),
            "too short, still meant"
        );
        for other in ["123456", "123 456", "1234567890123", "QJD73-L6GR5"] {
            assert!(!AccessCode::is_meant(other), "{other}");
        }
        let recovery = RecoveryCode::generate().display();
        assert!(!AccessCode::is_meant(&recovery));
        assert!(!RecoveryCode::looks_like(&AccessCode::generate().display()));
    }

    #[test]
    fn a_code_never_prints() {
        let code = AccessCode::parse("7QKD2-M9X4T-R2H8C-W3N6P").unwrap();
        assert!(!format!("{code:?}").contains("7QKD2"));
    }
}
