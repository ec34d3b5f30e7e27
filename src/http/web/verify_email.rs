//! The page a verification link opens. Opening it verifies nothing (mail scanners fetch links
//! to look at them): it shows the address and the account, and a button whose POST verifies.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::forms::EmptyForm;
use super::{Chrome, Cookies, WebForm, internal, signed_in};
use crate::addresses::{AddressError, DeadLink};
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;

/// What the button confirms.
pub struct Ask {
    id: String,
    email: String,
    username: String,
    hours_left: i64,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyEmailPage {
    chrome: Chrome,
    heading: &'static str,
    notice: Option<String>,
    error: Option<String>,
    ask: Option<Ask>,
    /// Where to go next, once there is no button to press.
    next: &'static str,
    next_text: &'static str,
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let now = Instant::now();
    match state.core.addresses.link_state(&id, now).await {
        Ok(link) => {
            let ask = Ask {
                id,
                email: link.email.to_string(),
                username: link.username.to_string(),
                // Whole hours, rounded up: a fresh link says 24.
                hours_left: ((link.expires_at.millis() - now.millis() + 3_599_999) / 3_600_000)
                    .max(1),
            };
            render(
                &state,
                &headers,
                StatusCode::OK,
                "Verify your email address",
                None,
                Some(ask),
            )
            .await
        }
        Err(error) => refused(&state, &headers, error).await,
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
        .addresses
        .verify_email(&id, &origin, Instant::now())
        .await
    {
        Ok(user) => {
            let notice = format!(
                "{} is now the verified email address of the account {}: you can log in with \
                 it, and a link to reset a forgotten password goes there.",
                user.email.map(|e| e.to_string()).unwrap_or_default(),
                user.username
            );
            render(
                &state,
                &headers,
                StatusCode::OK,
                "Email address verified",
                Some(notice),
                None,
            )
            .await
        }
        Err(error) => refused(&state, &headers, error).await,
    }
}

/// The page of a link that cannot verify, saying why.
async fn refused(state: &AppState, headers: &HeaderMap, error: AddressError) -> Response {
    let status = match &error {
        AddressError::Internal(_) => return internal(state, headers, error),
        AddressError::Invalid(_) => StatusCode::BAD_REQUEST,
        AddressError::Taken => StatusCode::CONFLICT,
        AddressError::DeadLink(DeadLink::AlreadyVerified) => StatusCode::OK,
        _ => StatusCode::NOT_FOUND,
    };
    let heading = match &error {
        AddressError::DeadLink(DeadLink::AlreadyVerified) => "Email address verified",
        _ => "This link cannot be used",
    };
    let (notice, error) = match &error {
        AddressError::DeadLink(DeadLink::AlreadyVerified) => (Some(refusal(&error)), None),
        _ => (None, Some(refusal(&error))),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    let (next, next_text) = next_step(state, headers).await;
    cookies.page(
        status,
        &VerifyEmailPage {
            chrome,
            heading,
            notice,
            error,
            ask: None,
            next,
            next_text,
        },
    )
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    heading: &'static str,
    notice: Option<String>,
    ask: Option<Ask>,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    let (next, next_text) = next_step(state, headers).await;
    cookies.page(
        status,
        &VerifyEmailPage {
            chrome,
            heading,
            notice,
            error: None,
            ask,
            next,
            next_text,
        },
    )
}

/// The security settings for a signed-in browser (where the address shows), the login page
/// for anyone else.
async fn next_step(state: &AppState, headers: &HeaderMap) -> (&'static str, &'static str) {
    match signed_in(state, headers).await {
        Some(_) => ("/security", "Go to your security settings"),
        None => ("/login", "Log in"),
    }
}

/// A refusal of an address or its link as the pages say it: a sentence, with what to do.
pub fn refusal(error: &AddressError) -> String {
    let said = match error {
        AddressError::Invalid(fields) => fields
            .iter()
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        AddressError::UserNotFound => "this account no longer exists".into(),
        AddressError::NothingToVerify => {
            "no email address awaits verification: there is no link to send".into()
        }
        AddressError::UnknownLink => {
            "this link is not valid: check that the whole link was copied, or ask for a new one"
                .into()
        }
        AddressError::DeadLink(dead) => dead.sentence().into(),
        AddressError::Taken => {
            "another account uses this email address now: nothing was changed".into()
        }
        AddressError::NotSent(_) => {
            "the email could not be sent just now (too many were sent lately, or the server \
             sends no email): try again later"
                .into()
        }
        AddressError::Internal(_) => "something went wrong: try again in a moment".into(),
    };
    sentence(&said)
}

/// A clause as a sentence: a capital first letter and a full stop.
fn sentence(clause: &str) -> String {
    let mut chars = clause.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut said: String = first.to_uppercase().chain(chars).collect();
    if !said.ends_with(['.', '!', '?']) {
        said.push('.');
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_reads_as_a_sentence() {
        for error in [
            AddressError::UserNotFound,
            AddressError::NothingToVerify,
            AddressError::UnknownLink,
            AddressError::DeadLink(DeadLink::Used),
            AddressError::DeadLink(DeadLink::Voided),
            AddressError::Taken,
        ] {
            let said = refusal(&error);
            assert!(said.starts_with(char::is_uppercase), "{said}");
            assert!(said.ends_with('.'), "{said}");
        }
    }
}
