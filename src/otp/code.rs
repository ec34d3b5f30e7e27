use std::fmt;

use subtle::ConstantTimeEq;

use crate::domain::Invalid;

/// A numeric one-time code as typed: 4 to 10 digits (spaces and a middle dash are tolerated,
/// as people copy "123 456").
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.is_empty() {
            return Err(Invalid::new("[blank]", "a code is required"));
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new("[invalid]", "a code is made of digits only"));
        }
        if !(4..=10).contains(&digits.len()) {
            return Err(Invalid::new("[invalid]", "a code has 4 to 10 digits"));
        }
        Ok(Self(digits))
    }

    /// A code computed here (always valid digits).
    pub(crate) fn from_digits(digits: String) -> Self {
        Self(digits)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Equal in constant time (for codes of equal length, which the callers ensure).
    pub fn matches(&self, other: &OtpCode) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_four_to_ten_digits_with_copy_paste_spaces_tolerated() {
        assert_eq!(OtpCode::parse("123 456").unwrap().as_str(), "123456");
        assert_eq!(OtpCode::parse("123-456").unwrap().as_str(), "123456");
        assert_eq!(OtpCode::parse("12345678").unwrap().len(), 8);
        assert_eq!(OtpCode::parse("").unwrap_err().code, "[blank]");
        assert_eq!(OtpCode::parse("12a456").unwrap_err().code, "[invalid]");
        assert_eq!(OtpCode::parse("123").unwrap_err().code, "[invalid]");
        assert_eq!(OtpCode::parse("12345678901").unwrap_err().code, "[invalid]");
        assert_eq!(OtpCode::parse("١٢٣٤٥٦").unwrap_err().code, "[invalid]");
    }

    #[test]
    fn a_code_never_prints() {
        assert!(!format!("{:?}", OtpCode::parse("123456").unwrap()).contains("123"));
    }
}
