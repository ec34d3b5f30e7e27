//! The sign-up page, `/register`: a username, an email address and a password typed twice.
//! Accepted, it says to look for the link (the same words whether an account was made or the
//! address had one); refused, each error stands beside its field. Off, the page and its form
//! answer 404, as a path that does not exist.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::forms::RegisterForm;
use super::{Chrome, Cookies, WebForm, internal};
use crate::addresses::LINK_LIFETIME_SECONDS;
use crate::clock::Instant;
use crate::domain::FieldError;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::registration::{
    CONFIRM_PASSWORD_FIELD, EMAIL_FIELD, PASSWORD_FIELD, RegistrationError, SignUp, USERNAME_FIELD,
};

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    chrome: Chrome,
    username: String,
    email: String,
    /// The allow-list, when the settings keep one, said before the form.
    domains: Vec<String>,
    /// Accepted: the page says where to look, whoever the address belongs to.
    sent_to: Option<String>,
    hours: i64,
    error: Option<String>,
    username_error: String,
    email_error: String,
    password_error: String,
    confirm_error: String,
}

impl RegisterPage {
    fn new(chrome: Chrome) -> Self {
        Self {
            chrome,
            username: String::new(),
            email: String::new(),
            domains: Vec::new(),
            sent_to: None,
            hours: LINK_LIFETIME_SECONDS / 3600,
            error: None,
            username_error: String::new(),
            email_error: String::new(),
            password_error: String::new(),
            confirm_error: String::new(),
        }
    }

    /// Each refused field's sentence beside it.
    fn refuse(&mut self, fields: &[FieldError]) {
        for field in fields {
            let said = sentence(&field.message);
            let slot = match field.field.as_str() {
                USERNAME_FIELD => &mut self.username_error,
                EMAIL_FIELD => &mut self.email_error,
                PASSWORD_FIELD => &mut self.password_error,
                CONFIRM_PASSWORD_FIELD => &mut self.confirm_error,
                _ => continue,
            };
            if !slot.is_empty() {
                slot.push(' ');
            }
            slot.push_str(&said);
        }
    }
}

/// Lets a request through only while self-registration is on, before its form (and its CSRF
/// token) is read: off, the page and its form are a path that does not exist.
pub struct RegistrationOpen(Vec<String>);

impl FromRequestParts<AppState> for RegistrationOpen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match state.core.registration.open_settings().await {
            Ok(settings) => Ok(RegistrationOpen(settings.registration_domains)),
            Err(RegistrationError::Closed) => Err(StatusCode::NOT_FOUND.into_response()),
            Err(error) => Err(internal(state, &parts.headers, error)),
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RegistrationOpen(domains): RegistrationOpen,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let mut page = RegisterPage::new(cookies.chrome(&state, None));
    page.domains = domains;
    cookies.page(StatusCode::OK, &page)
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RegistrationOpen(domains): RegistrationOpen,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<RegisterForm>,
) -> Response {
    let request = SignUp {
        username: &form.username,
        email: &form.email,
        password: &form.password,
        confirmation: Some(&form.confirm_password),
        origin: &origin,
    };
    let answer = state
        .core
        .registration
        .register(&request, Instant::now())
        .await;
    let cookies = Cookies::new(&state, &headers);
    let mut page = RegisterPage::new(cookies.chrome(&state, None));
    page.domains = domains;
    page.username = form.username.chars().take(254).collect();
    page.email = form.email.chars().take(254).collect();
    match answer {
        Ok(signed_up) => {
            page.sent_to = Some(signed_up.email.as_str().to_owned());
            cookies.page(StatusCode::OK, &page)
        }
        Err(RegistrationError::Invalid(fields)) => {
            page.refuse(&fields);
            cookies.page(StatusCode::BAD_REQUEST, &page)
        }
        Err(RegistrationError::Throttled {
            retry_after_seconds,
        }) => {
            page.error = Some(format!(
                "Too many accounts were asked for from your network. Try again in {} minutes.",
                (retry_after_seconds + 59) / 60
            ));
            throttled(
                cookies.page(StatusCode::TOO_MANY_REQUESTS, &page),
                retry_after_seconds,
            )
        }
        // Turned off between the guard and the sign-up.
        Err(RegistrationError::Closed) => StatusCode::NOT_FOUND.into_response(),
        Err(RegistrationError::Internal(error)) => internal(&state, &headers, error),
    }
}

/// A capital first, a full stop last.
fn sentence(text: &str) -> String {
    let mut said = text.to_owned();
    if let Some(first) = said.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    if !said.ends_with('.') {
        said.push('.');
    }
    said
}
