//! New recovery codes from the security page, shown once until the user says they saved them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{recent, render};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::enroll::RecoveryCodesPage;
use crate::http::web::forms::{EmptyForm, FinishForm};
use crate::http::web::login::explain;
use crate::http::web::{Cookies, WebForm, error_page, internal};
use crate::two_factor::TwoFactorError;

pub async fn recovery_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state
        .core
        .two_factor
        .regenerate_recovery_codes(user.id, Actor::User(user.id), &origin, Instant::now())
        .await
    {
        Ok(codes) => {
            let cookies = Cookies::new(&state, &headers);
            let chrome = cookies.chrome(&state, Some(&user));
            cookies.page(
                StatusCode::OK,
                &RecoveryCodesPage::new(
                    chrome,
                    codes,
                    Some("Your old recovery codes no longer work.".into()),
                    None,
                    "/security/done",
                ),
            )
        }
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some(explain(&other)),
            )
            .await
        }
    }
}

/// The recovery codes were acknowledged.
pub async fn done(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebForm(form): WebForm<FinishForm>,
) -> Response {
    if form.saved.is_none() {
        return error_page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "Tick \"I have saved these codes\" to go on.",
        );
    }
    Cookies::new(&state, &headers).redirect("/security")
}
