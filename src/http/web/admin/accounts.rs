//! The account settings: whether an email address not yet verified may be used to log in, and
//! whether people may make their own accounts (with which email domains).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Administrator, NoticeQuery};
use crate::account_policy::AccountSettings;
use crate::addresses::AddressError;
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
    self_registration: bool,
    /// The allow-list as the field shows it: one domain a line.
    registration_domains: String,
}

impl AccountsEditor {
    fn new(chrome: Chrome, settings: &AccountSettings) -> Self {
        Self {
            chrome,
            tab: "accounts",
            notice: None,
            error: None,
            unverified_email_login: settings.unverified_email_login,
            self_registration: settings.self_registration,
            registration_domains: settings.registration_domains.join("\n"),
        }
    }
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
    let mut page = AccountsEditor::new(chrome, &settings);
    page.notice = query.notice.map(|_| "Saved.".into());
    cookies.page(StatusCode::OK, &page)
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
        self_registration: form.self_registration.is_some(),
        // One a line, or separated by commas or spaces, as an administrator may paste them.
        registration_domains: form
            .registration_domains
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    match state
        .core
        .addresses
        .set_account_settings(
            settings.clone(),
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/admin/accounts?notice=saved"),
        Err(AddressError::Invalid(fields)) => {
            let cookies = Cookies::new(&state, &headers);
            let mut page = AccountsEditor::new(cookies.chrome(&state, Some(&admin)), &settings);
            page.error = Some(
                fields
                    .iter()
                    .map(|f| format!("{}.", f.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            cookies.page(StatusCode::BAD_REQUEST, &page)
        }
        Err(error) => internal(&state, &headers, error),
    }
}
