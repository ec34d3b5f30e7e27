//! The admin console: users, two-factor settings, the audit log. Administrators only,
//! behind the same re-authentication as the security settings; every action goes through the
//! domain flows the API uses, with the administrator as actor. One file per page; what the
//! pages share is here.

pub mod access_rules;
pub mod accounts;
pub mod audit;
pub mod clients;
pub mod confirm;
pub mod delivery;
pub mod groups;
pub mod keys;
pub mod notices;
pub mod outbox;
pub mod password;
pub mod senders;
pub mod settings;
pub mod user;
pub mod users;
pub mod verify_accounts;
pub mod welcome;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Cookies, error_page, internal, signed_in};
use crate::accounts::AccountError;
use crate::audit::ReadableEvent;
use crate::clock::Instant;
use crate::domain::{User, UserId};
use crate::http::AppState;
use crate::two_factor::TwoFactorError;

/// The signed-in administrator, re-authenticated recently, as an extractor: a handler that takes
/// it cannot forget the check. Anyone else is sent to log in, to re-authenticate, or refused.
pub struct Administrator(pub User);

impl axum::extract::FromRequestParts<AppState> for Administrator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        administrator(state, &parts.headers)
            .await
            .map(Administrator)
    }
}

/// The signed-in administrator, re-authenticated recently; otherwise where to go.
async fn administrator(state: &AppState, headers: &HeaderMap) -> Result<User, Response> {
    let cookies = Cookies::new(state, headers);
    let Some((session, user)) = signed_in(state, headers).await else {
        return Err(cookies.redirect("/login"));
    };
    if !user.is_admin() {
        return Err(error_page(
            state,
            headers,
            StatusCode::FORBIDDEN,
            "The admin console is for administrators.",
        ));
    }
    match state
        .core
        .two_factor
        .check_reauthenticated(
            user.id,
            session.authenticated_at,
            &session.amr,
            Instant::now(),
        )
        .await
    {
        Ok(()) => Ok(user),
        Err(TwoFactorError::Forbidden(_)) => Err(cookies.redirect("/security/reauth")),
        Err(error) => Err(internal(state, headers, error)),
    }
}

fn account_error(error: &AccountError) -> String {
    match error {
        AccountError::Invalid(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field.trim_start_matches("user."), f.message))
            .collect::<Vec<_>>()
            .join("; "),
        AccountError::UserNotFound => "No such user.".into(),
        other => format!("{other}"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// An event as a row of the console's tables: a sentence, never ids or JSON.
pub struct EventRow {
    when: String,
    sentence: String,
    event: String,
    ip: String,
    details: Vec<String>,
}

fn when(millis: i64) -> String {
    let seconds = (Instant::now().millis() - millis) / 1000;
    match seconds {
        i64::MIN..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=172_799 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

fn event_rows(events: Vec<ReadableEvent>) -> Vec<EventRow> {
    events
        .into_iter()
        .map(|e| EventRow {
            when: when(e.event.insert_instant),
            sentence: e.sentence,
            event: e.event.event,
            ip: e.event.ip_address.unwrap_or_default(),
            details: e.details,
        })
        .collect()
}

// The early answer of a page handler is a whole page; it is built once per request.
#[allow(clippy::result_large_err)]
fn user_id(state: &AppState, headers: &HeaderMap, raw: &str) -> Result<UserId, Response> {
    UserId::parse(raw)
        .map_err(|_| error_page(state, headers, StatusCode::NOT_FOUND, "No such user."))
}

/// A live session as the admin pages list it: the device, the address, since when.
fn session_line(
    session: &crate::store::SessionRecord,
    ip: &Option<String>,
    agent: &Option<String>,
) -> String {
    format!(
        "{} · {} · since {}",
        super::device(agent.as_deref()),
        ip.clone().unwrap_or_default(),
        when(session.created_at.millis())
    )
}
