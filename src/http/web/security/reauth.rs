//! Re-authentication: the password again, with a code of a method when the user has one, before
//! security settings can change.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::clock::Instant;
use crate::domain::{MethodId, User};
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{MethodForm, ReauthForm, phone_channel};
use crate::http::web::login::explain;
use crate::http::web::{Choice, Chrome, Cookies, WebForm, internal, signed_in};
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
    let two_factor = &state.core.two_factor;
    let (methods, offered) = match (
        two_factor.user_methods(user.id).await,
        two_factor.offered_now().await,
    ) {
        (Ok(methods), Ok(offered)) => (methods, offered),
        (Err(error), _) | (_, Err(error)) => return internal(state, headers, error),
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
            send_methods: Choice::list(&methods, &offered.phone_channels, false),
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
        .send_reauth_code(
            user.id,
            &session.id,
            &method,
            phone_channel(form.channel.as_deref()),
            &origin,
            Instant::now(),
        )
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
