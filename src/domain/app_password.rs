//! App passwords: the secret a person gives a client without a browser (a mail app, a sync
//! client) in place of their password, and the name they know it by.

use std::fmt;

use super::Invalid;
use super::short_text::ShortText;

/// Characters of an app password, and how many to a group as it is shown.
pub const APP_PASSWORD_CHARS: usize = 16;
const GROUP: usize = 4;
/// Lower-case letters and digits: 36^16 is about 2^82, enough that a keyed SHA-256 of it is
/// as safe to keep as a password's Argon2id, and cheap enough to check on every request.
pub const APP_PASSWORD_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// An app password as compared: its 16 characters, lower case, without the dashes or spaces
/// it is shown and often typed with. It never prints: `Debug` shows a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct AppPassword(String);

impl AppPassword {
    /// `raw` as an app password, or why it cannot be one (then it is no app password at all,
    /// and nothing need be looked up).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let normal: String = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if normal.len() != APP_PASSWORD_CHARS
            || !normal.bytes().all(|b| APP_PASSWORD_ALPHABET.contains(&b))
        {
            return Err(Invalid::new(
                "[invalid]",
                format!("an app password is {APP_PASSWORD_CHARS} letters and digits"),
            ));
        }
        Ok(Self(normal))
    }

    /// The form a digest is taken of.
    pub fn normal(&self) -> &str {
        &self.0
    }

    /// As a person reads it once: `abcd-efgh-ijkl-mnop`.
    pub fn grouped(&self) -> String {
        self.0
            .as_bytes()
            .chunks(GROUP)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl fmt::Debug for AppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppPassword(…)")
    }
}

/// The name a person gives an app password ("Phone mail app").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordName(String);

impl AppPasswordName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        ShortText {
            min: 1,
            max: 64,
            line_breaks: false,
            too_short: "give the app password a name, such as the app it is for",
            what: "an app password's name",
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
    fn an_app_password_reads_as_shown_or_typed_and_never_prints() {
        let shown = AppPassword::parse("abcd-efgh-ijkl-mn09").unwrap();
        assert_eq!(shown.normal(), "abcdefghijklmn09");
        assert_eq!(shown.grouped(), "abcd-efgh-ijkl-mn09");
        assert_eq!(AppPassword::parse("ABCD EFGH ijkl mn09").unwrap(), shown);
        assert_eq!(format!("{shown:?}"), "AppPassword(…)");
        for not_one in [
            "",
            "abcd-efgh-ijkl",
            "abcd-efgh-ijkl-mnop-q",
            "abcd-efgh-ijkl-mn_p",
            "correct horse battery",
        ] {
            assert!(AppPassword::parse(not_one).is_err(), "{not_one}");
        }
    }

    #[test]
    fn a_name_is_trimmed_short_and_printable() {
        assert_eq!(
            AppPasswordName::parse("  Phone mail app ")
                .unwrap()
                .as_str(),
            "Phone mail app"
        );
        assert!(AppPasswordName::parse("   ").is_err());
        assert!(AppPasswordName::parse(&"x".repeat(65)).is_err());
        assert!(AppPasswordName::parse("a\nb").is_err());
    }
}
