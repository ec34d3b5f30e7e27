//! A temporary password an administrator gives a user: made by the server, shown once on this
//! page, and replaced by the user's own at their first login with it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::confirm::{Question, ask, confirmed};
use super::{Administrator, user_id};
use crate::accounts::AccountError;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::ConfirmForm;
use crate::http::web::{Chrome, Cookies, WebForm, error_page, internal};

#[derive(Template)]
#[template(path = "admin_temporary_password.html")]
struct TemporaryPasswordPage {
    chrome: Chrome,
    id: String,
    username: String,
    password: String,
}

/// Makes the temporary password once the question's page is answered; until then, asks it.
pub async fn temporary_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<ConfirmForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    if !confirmed(form.confirm.as_deref()) {
        return ask(
            &state,
            &headers,
            &admin,
            id,
            Question::TemporaryPassword,
            "",
            None,
        )
        .await;
    }
    match state
        .core
        .accounts
        .set_temporary_password(id, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok((user, password)) => {
            let cookies = Cookies::new(&state, &headers);
            let chrome = cookies.chrome(&state, Some(&admin));
            cookies.page(
                StatusCode::OK,
                &TemporaryPasswordPage {
                    chrome,
                    id: user.id.to_string(),
                    username: user.username.to_string(),
                    password,
                },
            )
        }
        Err(AccountError::UserNotFound) => {
            error_page(&state, &headers, StatusCode::NOT_FOUND, "No such user.")
        }
        Err(error) => internal(&state, &headers, error),
    }
}
