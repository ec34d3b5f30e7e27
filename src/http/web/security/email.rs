//! Codes by email from the security page: an address (the account's is filled in) proven by a
//! code sent to it becomes a method.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::recent;
use crate::clock::Instant;
use crate::domain::{Email, MethodKind, RequestedMethod, User};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::enroll::{EnrolPlace, RecoveryCodesPage};
use crate::http::web::enroll_email::{ConfirmEmailPage, email_shown};
use crate::http::web::forms::{EmailConfirmForm, EmailForm};
use crate::http::web::login::explain;
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::two_factor::{EnableMethod, TwoFactorError};
use crate::verify::Destination;

#[derive(Template)]
#[template(path = "add_email.html")]
struct AddEmailPage {
    chrome: Chrome,
    error: Option<String>,
    address: String,
}

fn add_email_page(
    cookies: Cookies,
    chrome: Chrome,
    user: &User,
    typed: Option<&str>,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let address = typed.map(email_shown).unwrap_or_else(|| {
        user.email
            .as_ref()
            .map(Email::to_string)
            .unwrap_or_default()
    });
    cookies.page(
        status,
        &AddEmailPage {
            chrome,
            error,
            address,
        },
    )
}

pub async fn email_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    match state.core.two_factor.offered_now().await {
        Ok(offered) if offered.email => {}
        Ok(_) => return cookies.redirect("/security"),
        Err(error) => return internal(&state, &headers, error),
    }
    let chrome = cookies.chrome(&state, Some(&user));
    add_email_page(cookies, chrome, &user, None, None)
}

pub async fn email_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<EmailForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let error = format!("This address cannot be used: {}.", e.message);
            return add_email_page(cookies, chrome, &user, Some(&form.email), Some(error));
        }
    };
    let requested = RequestedMethod {
        kind: MethodKind::Email,
        channel: None,
    };
    match state
        .core
        .two_factor
        .send_enrollment_code(
            user.id,
            requested,
            Destination::Email(email.clone()),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => cookies.page(
            StatusCode::OK,
            &ConfirmEmailPage::new(chrome, &email, EnrolPlace::Security, None),
        ),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => add_email_page(
            cookies,
            chrome,
            &user,
            Some(&form.email),
            Some(explain(&other)),
        ),
    }
}

pub async fn email_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<EmailConfirmForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let Ok(email) = Email::parse(&form.email) else {
        return cookies.redirect("/security/email");
    };
    let request = EnableMethod {
        kind: MethodKind::Email,
        code: form.code.trim().to_owned(),
        secret: None,
        name: None,
        mobile_phone: None,
        email: Some(email.clone()),
    };
    let enabled = state
        .core
        .two_factor
        .enable_method_in_session(&session, &request, &origin, Instant::now())
        .await;
    match enabled {
        Ok(enabled) => match enabled.recovery_codes {
            Some(codes) => cookies.page(
                StatusCode::OK,
                &RecoveryCodesPage::new(
                    chrome,
                    codes,
                    Some("Your email address is verified.".into()),
                    None,
                    "/security/done",
                ),
            ),
            None => cookies.redirect("/security?done=email"),
        },
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ConfirmEmailPage::new(chrome, &email, EnrolPlace::Security, Some(explain(&other))),
        ),
    }
}
