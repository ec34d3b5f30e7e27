//! The welcome step: the terms users accept and the profile fields they fill in after login.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Administrator, NoticeQuery};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::login::explain;
use crate::http::web::{Chrome, Cookies, WebForm, internal};

#[derive(Template)]
#[template(path = "admin_welcome.html")]
struct WelcomeEditor {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    terms_version: i64,
    terms_text: String,
    fields: Vec<(&'static str, &'static str, bool)>,
}

async fn render_welcome(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    use crate::welcome::ProfileField;
    let settings = match state.core.welcome.welcome_settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(state, headers, error),
    };
    let has = |field| settings.profile_fields.contains(&field);
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &WelcomeEditor {
            chrome,
            tab: "welcome",
            notice,
            error,
            terms_version: settings.terms_version,
            terms_text: settings.terms_text.clone(),
            fields: vec![
                ("full_name", "Full name", has(ProfileField::FullName)),
                ("email", "Email address", has(ProfileField::Email)),
                (
                    "mobile_phone",
                    "Mobile phone number",
                    has(ProfileField::MobilePhone),
                ),
            ],
        },
    )
}

pub async fn welcome(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    render_welcome(
        &state,
        &headers,
        &admin,
        query.notice.map(|_| "Saved.".into()),
        None,
    )
    .await
}

pub async fn save_welcome(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<crate::http::web::forms::AdminWelcomeForm>,
) -> Response {
    use crate::welcome::ProfileField;
    let mut settings = match state.core.welcome.welcome_settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(&state, &headers, error),
    };
    let text = form.terms_text.replace("\r\n", "\n").trim().to_owned();
    if form.new_version.is_some() || (settings.terms_version == 0 && !text.is_empty()) {
        settings.terms_version += 1;
    }
    settings.terms_text = text;
    settings.profile_fields = [
        (form.full_name.is_some(), ProfileField::FullName),
        (form.email.is_some(), ProfileField::Email),
        (form.mobile_phone.is_some(), ProfileField::MobilePhone),
    ]
    .into_iter()
    .filter_map(|(on, field)| on.then_some(field))
    .collect();
    match state
        .core
        .welcome
        .set_welcome_settings(&settings, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/welcome?notice=saved"),
        Err(error) => render_welcome(&state, &headers, &admin, None, Some(explain(&error))).await,
    }
}
