//! App passwords from the security page: made (behind the same recent re-authentication as
//! every other change there) and shown once, listed, revoked.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{recent, render};
use crate::app_passwords::AppPasswordError;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{IdForm, NameForm};
use crate::http::web::{Chrome, Cookies, WebForm, internal, signed_in};

/// The new app password, shown this once: only its digest is kept.
#[derive(Template)]
#[template(path = "app_password.html")]
struct AppPasswordPage {
    chrome: Chrome,
    name: String,
    secret: String,
    two_factor: bool,
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<NameForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state
        .core
        .app_passwords
        .create(&session, &form.name, &origin, Instant::now())
        .await
    {
        Ok(made) => {
            let cookies = Cookies::new(&state, &headers);
            let chrome = cookies.chrome(&state, Some(&user));
            // No cache keeps it: every page is `Cache-Control: no-store` (`http::router`).
            cookies.page(
                StatusCode::OK,
                &AppPasswordPage {
                    chrome,
                    name: made.name.as_str().to_owned(),
                    secret: made.secret.grouped(),
                    two_factor: made.two_factor,
                },
            )
        }
        Err(AppPasswordError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(refused) => {
            render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some(format!("No app password was made: {refused}.")),
            )
            .await
        }
    }
}

/// It only takes access away, so a signed-in session and the form's CSRF token suffice, as
/// for an application taken back.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let Some((_, user)) = signed_in(&state, &headers).await else {
        return cookies.redirect("/login");
    };
    let id = form.id.chars().take(64).collect::<String>();
    match state
        .core
        .app_passwords
        .revoke(user.id, &id, Actor::User(user.id), &origin, Instant::now())
        .await
    {
        Ok(true) => cookies.redirect("/security?done=app-password-revoked"),
        Ok(false) => cookies.redirect("/security?done=no-app-password"),
        Err(error) => internal(&state, &headers, format!("{error:#}")),
    }
}
