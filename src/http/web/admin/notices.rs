//! The security notices: which events people are told of, by email and text, and the texts of
//! each language (the built-in ones shown where none of the operator's is set).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::Administrator;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::HasCsrf;
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::notices::{NoticeError, NoticeKind, NoticeSettings, PARTS, built_in};

/// The languages the console offers texts for: "" stands for every language without texts of
/// its own.
const LOCALES: [(&str, &str); 5] = [
    ("", "every language"),
    ("en", "English"),
    ("fr", "French"),
    ("de", "German"),
    ("es", "Spanish"),
];

#[derive(Template)]
#[template(path = "admin_notices.html")]
struct NoticesEditor {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    problems: Vec<String>,
    /// Each language offered: its code, its name, and whether it is shown.
    locales: Vec<(&'static str, &'static str, bool)>,
    locale: String,
    locale_name: &'static str,
    placeholders: String,
    email: bool,
    sms: bool,
    kinds: Vec<KindRow>,
}

struct KindRow {
    name: &'static str,
    label: &'static str,
    on: bool,
    /// The operator's subject, body and text for the shown language ("" where none).
    texts: [String; 3],
    /// Whether any of them is set (the texts show unfolded).
    own: bool,
    built_in: [String; 3],
}

#[derive(Deserialize)]
pub struct LocaleQuery {
    locale: Option<String>,
    notice: Option<String>,
}

/// The form: the channels, one `kind.<name>` box per event, and `<kind>.<part>` texts of one
/// language.
#[derive(Debug, Deserialize)]
pub struct NoticesForm {
    csrf: String,
    #[serde(default)]
    locale: String,
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

impl HasCsrf for NoticesForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn notices(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<LocaleQuery>,
) -> Response {
    let settings = match state.core.notices.settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(&state, &headers, error),
    };
    let locale = known_locale(query.locale.as_deref().unwrap_or(""));
    let notice = query.notice.map(|_| "Saved.".to_owned());
    editor(
        &state,
        &headers,
        &admin,
        &settings,
        locale,
        notice,
        Vec::new(),
    )
}

pub async fn save_notices(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<NoticesForm>,
) -> Response {
    let current = match state.core.notices.settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(&state, &headers, error),
    };
    let locale = known_locale(&form.locale);
    let settings = from_form(current, &form.fields, locale);
    match state
        .core
        .notices
        .set_settings(&settings, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers)
            .redirect(&format!("/admin/notices?notice=saved&locale={locale}")),
        Err(NoticeError::Invalid(fields)) => {
            let problems = fields.into_iter().map(|f| f.message).collect();
            let mut response = editor(&state, &headers, &admin, &settings, locale, None, problems);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
        Err(error) => internal(&state, &headers, error),
    }
}

/// `raw` if it is one of the console's languages, else every language.
fn known_locale(raw: &str) -> &'static str {
    LOCALES
        .iter()
        .map(|(value, _)| *value)
        .find(|value| *value == raw)
        .unwrap_or("")
}

/// The settings the form makes of `current`: its channels and events, and the texts of
/// `locale` (those of other languages kept as they were).
fn from_form(
    mut settings: NoticeSettings,
    fields: &BTreeMap<String, String>,
    locale: &str,
) -> NoticeSettings {
    settings.email = fields.contains_key("email");
    settings.sms = fields.contains_key("sms");
    settings.kinds = NoticeKind::ALL
        .iter()
        .copied()
        .filter(|kind| fields.contains_key(&format!("kind.{}", kind.as_str())))
        .collect();
    for kind in NoticeKind::ALL {
        for part in PARTS {
            let field = format!("{}.{part}", kind.as_str());
            let key = template_key(&field, locale);
            // Browsers send a textarea's line breaks as CR LF; the emails use LF.
            let text = fields
                .get(&field)
                .map(|t| t.replace("\r\n", "\n"))
                .unwrap_or_default();
            if text.trim().is_empty() {
                settings.templates.remove(&key);
            } else {
                settings.templates.insert(key, text);
            }
        }
    }
    settings
}

fn template_key(field: &str, locale: &str) -> String {
    if locale.is_empty() {
        field.to_owned()
    } else {
        format!("{field}.{locale}")
    }
}

fn editor(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    settings: &NoticeSettings,
    locale: &'static str,
    notice: Option<String>,
    problems: Vec<String>,
) -> Response {
    let kinds = NoticeKind::ALL
        .iter()
        .map(|&kind| {
            let text = |part: &str| {
                let key = template_key(&format!("{}.{part}", kind.as_str()), locale);
                settings.templates.get(&key).cloned().unwrap_or_default()
            };
            let texts = PARTS.map(text);
            KindRow {
                name: kind.as_str(),
                label: kind.label(),
                on: settings.kinds.contains(&kind),
                own: texts.iter().any(|t| !t.is_empty()),
                texts,
                built_in: built_in(kind, if locale.is_empty() { "en" } else { locale }),
            }
        })
        .collect();
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        StatusCode::OK,
        &NoticesEditor {
            chrome,
            tab: "notices",
            notice,
            error: None,
            problems,
            locales: LOCALES
                .iter()
                .map(|&(value, name)| (value, name, value == locale))
                .collect(),
            locale: locale.to_owned(),
            locale_name: LOCALES
                .iter()
                .find(|(value, _)| *value == locale)
                .map(|(_, name)| *name)
                .unwrap_or("every language"),
            placeholders: crate::notices::PLACEHOLDERS.join(" "),
            email: settings.email,
            sms: settings.sms,
            kinds,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_sets_the_channels_the_events_and_the_texts_of_its_language_only() {
        let mut current = NoticeSettings::default();
        current
            .templates
            .insert("newComputer.subject.de".into(), "Neu".into());
        current
            .templates
            .insert("newComputer.subject.fr".into(), "Ancien".into());
        let fields: BTreeMap<String, String> = [
            ("sms", "1"),
            ("kind.newComputer", "1"),
            ("newComputer.subject", "Nouvelle connexion"),
            ("newComputer.body", "Pas vous ?\r\n{link}"),
            ("newComputer.sms", " "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let settings = from_form(current, &fields, "fr");
        assert!(!settings.email && settings.sms);
        assert_eq!(
            settings.kinds.iter().copied().collect::<Vec<_>>(),
            vec![NoticeKind::NewComputer]
        );
        assert_eq!(
            settings.templates["newComputer.subject.fr"],
            "Nouvelle connexion"
        );
        assert_eq!(
            settings.templates["newComputer.body.fr"],
            "Pas vous ?\n{link}"
        );
        assert!(!settings.templates.contains_key("newComputer.sms.fr"));
        assert_eq!(
            settings.templates["newComputer.subject.de"], "Neu",
            "other languages kept"
        );
    }

    #[test]
    fn only_the_consoles_languages_are_shown() {
        assert_eq!(known_locale("fr"), "fr");
        assert_eq!(known_locale("xx"), "");
        assert_eq!(known_locale("<script>"), "");
    }
}
