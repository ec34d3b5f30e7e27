//! `/oauth2/step-up`: a signed-in person whose login does not do for an application's waiting
//! request proves what is missing (the password when the login is too old, a code when a second
//! factor is asked) on the re-authentication page, then goes on to `/oauth2/continue`. A
//! security key may give the second factor (`key_finish`, the page's script's).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::forms::{MethodForm, ReauthForm, ReauthKeyForm};
use super::oauth::AUTHORIZE_COOKIE;
use super::security::reauth::{Purpose, refused, render_reauth, send_code};
use super::security::reauth_key::{answer_of, as_script_answer, go_to, refusal, refuse};
use super::{Cookies, WebForm, cookie, internal, signed_in};
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::store::SessionRecord;
use crate::webauthn::KeyAnswer;

/// The signed-in person, their waiting request's id, and what the request still asks of them;
/// otherwise where the browser goes instead (the login, the home page, or on to the client).
async fn asked(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(SessionRecord, User, String, Purpose), Response> {
    let cookies = Cookies::new(state, headers);
    let Some((session, user)) = signed_in(state, headers).await else {
        return Err(cookies.redirect("/login"));
    };
    let Some(pending) = cookie(state, headers, AUTHORIZE_COOKIE) else {
        return Err(cookies.redirect("/"));
    };
    match state
        .core
        .oidc
        .step_up_question(&pending, &session, Instant::now())
        .await
    {
        Ok(Some(question)) => Ok((
            session,
            user,
            pending,
            Purpose::Application {
                client: question.client_name,
                step: question.step,
            },
        )),
        // Nothing more is asked (or the request is gone): the continuation says which.
        Ok(None) => Err(cookies.redirect("/oauth2/continue")),
        Err(error) => Err(internal(state, headers, error)),
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match asked(&state, &headers).await {
        Ok((_, user, _, purpose)) => {
            render_reauth(&state, &headers, &user, &purpose, None, None).await
        }
        Err(elsewhere) => elsewhere,
    }
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthForm>,
) -> Response {
    let (session, user, pending, purpose) = match asked(&state, &headers).await {
        Ok(asked) => asked,
        Err(elsewhere) => return elsewhere,
    };
    match state
        .core
        .oidc
        .step_up(
            &pending,
            &session,
            &form.password,
            form.code.trim(),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/oauth2/continue"),
        Err(error) => refused(&state, &headers, &user, &purpose, error).await,
    }
}

pub async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    match asked(&state, &headers).await {
        Ok((session, user, _, purpose)) => {
            send_code(&state, &headers, &session, &user, &form, &origin, &purpose).await
        }
        Err(elsewhere) => elsewhere,
    }
}

/// `POST /oauth2/step-up/key/finish`: a security key's answer (with the password when the login
/// is too old) for the step the request asks; then on to the client, as after a code.
pub async fn key_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthKeyForm>,
) -> Response {
    let (session, _, pending, _) = match asked(&state, &headers).await {
        Ok(asked) => asked,
        Err(elsewhere) => return as_script_answer(&state, &headers, elsewhere),
    };
    let (answer, claimed) = match answer_of(&state, &form.credential) {
        Ok(read) => read,
        Err(message) => return refuse(&state, &headers, message),
    };
    let key = KeyAnswer {
        answer: &answer,
        claimed,
    };
    match state
        .core
        .oidc
        .step_up_with_key(
            &pending,
            &session,
            &form.password,
            key,
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(()) => go_to(&state, &headers, "/oauth2/continue"),
        Err(error) => refusal(&state, &headers, error),
    }
}
