//! Re-authentication: the password again, with a code of a method when the user has one, before
//! security settings can change.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::clock::Instant;
use crate::domain::{MethodId, MethodKind, User};
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{MethodForm, ReauthForm};
use crate::http::web::login::{Choice, explain};
use crate::http::web::{Chrome, Cookies, WebForm, internal, method_label, signed_in};
use crate::two_factor::TwoFactorError;

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    needs_code: bool,
    send_methods: Vec<Choice>,
}

async fn render_reauth(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let methods = match state.core.two_factor.user_methods(user.id).await {
        Ok(methods) => methods,
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(user));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ReauthPage {
            chrome,
            notice,
            error,
            needs_code: !methods.is_empty(),
            send_methods: methods
                .iter()
                .filter(|m| m.kind != MethodKind::Authenticator)
                .map(|m| Choice {
                    id: m.id.to_string(),
                    label: method_label(m),
                })
                .collect(),
        },
    )
}

pub async fn reauth_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((_, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    render_reauth(&state, &headers, &user, None, None).await
}

pub async fn reauth_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let code = Some(form.code.trim()).filter(|c| !c.is_empty());
    match state
        .core
        .logins
        .reauthenticate(&session, &form.password, code, &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/security"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(TwoFactorError::WrongCode) => {
            render_reauth(
                &state,
                &headers,
                &user,
                None,
                Some("The password or the code is not right.".into()),
            )
            .await
        }
        Err(other) => {
            let page = render_reauth(&state, &headers, &user, None, Some(explain(&other))).await;
            match other {
                TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                } => throttled(page, retry_after_seconds),
                _ => page,
            }
        }
    }
}

pub async fn reauth_send(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let Ok(method) = MethodId::parse(&form.method) else {
        return Cookies::new(&state, &headers).redirect("/security/reauth");
    };
    match state
        .core
        .two_factor
        .send_reauth_code(user.id, &session.id, &method, &origin, Instant::now())
        .await
    {
        Ok(()) => {
            render_reauth(
                &state,
                &headers,
                &user,
                Some("We sent you a code.".into()),
                None,
            )
            .await
        }
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => render_reauth(&state, &headers, &user, None, Some(explain(&other))).await,
    }
}
