//! The login portal's side of forward-auth: the way back to the site a proxy sent the browser
//! from (`rd`, kept in a cookie through the login and its steps, taken up at
//! `/forward-auth/continue` once the home page sees it), and `/forward-auth/step-up`, where a
//! session with one factor gives a code (or a security key's answer, `step_up_key_finish`) for
//! a site whose rule asks for two.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::forms::{MethodForm, ReauthForm, ReauthKeyForm};
use super::oauth::{back_to_client, forgetting};
use super::return_to::{RETURN_COOKIE, RETURN_SECONDS, kept};
use super::security::reauth::{Purpose, refused, render_reauth, send_code};
use super::security::reauth_key::{self, answer_of, go_to, refuse};
use super::{Cookies, WebForm, error_page, internal, signed_in};
use crate::clock::Instant;
use crate::forward_auth::{ForwardAuthError, StepUpAsk};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::webauthn::KeyAnswer;

/// `GET /forward-auth/continue`: back to the site, checked again, as a page that moves on by
/// itself (this ends a chain of redirects that began with a form's POST).
pub async fn resume(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).await.is_none() {
        return Cookies::new(&state, &headers).redirect("/login");
    }
    let Some(rd) = kept(&state, &headers) else {
        return Cookies::new(&state, &headers).redirect("/");
    };
    let page = match state.core.forward_auth.return_to(&rd, Instant::now()).await {
        Ok(back) => back_to_client(&state, &headers, back.as_str()),
        // The rules changed during the login: home instead.
        Err(ForwardAuthError::Refused(_)) => Cookies::new(&state, &headers).redirect("/"),
        Err(error) => return internal(&state, &headers, format!("{error:#}")),
    };
    forgetting(&state, page, RETURN_COOKIE)
}

/// `GET /forward-auth/step-up?rd=`: the code prompt for the site, or straight back when the
/// session has two factors already.
#[derive(Debug, Default, Deserialize)]
pub struct ReturnQuery {
    rd: Option<String>,
}

pub async fn step_up_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReturnQuery>,
) -> Response {
    let rd = query.rd.unwrap_or_default();
    let Some((session, user)) = signed_in(&state, &headers).await else {
        let rd: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        return Cookies::new(&state, &headers).redirect(&format!("/login?rd={rd}"));
    };
    match state
        .core
        .forward_auth
        .step_up_question(&session, &rd, Instant::now())
        .await
    {
        Ok(StepUpAsk::Done(back)) => Cookies::new(&state, &headers).redirect(back.as_str()),
        Ok(StepUpAsk::Code(back)) => {
            let purpose = Purpose::Site {
                host: back.host().to_string(),
            };
            let mut response = render_reauth(&state, &headers, &user, &purpose, None, None).await;
            let value: String = form_urlencoded::byte_serialize(back.as_str().as_bytes()).collect();
            if let Some(line) = crate::http::cookies::line(
                state.web.secure_cookies,
                RETURN_COOKIE,
                &value,
                Some(RETURN_SECONDS),
                "Lax",
            ) {
                response
                    .headers_mut()
                    .append(axum::http::header::SET_COOKIE, line);
            }
            response
        }
        Err(error) => refusal(&state, &headers, error),
    }
}

/// `POST /forward-auth/step-up`: the code, for the way back the browser keeps.
pub async fn step_up_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let Some(rd) = kept(&state, &headers) else {
        return Cookies::new(&state, &headers).redirect("/");
    };
    match state
        .core
        .forward_auth
        .step_up(&session, &rd, form.code.trim(), &origin, Instant::now())
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/forward-auth/continue"),
        Err(ForwardAuthError::Code(error)) => {
            refused(&state, &headers, &user, &site_of(&rd), error).await
        }
        Err(error) => refusal(&state, &headers, error),
    }
}

/// `POST /forward-auth/step-up/key/finish`: a security key's answer for the way back the
/// browser keeps; then back to the site, as after a code.
pub async fn step_up_key_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthKeyForm>,
) -> Response {
    let Some((session, _)) = signed_in(&state, &headers).await else {
        return go_to(&state, &headers, "/login");
    };
    let Some(rd) = kept(&state, &headers) else {
        return go_to(&state, &headers, "/");
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
        .forward_auth
        .step_up_with_key(&session, &rd, key, &origin, Instant::now())
        .await
    {
        Ok(_) => go_to(&state, &headers, "/forward-auth/continue"),
        Err(ForwardAuthError::Key(error)) => reauth_key::refusal(&state, &headers, error),
        Err(ForwardAuthError::Refused(refusal)) => Cookies::new(&state, &headers).json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({
                "message": format!("You cannot be sent back to that address: {refusal}.")
            }),
        ),
        Err(error) => internal(&state, &headers, format!("{error:#}")),
    }
}

/// `POST /forward-auth/step-up/send`: a code sent by one of the person's methods.
pub async fn step_up_send(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let Some(rd) = kept(&state, &headers) else {
        return Cookies::new(&state, &headers).redirect("/");
    };
    send_code(
        &state,
        &headers,
        &session,
        &user,
        &form,
        &origin,
        &site_of(&rd),
    )
    .await
}

/// The page's purpose for a way back the browser keeps (checked when the code is proved).
fn site_of(rd: &str) -> Purpose {
    let host = url::Url::parse(rd)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "The site".to_owned());
    Purpose::Site { host }
}

fn refusal(state: &AppState, headers: &HeaderMap, error: ForwardAuthError) -> Response {
    match error {
        ForwardAuthError::Refused(refusal) => error_page(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            &format!("You cannot be sent back to that address: {refusal}."),
        ),
        other => internal(state, headers, format!("{other:#}")),
    }
}
