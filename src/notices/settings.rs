//! The administrator's choices about security notices, one settings document (`notices`):
//! which events are told, by email and by text, and texts of the operator's own per locale.
//! Read and replaced whole, like the accounts settings.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::NoticeKind;
use crate::domain::FieldError;

/// Where the settings are kept.
pub const SETTINGS_KEY: &str = "notices";

/// The parts of a notice a template can replace.
pub const PARTS: [&str; 3] = ["subject", "body", "sms"];

/// The placeholders a template may hold, each filled in from the event.
pub const PLACEHOLDERS: [&str; 8] = [
    "{product}",
    "{username}",
    "{when}",
    "{from}",
    "{browser}",
    "{method}",
    "{link}",
    "{security}",
];

const MAX_SUBJECT_CHARS: usize = 150;
const MAX_BODY_CHARS: usize = 4000;
const MAX_SMS_CHARS: usize = 320;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NoticeSettings {
    /// Email the notices to the account's verified address (on by default).
    pub email: bool,
    /// Also text them to the account's phone method (off by default: texts cost money).
    pub sms: bool,
    /// The events told; all of them by default.
    #[schema(value_type = Vec<String>)]
    pub kinds: BTreeSet<NoticeKind>,
    /// Texts of your own: `{kind}.{part}` or `{kind}.{part}.{locale}`, where part is `subject`,
    /// `body` or `sms` (e.g. `newComputer.body.fr`). A body and a text must hold `{link}`, the
    /// "this was not me" link. The built-in text (en, fr, de, es) otherwise.
    pub templates: BTreeMap<String, String>,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        Self {
            email: true,
            sms: false,
            kinds: NoticeKind::ALL.iter().copied().collect(),
            templates: BTreeMap::new(),
        }
    }
}

impl NoticeSettings {
    /// The settings as stored; the defaults when none are, or when a stored copy no longer
    /// reads.
    pub fn from_stored(json: Option<&str>) -> Self {
        json.and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }

    /// Whether `kind` is told by any channel.
    pub fn tells(&self, kind: NoticeKind) -> bool {
        (self.email || self.sms) && self.kinds.contains(&kind)
    }

    /// Every template that is misnamed, too long, or holds what it cannot, each as a field
    /// error naming its key.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let errors: Vec<FieldError> = self
            .templates
            .iter()
            .filter_map(|(key, text)| {
                template_problem(key, text).map(|problem| {
                    FieldError::new(
                        "notices.templates",
                        crate::domain::Invalid::new("[invalid]", format!("{key:?}: {problem}")),
                    )
                })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// What is wrong with one template, if anything.
fn template_problem(key: &str, text: &str) -> Option<String> {
    let mut parts = key.split('.');
    let (kind, part, locale) = (parts.next(), parts.next(), parts.next());
    if parts.next().is_some()
        || kind.and_then(NoticeKind::parse).is_none()
        || !part.is_some_and(|p| PARTS.contains(&p))
    {
        return Some(format!(
            "a template is named kind.part or kind.part.locale, with a kind among {} and a \
             part among subject, body, sms",
            NoticeKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(locale) = locale
        && !is_language(locale)
    {
        return Some("a locale is a two-letter language code, such as fr".into());
    }
    let part = part.unwrap_or_default();
    let max = match part {
        "subject" => MAX_SUBJECT_CHARS,
        "body" => MAX_BODY_CHARS,
        _ => MAX_SMS_CHARS,
    };
    if text.trim().is_empty() || text.chars().count() > max {
        return Some(format!("a {part} holds 1 to {max} characters"));
    }
    if part == "subject" && text.contains(['\r', '\n']) {
        return Some("a subject is one line".into());
    }
    if part != "subject" && !text.contains("{link}") {
        return Some(format!(
            "a {part} holds {{link}}: the way to say it was not you"
        ));
    }
    unknown_placeholder(text).map(|name| {
        format!(
            "{name} is not a placeholder; those are {}",
            PLACEHOLDERS.join(" ")
        )
    })
}

fn is_language(locale: &str) -> bool {
    locale.len() == 2 && locale.bytes().all(|b| b.is_ascii_lowercase())
}

/// The first `{name}` in `text` that is not one of the placeholders.
fn unknown_placeholder(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let close = after.find('}')?;
        let name = &after[..=close];
        let inside = &name[1..name.len() - 1];
        let looks_like_one = !inside.is_empty()
            && inside
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if looks_like_one && !PLACEHOLDERS.contains(&name) {
            return Some(name.to_owned());
        }
        rest = &after[close + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_template(key: &str, text: &str) -> NoticeSettings {
        NoticeSettings {
            templates: [(key.to_owned(), text.to_owned())].into(),
            ..NoticeSettings::default()
        }
    }

    #[test]
    fn by_default_every_event_is_told_by_email_and_none_by_text() {
        let settings = NoticeSettings::default();
        assert!(settings.email && !settings.sms);
        for &kind in NoticeKind::ALL {
            assert!(settings.tells(kind));
        }
        let silent = NoticeSettings {
            email: false,
            ..NoticeSettings::default()
        };
        assert!(!silent.tells(NoticeKind::NewComputer));
    }

    #[test]
    fn settings_read_with_defaults_for_what_is_missing_or_unreadable() {
        assert_eq!(NoticeSettings::from_stored(None), NoticeSettings::default());
        assert_eq!(
            NoticeSettings::from_stored(Some("not json")),
            NoticeSettings::default()
        );
        let stored = NoticeSettings::from_stored(Some(r#"{"sms":true}"#));
        assert!(stored.sms && stored.email);
        assert_eq!(stored.kinds.len(), NoticeKind::ALL.len());
    }

    #[test]
    fn a_template_is_named_by_a_kind_a_part_and_perhaps_a_language() {
        for key in [
            "newComputer.subject",
            "passwordChanged.body.fr",
            "methodAdded.sms.de",
        ] {
            let text = if key.contains("subject") {
                "New login to {product}"
            } else {
                "Not you? {link}"
            };
            assert_eq!(with_template(key, text).check(), Ok(()), "{key}");
        }
        for key in [
            "newcomputer.subject",
            "newComputer.title",
            "newComputer.body.french",
            "newComputer.body.fr.extra",
            "newComputer",
        ] {
            assert!(
                with_template(key, "Not you? {link}").check().is_err(),
                "{key}"
            );
        }
    }

    #[test]
    fn a_body_or_a_text_without_the_link_is_refused() {
        let error = with_template("newComputer.body", "Someone logged in.")
            .check()
            .unwrap_err();
        assert_eq!(error[0].field, "notices.templates");
        assert!(error[0].message.contains("{link}"), "{}", error[0].message);
        assert!(
            with_template("newComputer.sms", "Someone logged in.")
                .check()
                .is_err()
        );
    }

    #[test]
    fn a_subject_is_one_short_line() {
        assert!(
            with_template("newComputer.subject", "New\nlogin")
                .check()
                .is_err()
        );
        assert!(
            with_template("newComputer.subject", &"x".repeat(151))
                .check()
                .is_err()
        );
        assert!(with_template("newComputer.subject", " ").check().is_err());
    }

    #[test]
    fn an_unknown_placeholder_is_named() {
        let error = with_template("newComputer.body", "{link} {code}")
            .check()
            .unwrap_err();
        assert!(error[0].message.contains("{code}"), "{}", error[0].message);
        assert_eq!(
            with_template("newComputer.body", "{link} {} {not a placeholder}").check(),
            Ok(())
        );
    }
}
