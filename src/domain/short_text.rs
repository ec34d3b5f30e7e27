//! Short text a person types for people to read later (a method's name, a reason): one rule for
//! each such field, so that they trim, count and refuse alike.

use super::Invalid;

/// What one kind of short text allows, and how its refusals read.
pub(super) struct ShortText {
    /// Fewest characters, after trimming (at least 1).
    pub min: usize,
    pub max: usize,
    /// Whether line breaks are allowed (every other control character never is).
    pub line_breaks: bool,
    /// The refusal of text that is blank or shorter than `min`.
    pub too_short: &'static str,
    /// The field as the refusals name it: "a reason", "a method name".
    pub what: &'static str,
}

impl ShortText {
    /// `raw`, trimmed, when it fits.
    pub fn parse(&self, raw: &str) -> Result<String, Invalid> {
        let value = raw.trim();
        let length = value.chars().count();
        if length < self.min.max(1) {
            return Err(Invalid::new("[blank]", self.too_short));
        }
        if length > self.max {
            return Err(Invalid::new(
                "[tooLong]",
                format!("{} has at most {} characters", self.what, self.max),
            ));
        }
        if value
            .chars()
            .any(|c| c.is_control() && !(self.line_breaks && c == '\n'))
        {
            return Err(Invalid::new(
                "[invalid]",
                format!("{} cannot contain control characters", self.what),
            ));
        }
        Ok(value.to_owned())
    }
}
