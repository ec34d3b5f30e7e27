use std::fmt;

use rand::Rng;
use rand::rngs::OsRng;

use crate::domain::Invalid;

/// Crockford's base32 alphabet: digits and capitals without I, L, O and U, so nothing reads as
/// something else. 10 characters carry 50 bits.
pub(super) const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LENGTH: usize = 10;

/// A single-use recovery code, `QJD73-L6GR5`. Kept normalised (no dash, upper case) and never
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn generate() -> Self {
        let mut rng = OsRng;
        loop {
            let drawn: String = (0..LENGTH)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            if can_be_told_from_a_numeric_code(&drawn) {
                return Self(drawn);
            }
        }
    }

    /// Reads a code as a person types it: any case, with or without the dash or spaces, and
    /// with the look-alikes O, I and L read as 0, 1 and 1.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let normalised = normalise(raw);
        if normalised.len() != LENGTH || !normalised.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(Invalid::new(
                "[invalid]",
                "a recovery code has 10 letters and digits, like QJD73-L6GR5",
            ));
        }
        Ok(Self(normalised))
    }

    /// Whether a typed value has the shape of a recovery code (rather than a numeric code).
    pub fn looks_like(raw: &str) -> bool {
        Self::parse(raw).is_ok() && raw.chars().any(|c| c.is_ascii_alphabetic())
    }

    /// The form shown to the user, with a dash in the middle.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }

    /// The normalised form that is hashed for storage.
    pub fn normalised(&self) -> &str {
        &self.0
    }
}

/// A code as typed, without dashes and spaces, in capitals, with the look-alikes O, I and L
/// read as 0, 1 and 1.
pub(super) fn normalise(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// Ten digits would be read as a numeric code (they may have up to 10), so a drawn code needs a
/// letter; about 9 draws in a million are drawn again.
fn can_be_told_from_a_numeric_code(drawn: &str) -> bool {
    drawn.bytes().any(|b| b.is_ascii_alphabetic())
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_of_digits_only_is_drawn_again_because_it_would_read_as_a_numeric_code() {
        assert!(!can_be_told_from_a_numeric_code("0123456789"));
        assert!(!RecoveryCode::looks_like("01234-56789"));
        assert!(can_be_told_from_a_numeric_code("012345678A"));
        assert!(RecoveryCode::looks_like("01234-5678A"));
    }

    #[test]
    fn a_generated_code_has_two_groups_of_five_from_the_unambiguous_alphabet() {
        let code = RecoveryCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 11);
        assert_eq!(&shown[5..6], "-");
        assert!(!shown.contains(['I', 'L', 'O', 'U']));
        assert_eq!(RecoveryCode::parse(&shown).unwrap(), code);
    }

    #[test]
    fn a_typed_code_is_read_forgivingly() {
        let code = RecoveryCode::parse("QJD73-L6GR5").unwrap();
        assert_eq!(code.normalised(), "QJD7316GR5");
        assert_eq!(RecoveryCode::parse("qjd73 l6gr5").unwrap(), code);
        assert_eq!(RecoveryCode::parse("QJD7316GR5").unwrap(), code);
    }

    #[test]
    fn anything_else_is_not_a_recovery_code() {
        for bad in [
            "",
            "123456",
            "QJD73-L6GR",
            "QJD73-L6GR5X",
            "QJD73-L6GRU",
            "QJD73_L6GR5",
        ] {
            assert!(RecoveryCode::parse(bad).is_err(), "{bad}");
        }
        assert!(!RecoveryCode::looks_like("1234567890"));
        assert!(RecoveryCode::looks_like("QJD73-L6GR5"));
    }

    #[test]
    fn codes_are_distinct() {
        let codes: std::collections::HashSet<String> = (0..1000)
            .map(|_| RecoveryCode::generate().display())
            .collect();
        assert_eq!(codes.len(), 1000);
    }
}
