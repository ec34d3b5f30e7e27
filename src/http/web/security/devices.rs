//! Trusted computers forgotten and sessions ended, one at a time, from the security page.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::recent;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::IdForm;
use crate::http::web::{Cookies, WebForm, internal};

pub async fn forget_computer(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let id = form.id.chars().take(64).collect::<String>();
    match state
        .core
        .two_factor
        .revoke_trusted_computers(
            user.id,
            Some(&id),
            Actor::User(user.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/security?done=forgotten"),
        Err(error) => internal(&state, &headers, error),
    }
}

pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let id = form.id.chars().take(64).collect::<String>();
    match state
        .core
        .sessions
        .end_session(user.id, &id, &origin, Instant::now())
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/security?done=ended"),
        Err(error) => internal(&state, &headers, format!("{error:#}")),
    }
}
