//! The forgotten-password pages: `/forgot-password` asks for a link, `/reset-password/{id}`
//! (where the emailed link leads) sets the new password. Neither logs anyone in: the login
//! page follows, with the second factor after the password as always.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::forms::{ForgotCodeForm, ForgotForm, ResetForm};
use super::{Chrome, Cookies, WebForm, internal};
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::recovery::{
    ForgotCode, ForgotPassword, LINK_LIFETIME_SECONDS, LOGIN_ID_FIELD, LinkFor, LinkState,
    PASSWORD_FIELD, RecoveryError, ResetBy, ResetPassword,
};

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    chrome: Chrome,
    login_id: String,
    error: Option<String>,
    /// A link was asked for: the page says what happens next, whoever the account is.
    sent: bool,
    /// A code by text was asked for: the page asks for it, whoever the account is.
    code_sent: bool,
    /// The settings allow a code by text.
    sms_offered: bool,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    chrome: Chrome,
    /// The link's secret, for the form's address.
    link: String,
    username: String,
    /// The link answers a login with a temporary password.
    temporary: bool,
    /// The link is an invitation to a new account.
    invited: bool,
    /// Why the link no longer works: the page offers a new one instead of the form.
    dead: Option<String>,
    error: Option<String>,
    new_error: String,
    confirm_error: String,
}

impl ResetPage {
    /// Says whose the link is and what it is for, as its first showing did: only a form shown
    /// again asks, so an accepted change reads the link once.
    async fn describe(&mut self, state: &AppState, link: &str) {
        if let Ok(live) = state.core.recovery.link_state(link, Instant::now()).await {
            self.show(&live);
        }
    }

    fn show(&mut self, live: &LinkState) {
        self.username = live.username.as_str().to_owned();
        self.temporary = live.purpose == LinkFor::TemporaryPassword;
        self.invited = live.purpose == LinkFor::Invitation;
    }

    fn new(chrome: Chrome, link: &str) -> Self {
        Self {
            chrome,
            link: link.to_owned(),
            username: String::new(),
            temporary: false,
            invited: false,
            dead: None,
            error: None,
            new_error: String::new(),
            confirm_error: String::new(),
        }
    }
}

/// Which state of the page to show.
enum Stage {
    Ask,
    LinkSent,
    CodeSent,
}

async fn forgot_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    stage: Stage,
    login_id: &str,
    error: Option<String>,
) -> Response {
    let sms_offered = match state.core.recovery.reset_by_sms_offered().await {
        Ok(offered) => offered,
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    let page = ForgotPage {
        chrome,
        login_id: login_id.chars().take(254).collect(),
        error,
        sent: matches!(stage, Stage::LinkSent),
        code_sent: matches!(stage, Stage::CodeSent),
        sms_offered,
        minutes: LINK_LIFETIME_SECONDS / 60,
    };
    cookies.page(status, &page)
}

pub async fn forgot_page_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    forgot_page(&state, &headers, StatusCode::OK, Stage::Ask, "", None).await
}

pub async fn forgot_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ForgotForm>,
) -> Response {
    let by = match form.by.as_deref() {
        Some("sms") => ResetBy::Sms,
        _ => ResetBy::Email,
    };
    let request = ForgotPassword {
        login_id: &form.login_id,
        by,
        origin: &origin,
    };
    match state
        .core
        .recovery
        .forgot_password(&request, Instant::now())
        .await
    {
        Ok(()) => {
            let stage = match by {
                ResetBy::Email => Stage::LinkSent,
                ResetBy::Sms => Stage::CodeSent,
            };
            forgot_page(
                &state,
                &headers,
                StatusCode::OK,
                stage,
                &form.login_id,
                None,
            )
            .await
        }
        Err(error) => refused(&state, &headers, Stage::Ask, &form.login_id, error).await,
    }
}

pub async fn code_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ForgotCodeForm>,
) -> Response {
    let proof = ForgotCode {
        login_id: &form.login_id,
        code: &form.code,
        origin: &origin,
    };
    match state
        .core
        .recovery
        .link_by_code(&proof, Instant::now())
        .await
    {
        Ok(issued) => Cookies::new(&state, &headers)
            .redirect(&format!("/reset-password/{}", issued.id.expose())),
        Err(error) => refused(&state, &headers, Stage::CodeSent, &form.login_id, error).await,
    }
}

/// The page again, at `stage`, saying why the request was refused.
async fn refused(
    state: &AppState,
    headers: &HeaderMap,
    stage: Stage,
    login_id: &str,
    error: RecoveryError,
) -> Response {
    let (status, said) = match &error {
        RecoveryError::Invalid(fields) if fields.iter().any(|f| f.field == LOGIN_ID_FIELD) => (
            StatusCode::BAD_REQUEST,
            "Type your username or your email address.".to_owned(),
        ),
        RecoveryError::Invalid(_) => (
            StatusCode::BAD_REQUEST,
            "Type the code we texted you: 4 to 10 digits.".to_owned(),
        ),
        RecoveryError::WrongCode => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "This code is not right, or has expired. Check it, or ask again for a new one."
                .to_owned(),
        ),
        RecoveryError::Throttled {
            retry_after_seconds,
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many requests came from this address. Try again in {} minutes.",
                (retry_after_seconds + 59) / 60
            ),
        ),
        _ => {
            return internal(state, headers, anyhow::anyhow!("{error}"));
        }
    };
    let page = forgot_page(state, headers, status, stage, login_id, Some(said)).await;
    match error {
        RecoveryError::Throttled {
            retry_after_seconds,
        } => throttled(page, retry_after_seconds),
        _ => page,
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
            page.show(&live);
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
        page.describe(&state, &link).await;
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
        Err(RecoveryError::Invalid(fields)) if fields.iter().all(|f| f.field == PASSWORD_FIELD) => {
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
            page.describe(&state, &link).await;
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
