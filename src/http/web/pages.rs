//! The home page, logging out, and the static files.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::forms::EmptyForm;
use super::{Chrome, Cookies, SESSION_COOKIE, WebForm, cookie, signed_in};
use crate::clock::Instant;
use crate::domain::MethodKind;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    notice: Option<String>,
    display_name: String,
    username: String,
    factors: String,
    offer_authenticator: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    welcome: Option<String>,
}

/// Words for the factors of a login (its `amr`).
pub fn factor_names(amr: &[String]) -> String {
    let names: Vec<&str> = amr
        .iter()
        .filter_map(|m| match m.as_str() {
            "pwd" => Some("password"),
            "otp" => Some("authenticator app"),
            "sms" => Some("text message"),
            "tel" => Some("phone call"),
            "email" => Some("email code"),
            "rec" => Some("recovery code"),
            "access_code" => Some("access code from an administrator"),
            "trusted" => Some("trusted computer"),
            "hwk" => Some("security key"),
            "user" => Some("the key's PIN or biometric"),
            _ => None,
        })
        .collect();
    names.join(", ")
}

pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HomeQuery>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return cookies.redirect("/login");
    };
    if super::welcome::due(&state, &user).await {
        // The welcome after enrolment (and its invitation to set up an app) waits for it.
        return cookies.redirect(if query.welcome.is_some() {
            "/welcome?invited=1"
        } else {
            "/welcome"
        });
    }
    // An application's sign-in that waited for this login goes on.
    if super::oauth::waiting(&state, &headers) {
        return cookies.redirect("/oauth2/continue");
    }
    // So does the way back to a site behind a reverse proxy.
    if super::return_to::returning(&state, &headers) {
        return cookies.redirect("/forward-auth/continue");
    }
    let methods = state
        .core
        .two_factor
        .user_methods(user.id)
        .await
        .unwrap_or_default();
    let has_phone = methods.iter().any(|m| m.kind == MethodKind::Phone);
    let has_app = methods.iter().any(|m| m.kind == MethodKind::Authenticator);
    let chrome = cookies.chrome(&state, Some(&user));
    cookies.page(
        StatusCode::OK,
        &HomePage {
            chrome,
            notice: query
                .welcome
                .as_ref()
                .map(|_| "Two-factor authentication is on for your account.".to_owned()),
            display_name: user
                .full_name
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_else(|| user.username.to_string()),
            username: user.username.to_string(),
            factors: factor_names(&session.amr),
            offer_authenticator: query.welcome.is_some() && has_phone && !has_app,
        },
    )
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let mut cookies = Cookies::new(&state, &headers);
    if let Some(token) = cookie(&state, &headers, SESSION_COOKIE)
        && let Err(error) = state
            .core
            .sessions
            .logout(Some(&token), None, false, &origin, Instant::now())
            .await
    {
        tracing::error!(error = format!("{error:#}"), "logout failed");
    }
    cookies.clear_session();
    cookies.redirect("/login?out=1")
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/style.css"),
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/app.js"),
    )
}
