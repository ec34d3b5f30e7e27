//! The person's own email address from the security settings: a new one is sent a link and
//! waits beside the one in force until the link is opened; the link can be sent again.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{recent, render};
use crate::addresses::AddressError;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{EmailForm, EmptyForm};
use crate::http::web::verify_email::refusal;
use crate::http::web::{Chrome, Cookies, WebForm, internal};

/// What is kept of a refused address when the form comes back: enough to correct it.
const TYPED_MAX_CHARS: usize = 320;

#[derive(Template)]
#[template(path = "change_email.html")]
struct ChangeEmailPage {
    chrome: Chrome,
    current: Option<String>,
    typed: String,
    error: Option<String>,
}

fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    typed: &str,
    error: Option<String>,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(user));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    cookies.page(
        status,
        &ChangeEmailPage {
            chrome,
            current: user.email.as_ref().map(|e| e.to_string()),
            typed: typed.trim().chars().take(TYPED_MAX_CHARS).collect(),
            error,
        },
    )
}

pub async fn address_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    form_page(&state, &headers, &user, "", None)
}

pub async fn address_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<EmailForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state
        .core
        .addresses
        .change_own_email(user.id, &form.email, &origin, Instant::now())
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/security?done=address"),
        Err(AddressError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => form_page(&state, &headers, &user, &form.email, Some(refusal(&error))),
    }
}

pub async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state
        .core
        .addresses
        .resend(user.id, Actor::User(user.id), &origin, Instant::now())
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/security?done=link"),
        Err(AddressError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => {
            render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some(refusal(&error)),
            )
            .await
        }
    }
}
