//! The forgotten-password pages: `/forgot-password` asks for a link, `/reset-password/{id}`
//! (where the emailed link leads) sets the new password. Neither logs anyone in: the login
//! page follows, with the second factor after the password as always.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::forms::{ForgotForm, ResetForm};
use super::{Chrome, Cookies, WebForm, internal};
use crate::auth::NEW_PASSWORD_FIELD;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::recovery::{ForgotPassword, LINK_LIFETIME_SECONDS, RecoveryError, ResetPassword};

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    chrome: Chrome,
    login_id: String,
    error: Option<String>,
    /// The request was taken: the page says what happens next, whoever the account is.
    sent: bool,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    chrome: Chrome,
    /// The link's secret, for the form's address.
    link: String,
    username: String,
    /// Why the link no longer works: the page offers a new one instead of the form.
    dead: Option<String>,
    error: Option<String>,
    new_error: String,
    confirm_error: String,
}

impl ResetPage {
    fn new(chrome: Chrome, link: &str) -> Self {
        Self {
            chrome,
            link: link.to_owned(),
            username: String::new(),
            dead: None,
            error: None,
            new_error: String::new(),
            confirm_error: String::new(),
        }
    }
}

fn forgot_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(Chrome) -> ForgotPage,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    cookies.page(status, &page(chrome))
}

pub async fn forgot_page_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    forgot_page(&state, &headers, StatusCode::OK, |chrome| ForgotPage {
        chrome,
        login_id: String::new(),
        error: None,
        sent: false,
        minutes: LINK_LIFETIME_SECONDS / 60,
    })
}

pub async fn forgot_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ForgotForm>,
) -> Response {
    let request = ForgotPassword {
        login_id: &form.login_id,
        origin: &origin,
    };
    let refused = |status, error: String| {
        forgot_page(&state, &headers, status, |chrome| ForgotPage {
            chrome,
            login_id: form.login_id.chars().take(254).collect(),
            error: Some(error),
            sent: false,
            minutes: LINK_LIFETIME_SECONDS / 60,
        })
    };
    match state
        .core
        .recovery
        .forgot_password(&request, Instant::now())
        .await
    {
        Ok(()) => forgot_page(&state, &headers, StatusCode::OK, |chrome| ForgotPage {
            chrome,
            login_id: String::new(),
            error: None,
            sent: true,
            minutes: LINK_LIFETIME_SECONDS / 60,
        }),
        Err(RecoveryError::Invalid(_)) => refused(
            StatusCode::BAD_REQUEST,
            "Type your username or your email address.".into(),
        ),
        Err(RecoveryError::Throttled {
            retry_after_seconds,
        }) => throttled(
            refused(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many requests came from this address. Try again in {} minutes.",
                    (retry_after_seconds + 59) / 60
                ),
            ),
            retry_after_seconds,
        ),
        Err(error) => internal(&state, &headers, error),
    }
}

pub async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(link): Path<String>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let mut page = ResetPage::new(cookies.chrome(&state, None), &link);
    let status = match state.core.recovery.link_state(&link, Instant::now()).await {
        Ok(live) => {
            page.username = live.username.as_str().to_owned();
            StatusCode::OK
        }
        Err(RecoveryError::Internal(error)) => return internal(&state, &headers, error),
        Err(dead) => {
            page.dead = Some(dead_sentence(&dead));
            StatusCode::NOT_FOUND
        }
    };
    cookies.page(status, &page)
}

pub async fn reset_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(link): Path<String>,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ResetForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let mut page = ResetPage::new(cookies.chrome(&state, None), &link);
    page.username = form.username.chars().take(254).collect();
    // The confirmation is the page's own check, made before anything is compared or changed.
    if form.new_password != form.confirm_password {
        page.confirm_error =
            "The two new passwords are not the same. Type the new password twice.".into();
        return cookies.page(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let reset = ResetPassword {
        change_password_id: &link,
        new_password: &form.new_password,
        origin: &origin,
    };
    match state
        .core
        .recovery
        .reset_password(&reset, Instant::now())
        .await
    {
        Ok(_) => cookies.redirect("/login?reset=1"),
        Err(RecoveryError::Invalid(fields))
            if fields.iter().all(|f| f.field == NEW_PASSWORD_FIELD) =>
        {
            page.new_error = fields
                .iter()
                .map(|f| {
                    if f.code.starts_with("[blank]") {
                        "Type a new password.".to_owned()
                    } else {
                        sentence(&f.message)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            cookies.page(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(RecoveryError::Internal(error)) => internal(&state, &headers, error),
        Err(dead) => {
            page.dead = Some(dead_sentence(&dead));
            cookies.page(StatusCode::NOT_FOUND, &page)
        }
    }
}

/// Why a link cannot set a password, as the page says it.
fn dead_sentence(error: &RecoveryError) -> String {
    match error {
        RecoveryError::DeadLink(dead) => sentence(dead.sentence()),
        _ => "This link is not valid. Check that the whole link was copied from the email, or \
              ask for a new one."
            .into(),
    }
}

/// A capital first, a full stop last.
fn sentence(text: &str) -> String {
    let mut said = text.to_owned();
    if let Some(first) = said.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    if !said.ends_with('.') {
        said.push('.');
    }
    said
}
