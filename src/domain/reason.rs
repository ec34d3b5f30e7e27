use super::Invalid;

/// Why an administrator acted: 3 to 500 characters, kept in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        if value.chars().count() < 3 {
            return Err(Invalid::new(
                "[blank]",
                "say why (at least 3 characters); it goes to the audit log",
            ));
        }
        if value.chars().count() > 500 {
            return Err(Invalid::new(
                "[tooLong]",
                "a reason has at most 500 characters",
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Invalid::new(
                "[invalid]",
                "a reason cannot contain control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_short_readable_text() {
        assert!(Reason::parse("lost phone, checked ID at desk").is_ok());
        assert_eq!(Reason::parse(" x ").unwrap_err().code, "[blank]");
        assert_eq!(
            Reason::parse(&"x".repeat(501)).unwrap_err().code,
            "[tooLong]"
        );
        assert_eq!(Reason::parse("abc\u{7}").unwrap_err().code, "[invalid]");
    }
}
