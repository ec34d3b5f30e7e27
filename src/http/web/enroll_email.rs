//! Codes by email as a second factor, enrolled during a login that requires one: the address
//! (the account's, or another) proven by a code sent to it, then the recovery codes.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::enroll::{EnrolPlace, EnrollPage, enrolling, recovery_page};
use super::forms::{EmailConfirmForm, EmailForm};
use super::login::explain;
use super::{Chrome, Cookies, WebForm, internal};
use crate::clock::Instant;
use crate::domain::{Email, MethodKind, RequestedMethod};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::two_factor::{EnableMethod, TwoFactorError};
use crate::verify::Destination;

/// The page after a code went to an address being enrolled.
#[derive(Template)]
#[template(path = "confirm_email.html")]
pub struct ConfirmEmailPage {
    chrome: Chrome,
    error: Option<String>,
    masked: String,
    email: String,
    action: &'static str,
    at_login: bool,
}

impl ConfirmEmailPage {
    pub fn new(chrome: Chrome, email: &Email, place: EnrolPlace, error: Option<String>) -> Self {
        Self {
            chrome,
            error,
            masked: Destination::Email(email.clone()).masked(),
            email: email.to_string(),
            action: match place {
                EnrolPlace::Login => "/login/enroll/email/confirm",
                EnrolPlace::Security => "/security/email/confirm",
            },
            at_login: place == EnrolPlace::Login,
        }
    }
}

/// An address as a form shows it back.
pub fn email_shown(typed: &str) -> String {
    typed.chars().take(254).collect()
}

/// The enrolment's email form was sent: a code goes to the address.
pub async fn email(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<EmailForm>,
) -> Response {
    let (id, pending) = match enrolling(&state, &headers, "enroll").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, None);
    let retry = |cookies: Cookies, chrome: Chrome, error: String| {
        let shown = Email::parse(&form.email).ok();
        cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EnrollPage::with_email(
                chrome,
                EnrolPlace::Login,
                &pending.offered,
                String::new(),
                None,
                Some(error),
                shown.as_ref().or(pending.user.email.as_ref()),
            )
            .of_login(&state, &pending),
        )
    };
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            return retry(
                cookies,
                chrome,
                format!("This address cannot be used: {}.", e.message),
            );
        }
    };
    let requested = RequestedMethod {
        kind: MethodKind::Email,
        channel: None,
    };
    match state
        .core
        .two_factor
        .send_enrollment_code_during_login(
            &id,
            requested,
            Destination::Email(email.clone()),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => cookies.page(
            StatusCode::OK,
            &ConfirmEmailPage::new(chrome, &email, EnrolPlace::Login, None),
        ),
        Err(TwoFactorError::UnknownChallenge) => cookies.redirect("/login?expired=enroll"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => retry(cookies, chrome, explain(&other)),
    }
}

/// The code sent to the address was typed: the method is stored and the login goes on to the
/// recovery codes.
pub async fn email_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<EmailConfirmForm>,
) -> Response {
    let (id, pending) = match enrolling(&state, &headers, "enroll").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, None);
    let Ok(email) = Email::parse(&form.email) else {
        return cookies.redirect("/login/enroll");
    };
    let request = EnableMethod {
        kind: MethodKind::Email,
        code: form.code.trim().to_owned(),
        secret: None,
        name: None,
        mobile_phone: None,
        email: Some(email.clone()),
    };
    match state
        .core
        .two_factor
        .enable_method_during_login(&id, &request, &origin, Instant::now())
        .await
    {
        Ok(enabled) => recovery_page(
            cookies,
            chrome,
            (enabled, &pending),
            "Your email address is verified.",
        ),
        Err(TwoFactorError::UnknownChallenge) => cookies.redirect("/login?expired=enroll"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ConfirmEmailPage::new(chrome, &email, EnrolPlace::Login, Some(explain(&other))),
        ),
    }
}
