//! Groups of users: their ids, names and descriptions, and a user's membership of one.

use std::fmt;

use precis_core::{FreeformClass, StringClass};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use super::Invalid;
use crate::clock::Instant;

const GROUP_NAME_MAX_CHARS: usize = 100;
const DESCRIPTION_MAX_CHARS: usize = 1000;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct GroupId(Uuid);

impl GroupId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Uuid::parse_str(raw.trim())
            .map(Self)
            .map_err(|_| Invalid::new("[invalid]", format!("{raw:?} is not a group id (a UUID)")))
    }
}

impl Default for GroupId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A group's name: free text as people name teams ("Sales EMEA", "on-call"), trimmed, its runs
/// of spaces made one, 1 to 100 characters, without control, invisible or direction-changing
/// characters (PRECIS `FreeformClass`, as an email address): two names that look the same are
/// one name. Kept as written, in NFC; unique on its key, which also ignores case and width
/// (NFKC, lowercase), as a username's does: `Admins`, `ADMINS` and `ａｄｍｉｎｓ` are one group.
/// No `;`: it separates the groups of a user in an import's CSV.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GroupName {
    name: String,
    key: String,
}

impl GroupName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if let Some(bad) = raw.trim().chars().find(|c| c.is_control()) {
            return Err(Invalid::new(
                "[invalid]",
                format!("a group name cannot contain {}", describe(bad)),
            ));
        }
        let value = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if value.is_empty() {
            return Err(Invalid::new("[blank]", "a group name is required"));
        }
        if value.chars().count() > GROUP_NAME_MAX_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                format!("a group name has at most {GROUP_NAME_MAX_CHARS} characters"),
            ));
        }
        if value.contains(';') {
            return Err(Invalid::new(
                "[invalid]",
                "a group name cannot contain ';', which separates groups in a CSV file",
            ));
        }
        if value.contains(',') {
            return Err(Invalid::new(
                "[invalid]",
                "a group name cannot contain ',', which separates groups in the Remote-Groups \
                 header forward-auth gives applications",
            ));
        }
        if let Err(error) = FreeformClass::default().allows(&value) {
            let which = match error {
                precis_core::Error::BadCodepoint(info) => char::from_u32(info.cp)
                    .map(describe)
                    .unwrap_or_else(|| "a character it cannot have".into()),
                _ => "a character it cannot have".into(),
            };
            return Err(Invalid::new(
                "[invalid]",
                format!(
                    "a group name cannot contain {which}: invisible and direction-changing \
                     characters make names that look like others"
                ),
            ));
        }
        let name: String = value.nfc().collect();
        let key = name
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .nfc()
            .collect();
        Ok(Self { name, key })
    }

    /// A name read back from the store with its key.
    pub fn from_stored(name: &str, key: &str) -> Self {
        Self {
            name: name.to_owned(),
            key: key.to_owned(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The form uniqueness is checked on, and a group found by its name.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupName({})", self.name)
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a group is for, in the administrator's words: trimmed, at most 1000 characters, lines
/// and tabs allowed but no other control character. Empty is none.
pub fn parse_description(raw: &str) -> Result<Option<String>, Invalid> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(Invalid::new(
            "[tooLong]",
            format!("a description has at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(Invalid::new(
            "[invalid]",
            format!("a description cannot contain {}", describe(bad)),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// A character named so that an invisible one shows: `'\u{200b}' (U+200B)`.
fn describe(c: char) -> String {
    format!("{c:?} (U+{:04X})", u32::from(c))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: GroupName,
    pub description: Option<String>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        GroupName::parse(raw).unwrap().key().to_owned()
    }

    #[test]
    fn a_group_name_is_trimmed_its_spaces_made_one_and_kept_as_written() {
        let name = GroupName::parse("  Sales   EMEA \u{3000}").unwrap();
        assert_eq!(name.as_str(), "Sales EMEA");
        assert_eq!(name.key(), "sales emea");
        assert_eq!(
            GroupName::parse("on-call (L2) & ops").unwrap().as_str(),
            "on-call (L2) & ops"
        );
    }

    #[test]
    fn names_that_differ_only_in_case_width_or_composition_share_a_key() {
        assert_eq!(key("Admins"), key("ADMINS"));
        assert_eq!(
            key("admins"),
            key("\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}\u{ff53}")
        );
        assert_eq!(key("caf\u{e9}"), key("cafe\u{301}"));
        assert_ne!(key("admins"), key("admin"));
    }

    #[test]
    fn a_group_name_refuses_blanks_excess_length_and_hidden_characters() {
        for (raw, code) in [
            ("", "[blank]"),
            ("   ", "[blank]"),
            ("a\nb", "[invalid]"),
            (" admins\n", "[ok]"),
            ("a\tb", "[invalid]"),
            ("ad\u{200b}mins", "[invalid]"),
            ("admins\u{202e}", "[invalid]"),
            ("\u{feff}admins", "[invalid]"),
            ("ad\u{7}mins", "[invalid]"),
            ("sales;ops", "[invalid]"),
            ("sales,ops", "[invalid]"),
        ] {
            let code_of = GroupName::parse(raw).err().map_or("[ok]", |e| e.code);
            assert_eq!(code_of, code, "{raw:?}");
        }
        assert!(GroupName::parse(&"x".repeat(100)).is_ok());
        assert_eq!(
            GroupName::parse(&"x".repeat(101)).unwrap_err().code,
            "[tooLong]"
        );
        let error = GroupName::parse("ad\u{200b}mins").unwrap_err();
        assert!(error.message.contains("U+200B"), "{}", error.message);
    }

    #[test]
    fn names_in_any_script_are_group_names() {
        assert!(GroupName::parse("Отдел продаж").is_ok());
        assert!(GroupName::parse("営業部").is_ok());
    }

    #[test]
    fn a_description_is_optional_trimmed_and_free_of_control_characters() {
        assert_eq!(parse_description("  ").unwrap(), None);
        assert_eq!(
            parse_description(" Two lines\nof text ")
                .unwrap()
                .as_deref(),
            Some("Two lines\nof text")
        );
        assert!(parse_description("a\u{0}b").is_err());
        assert!(parse_description(&"x".repeat(1001)).is_err());
    }

    #[test]
    fn a_group_id_must_be_a_uuid() {
        assert!(GroupId::parse("sales").is_err());
        let id = GroupId::new();
        assert_eq!(GroupId::parse(&id.to_string()).unwrap(), id);
    }
}
