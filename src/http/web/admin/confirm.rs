//! The questions asked before an administrator's actions that cannot be undone: resetting a
//! user's two-factor, ending all of their sessions, issuing a one-time access code that
//! lets them in, deleting a group (`groups.rs` asks through `render`) and removing a user's
//! security key (`keys.rs`, through `render_with_reason`). The page asks (a GET, or a POST
//! that was not confirmed); only its own form, with `confirm=yes` and the page's CSRF token,
//! acts.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Administrator, session_line, user_id, when};
use crate::accounts::AccountError;
use crate::admin::{ACCESS_CODE_HOURS, UserOverview};
use crate::clock::Instant;
use crate::domain::{User, UserId};
use crate::http::AppState;
use crate::http::web::{Chrome, Cookies, error_page, internal, method_label};

/// What the question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    ResetTwoFactor,
    EndAllSessions,
    TemporaryPassword,
    IssueAccessCode,
}

/// The answer a form gives: only `confirm=yes`, which the question's own form sends, is one.
pub fn confirmed(answer: Option<&str>) -> bool {
    answer == Some("yes")
}

#[derive(Template)]
#[template(path = "admin_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    error: Option<String>,
    question: String,
    consequence: String,
    items: Vec<String>,
    action: String,
    confirm: String,
    /// Where "cancel" goes, and what it is called.
    back: String,
    back_name: String,
    ask_reason: bool,
    reason: String,
}

/// A question: what it asks, what follows, what it lists, where its form goes and where
/// "cancel" goes back to.
pub struct Confirmation {
    pub question: String,
    pub consequence: String,
    pub items: Vec<String>,
    pub action: String,
    pub confirm: String,
    pub back: String,
    pub back_name: String,
}

/// The page that asks `confirmation` (without a reason), with `error` where the last answer
/// was refused.
pub fn render(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    confirmation: Confirmation,
    error: Option<String>,
) -> Response {
    page(state, headers, admin, confirmation, None, error)
}

/// The page that asks `confirmation` and a reason for the audit log, filled in as `reason`
/// was given.
pub fn render_with_reason(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    confirmation: Confirmation,
    reason: &str,
    error: Option<String>,
) -> Response {
    page(state, headers, admin, confirmation, Some(reason), error)
}

fn page(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    confirmation: Confirmation,
    reason: Option<&str>,
    error: Option<String>,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ConfirmPage {
            chrome,
            error,
            question: confirmation.question,
            consequence: confirmation.consequence,
            items: confirmation.items,
            action: confirmation.action,
            confirm: confirmation.confirm,
            back: confirmation.back,
            back_name: confirmation.back_name,
            ask_reason: reason.is_some(),
            reason: reason.unwrap_or_default().to_owned(),
        },
    )
}

/// The question's page about the user `id`, with `reason` filled in as given and `error` where
/// the last answer was refused.
pub async fn ask(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    id: UserId,
    question: Question,
    reason: &str,
    error: Option<String>,
) -> Response {
    let overview = match state.core.admin.user_overview(id, Instant::now()).await {
        Ok(overview) => overview,
        Err(AccountError::UserNotFound) => {
            return error_page(state, headers, StatusCode::NOT_FOUND, "No such user.");
        }
        Err(error) => return internal(state, headers, error),
    };
    let UserOverview {
        user,
        methods,
        trusted_computers,
        sessions,
        access_code,
        ..
    } = overview;
    let name = user.username.to_string();
    let (question_text, consequence, items, action, confirm) = match question {
        Question::ResetTwoFactor => {
            let mut items: Vec<String> = methods.iter().map(method_label).collect();
            if !trusted_computers.is_empty() {
                items.push(format!(
                    "{} trusted computer{}",
                    trusted_computers.len(),
                    if trusted_computers.len() == 1 {
                        ""
                    } else {
                        "s"
                    }
                ));
            }
            (
                format!("Reset {name}'s two-factor?"),
                format!(
                    "This removes every two-factor method and recovery code of {name} and \
                     forgets their trusted computers. Their next login starts over: where a \
                     second factor is required, they set one up again. It cannot be undone."
                ),
                items,
                format!("/admin/users/{id}/reset-2fa"),
                format!("Reset {name}'s two-factor"),
            )
        }
        Question::EndAllSessions => (
            format!("End all of {name}'s sessions?"),
            format!(
                "{name} is logged out everywhere: every session below ends now, in browsers \
                 and in applications, with its tokens."
            ),
            sessions
                .iter()
                .map(|(session, ip, agent)| session_line(session, ip, agent))
                .collect(),
            format!("/admin/users/{id}/revoke-sessions"),
            format!("End all of {name}'s sessions"),
        ),
        Question::TemporaryPassword => (
            format!("Give {name} a temporary password?"),
            format!(
                "A new password is made and shown to you once, for you to pass on to {name}. \
                 Their current password stops working, every session of theirs ends and their \
                 trusted computers are forgotten; the first login with the new password asks \
                 them to choose one of their own."
            ),
            Vec::new(),
            format!("/admin/users/{id}/temporary-password"),
            "Make a temporary password".to_owned(),
        ),
        Question::IssueAccessCode => {
            let replaces = match &access_code {
                Some(earlier) => format!(
                    " It replaces the unused code issued {}, which stops working.",
                    when(earlier.created_at.millis())
                ),
                None => String::new(),
            };
            (
                format!("Issue a one-time access code for {name}?"),
                format!(
                    "With their password and this code in place of a second factor, {name} can \
                     log in once within {ACCESS_CODE_HOURS} hours, and must set up a new second \
                     factor on the way. The code is shown once, on the next page: give it to \
                     {name} yourself, once you are sure it is them.{replaces} Their methods \
                     below stay until they remove them."
                ),
                methods.iter().map(method_label).collect(),
                format!("/admin/users/{id}/access-code"),
                "Issue the access code".to_owned(),
            )
        }
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ConfirmPage {
            chrome,
            error,
            back: format!("/admin/users/{id}"),
            back_name: name,
            question: question_text,
            consequence,
            items,
            action,
            confirm,
            ask_reason: matches!(
                question,
                Question::ResetTwoFactor | Question::IssueAccessCode
            ),
            reason: reason.to_owned(),
        },
    )
}

/// The question before a reset of the user's two-factor.
pub async fn reset_two_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(raw): Path<String>,
) -> Response {
    ask_first(&state, &headers, &admin, &raw, Question::ResetTwoFactor).await
}

/// The question before an access code is issued for the user.
pub async fn issue_access_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(raw): Path<String>,
) -> Response {
    ask_first(&state, &headers, &admin, &raw, Question::IssueAccessCode).await
}

/// The question before the end of all of the user's sessions.
pub async fn revoke_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(raw): Path<String>,
) -> Response {
    ask_first(&state, &headers, &admin, &raw, Question::EndAllSessions).await
}

/// The question before a temporary password replaces the user's.
pub async fn temporary_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(raw): Path<String>,
) -> Response {
    ask_first(&state, &headers, &admin, &raw, Question::TemporaryPassword).await
}

async fn ask_first(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    raw: &str,
    question: Question,
) -> Response {
    match user_id(state, headers, raw) {
        Ok(id) => ask(state, headers, admin, id, question, "", None).await,
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::confirmed;

    #[test]
    fn only_the_questions_own_answer_confirms() {
        assert!(confirmed(Some("yes")));
        for answer in [None, Some(""), Some("no"), Some("YES"), Some("on")] {
            assert!(!confirmed(answer), "{answer:?}");
        }
    }
}
