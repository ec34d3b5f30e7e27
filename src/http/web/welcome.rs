//! The welcome page: profile fields and versioned terms, for a signed-in user or in the middle
//! of a first login (before enrolling a second factor).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::forms::WelcomeForm;
use super::{Chrome, Cookies, PENDING_COOKIE, WebForm, cookie, internal, signed_in};
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
}

/// Who is welcomed: a signed-in user, or the user of a pending first login; and where to go
/// after.
async fn whose(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(User, &'static str, bool)>, TwoFactorError> {
    if let Some((_, user)) = signed_in(state, headers).await {
        return Ok(Some((user, "/", true)));
    }
    let Some(id) = cookie(headers, PENDING_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .core
        .two_factor
        .pending_login(&id, Instant::now())
        .await?
        .map(|pending| {
            let next = if pending.methods.is_empty() {
                "/login/enroll"
            } else {
                "/login/code"
            };
            (pending.user, next, false)
        }))
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    signed: bool,
    due: &WelcomeDue,
    answers: &WelcomeAnswers,
    errors: &[crate::accounts::FieldError],
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, signed.then_some(user));
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
        },
    )
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, next, signed) = match whose(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return Cookies::new(&state, &headers).redirect("/login"),
        Err(error) => return internal(&state, &headers, error),
    };
    match state.core.welcome.welcome_due(&user).await {
        Ok(Some(due)) => render(
            &state,
            &headers,
            &user,
            signed,
            &due,
            &WelcomeAnswers::default(),
            &[],
        ),
        Ok(None) => Cookies::new(&state, &headers).redirect(next),
        Err(error) => internal(&state, &headers, error),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<WelcomeForm>,
) -> Response {
    let (user, next, signed) = match whose(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return Cookies::new(&state, &headers).redirect("/login"),
        Err(error) => return internal(&state, &headers, error),
    };
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
        Ok(()) => Cookies::new(&state, &headers).redirect(next),
        Err(TwoFactorError::Invalid(errors)) => match state.core.welcome.welcome_due(&user).await {
            Ok(Some(due)) => render(&state, &headers, &user, signed, &due, &answers, &errors),
            Ok(None) => Cookies::new(&state, &headers).redirect(next),
            Err(error) => internal(&state, &headers, error),
        },
        Err(error) => internal(&state, &headers, error),
    }
}

/// Whether this user must pass the welcome step first.
pub async fn due(state: &AppState, user: &User) -> bool {
    matches!(state.core.welcome.welcome_due(user).await, Ok(Some(_)))
}
