use super::Invalid;
use super::short_text::ShortText;

/// Why an administrator acted: 3 to 500 characters, kept in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        ShortText {
            min: 3,
            max: 500,
            line_breaks: true,
            too_short: "say why (at least 3 characters); it goes to the audit log",
            what: "a reason",
        }
        .parse(raw)
        .map(Self)
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
