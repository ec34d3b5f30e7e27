//! The page a security notice's "this was not me" link opens. Opening it changes nothing (mail
//! scanners fetch links to look at them): it says what happened, and its button secures the
//! account.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::forms::EmptyForm;
use super::{Cookies, WebForm, internal};
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::notices::{NoticeError, NoticeKind, NoticeState};

#[derive(Template)]
#[template(path = "not_me.html")]
struct NotMePage {
    chrome: super::Chrome,
    heading: &'static str,
    notice: Option<String>,
    error: Option<String>,
    shown: Option<NoticeState>,
    /// The link's id, while its button is still to press.
    ask: Option<String>,
    /// The account is secured: what to do next is said.
    done: bool,
    by_administrator: bool,
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match state.core.notices.notice_state(&id, Instant::now()).await {
        Ok(shown) => match shown.disowned_at {
            Some(at) => {
                let notice = format!(
                    "You said this was not you on {}: every session of the account ended then.",
                    at.utc_text()
                );
                render(
                    &state,
                    &headers,
                    StatusCode::OK,
                    "Your account was secured",
                    Some(notice),
                    shown,
                    None,
                )
            }
            None => render(
                &state,
                &headers,
                StatusCode::OK,
                "Was this you?",
                None,
                shown,
                Some(id),
            ),
        },
        Err(error) => refused(&state, &headers, error),
    }
}

pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    match state
        .core
        .notices
        .disown(&id, &origin, Instant::now())
        .await
    {
        Ok(disowned) => {
            let ended = format!(
                "Every session of the account {} has ended, and every computer will ask for the \
                 second factor again.",
                disowned.state.username
            );
            let notice = match (&disowned.reset_sent_to, disowned.now) {
                (Some(to), _) => {
                    format!("{ended} A link to choose a new password was sent to {to}.")
                }
                (None, true) => ended,
                (None, false) => format!(
                    "You said this was not you already: {}",
                    ended.to_lowercase()
                ),
            };
            render(
                &state,
                &headers,
                StatusCode::OK,
                "Your account is secured",
                Some(notice),
                disowned.state,
                None,
            )
        }
        Err(error) => refused(&state, &headers, error),
    }
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    heading: &'static str,
    notice: Option<String>,
    shown: NoticeState,
    ask: Option<String>,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    let by_administrator = matches!(
        shown.kind,
        NoticeKind::TwoFactorReset | NoticeKind::AccessCodeUsed
    );
    cookies.page(
        status,
        &NotMePage {
            chrome,
            heading,
            notice,
            error: None,
            done: ask.is_none(),
            shown: Some(shown),
            ask,
            by_administrator,
        },
    )
}

/// The page of a link that cannot be used, saying why and what to do instead.
fn refused(state: &AppState, headers: &HeaderMap, error: NoticeError) -> Response {
    let (status, said) = match &error {
        NoticeError::Internal(_) => return internal(state, headers, error),
        NoticeError::Invalid(fields) => (
            StatusCode::BAD_REQUEST,
            fields
                .iter()
                .map(|f| format!("{}.", f.message))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        NoticeError::UnknownLink => (
            StatusCode::NOT_FOUND,
            "This link is not valid: check that the whole link was copied.".to_owned(),
        ),
        NoticeError::Expired => (
            StatusCode::NOT_FOUND,
            "This link has expired: its seven days are over.".to_owned(),
        ),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    cookies.page(
        status,
        &NotMePage {
            chrome,
            heading: "This link cannot be used",
            notice: Some(
                "If something happened to your account that was not you, choose a new password \
                 with “Forgot your password?” on the login page, then check your security \
                 settings."
                    .into(),
            ),
            error: Some(said),
            shown: None,
            ask: None,
            done: false,
            by_administrator: false,
        },
    )
}
