//! The welcome page: profile fields and versioned terms, for a signed-in user, before the
//! first use and again when the terms change.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::forms::WelcomeForm;
use super::{Chrome, Cookies, WebForm, internal, signed_in};
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::two_factor::TwoFactorError;
use crate::welcome::{ProfileField, WelcomeAnswers, WelcomeDue};

pub struct FieldView {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: String,
    error: String,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage {
    chrome: Chrome,
    fields: Vec<FieldView>,
    missing: Vec<ProfileField>,
    terms_version: i64,
    terms_text: String,
    terms_error: String,
    /// The box stays ticked when the form comes back for another field.
    accepted: bool,
    /// Home has a welcome waiting after this step (`/?welcome=1`): carried through the form.
    invited: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct WelcomeQuery {
    invited: Option<String>,
}

/// Home after the step: with the welcome that waited for it, if one did.
fn home_after(invited: bool) -> &'static str {
    if invited { "/?welcome=1" } else { HOME }
}

/// Who is welcomed: a signed-in user only. A login waiting for its second factor (or for
/// enrolment) has given a password alone, which may not change anything about the account:
/// the welcome step comes once the login is complete (the home page sends the browser here).
async fn whose(state: &AppState, headers: &HeaderMap) -> Option<User> {
    signed_in(state, headers).await.map(|(_, user)| user)
}

/// Where a user goes once the welcome step is done.
const HOME: &str = "/";

fn render(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    due: &WelcomeDue,
    answers: &WelcomeAnswers,
    errors: &[crate::accounts::FieldError],
    invited: bool,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(user));
    let error_of = |name: &str| {
        errors
            .iter()
            .find(|e| e.field == name)
            .map(|e| e.message.clone())
            .unwrap_or_default()
    };
    let fields = due
        .missing
        .iter()
        .map(|field| match field {
            ProfileField::FullName => FieldView {
                name: "full_name",
                label: "Full name",
                kind: "text",
                autocomplete: "name",
                value: answers.full_name.clone().unwrap_or_default(),
                error: error_of("fullName"),
            },
            ProfileField::Email => FieldView {
                name: "email",
                label: "Email address",
                kind: "email",
                autocomplete: "email",
                value: answers.email.clone().unwrap_or_default(),
                error: error_of("email"),
            },
            ProfileField::MobilePhone => FieldView {
                name: "mobile_phone",
                label: "Mobile phone number, with country code",
                kind: "tel",
                autocomplete: "tel",
                value: answers.mobile_phone.clone().unwrap_or_default(),
                error: error_of("mobilePhone"),
            },
        })
        .collect();
    let (terms_version, terms_text) = due.terms.clone().unwrap_or((0, String::new()));
    cookies.page(
        if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        &WelcomePage {
            chrome,
            fields,
            missing: due.missing.clone(),
            terms_version,
            terms_text,
            terms_error: error_of("terms"),
            accepted: terms_version > 0 && answers.accepted_terms_version == Some(terms_version),
            invited,
        },
    )
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<WelcomeQuery>,
) -> Response {
    let Some(user) = whose(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let invited = query.invited.is_some();
    match state.core.welcome.welcome_due(&user).await {
        Ok(Some(due)) => render(
            &state,
            &headers,
            &user,
            &due,
            &WelcomeAnswers::default(),
            &[],
            invited,
        ),
        Ok(None) => Cookies::new(&state, &headers).redirect(home_after(invited)),
        Err(error) => internal(&state, &headers, error),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<WelcomeForm>,
) -> Response {
    let Some(user) = whose(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let invited = form.invited.is_some();
    let answers = WelcomeAnswers {
        full_name: form.full_name,
        email: form.email,
        mobile_phone: form.mobile_phone,
        accepted_terms_version: form.accept.and(form.terms_version.parse().ok()),
    };
    match state
        .core
        .welcome
        .complete_welcome(&user, &answers, &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect(home_after(invited)),
        Err(TwoFactorError::Invalid(errors)) => match state.core.welcome.welcome_due(&user).await {
            Ok(Some(due)) => render(&state, &headers, &user, &due, &answers, &errors, invited),
            Ok(None) => Cookies::new(&state, &headers).redirect(home_after(invited)),
            Err(error) => internal(&state, &headers, error),
        },
        Err(error) => internal(&state, &headers, error),
    }
}

/// Whether this user must pass the welcome step first.
pub async fn due(state: &AppState, user: &User) -> bool {
    matches!(state.core.welcome.welcome_due(user).await, Ok(Some(_)))
}
