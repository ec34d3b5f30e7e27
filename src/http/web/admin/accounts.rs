//! The account settings: whether an email address not yet verified may be used to log in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Administrator, NoticeQuery};
use crate::account_policy::AccountSettings;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::AccountSettingsForm;
use crate::http::web::{Chrome, Cookies, WebForm, internal};

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct AccountsEditor {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    unverified_email_login: bool,
}

pub async fn accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let settings = match state.core.addresses.account_settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(&state, &headers, error),
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&admin));
    cookies.page(
        StatusCode::OK,
        &AccountsEditor {
            chrome,
            tab: "accounts",
            notice: query.notice.map(|_| "Saved.".into()),
            error: None,
            unverified_email_login: settings.unverified_email_login,
        },
    )
}

pub async fn save_accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<AccountSettingsForm>,
) -> Response {
    let settings = AccountSettings {
        unverified_email_login: form.unverified_email_login.is_some(),
    };
    match state
        .core
        .addresses
        .set_account_settings(&settings, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/accounts?notice=saved"),
        Err(error) => internal(&state, &headers, error),
    }
}
