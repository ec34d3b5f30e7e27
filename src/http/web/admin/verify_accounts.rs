//! Accounts of the Twilio-compatible Verify API: listed, and a new one made (its Auth Token is
//! shown once).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::Administrator;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::web::{Chrome, Cookies, WebForm, internal};

#[derive(Template)]
#[template(path = "admin_verify_accounts.html")]
struct VerifyAccountsPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    accounts: Vec<(String, String)>,
    created: Option<(String, String)>,
}

async fn render_verify_accounts(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let accounts = match state.core.verify.verify_accounts().await {
        Ok(accounts) => accounts
            .into_iter()
            .map(|(sid, name, _)| (sid, name))
            .collect(),
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &VerifyAccountsPage {
            chrome,
            tab: "verify",
            notice: None,
            error,
            accounts,
            created,
        },
    )
}

pub async fn verify_accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
) -> Response {
    render_verify_accounts(&state, &headers, &admin, None, None).await
}

pub async fn create_verify_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    WebForm(form): WebForm<crate::http::web::forms::NameForm>,
) -> Response {
    match state
        .core
        .verify
        .create_verify_account(&form.name, Actor::User(admin.id), Instant::now())
        .await
    {
        Ok(created) => render_verify_accounts(&state, &headers, &admin, Some(created), None).await,
        Err(error) => {
            render_verify_accounts(&state, &headers, &admin, None, Some(format!("{error:#}"))).await
        }
    }
}
