//! The list of users, searched by a prefix of their username or email, a new user made (with
//! a password, or invited to choose one), and invitations to those who never logged in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Administrator, account_error};
use crate::accounts::{Field, NewEmail, UserFields};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{EmptyForm, NewUserForm};
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::recovery::{Invited, RecoveryError};

const PAGE: i64 = 25;

pub struct UserRow {
    id: String,
    username: String,
    email: String,
    roles: String,
    active: &'static str,
    required: &'static str,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    query: String,
    users: Vec<UserRow>,
    total: i64,
    previous: Option<i64>,
    next: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    page: Option<i64>,
    notice: Option<String>,
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

pub async fn users(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<UsersQuery>,
) -> Response {
    let notice = query.notice.as_ref().map(|_| "Saved.".to_owned());
    render_users(&state, &headers, &admin, query, notice, None).await
}

async fn render_users(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    query: UsersQuery,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let prefix: String = query.q.unwrap_or_default().chars().take(100).collect();
    let page = query.page.unwrap_or(0).clamp(0, 100_000);
    let (found, total) = match state
        .core
        .admin
        .search_users(&prefix, PAGE, page * PAGE)
        .await
    {
        Ok(found) => found,
        Err(error) => return internal(state, headers, account_error(&error)),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &UsersPage {
            chrome,
            tab: "users",
            notice,
            error,
            query: prefix,
            users: found
                .iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    username: u.username.to_string(),
                    email: u.email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
                    roles: u.roles.names().join(", "),
                    active: yes(u.active),
                    required: yes(u.two_factor_required),
                })
                .collect(),
            total,
            previous: (page > 0).then(|| page - 1),
            next: ((page + 1) * PAGE < total).then_some(page + 1),
        },
    )
}

pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<NewUserForm>,
) -> Response {
    let invite = form.invite.is_some();
    let fields = UserFields {
        username: Field::Value(form.username),
        email: if form.email.trim().is_empty() {
            Field::Absent
        } else {
            Field::Value(form.email)
        },
        password: if invite && form.password.is_empty() {
            Field::Absent
        } else {
            Field::Value(form.password)
        },
        ..UserFields::default()
    };
    let new_email = if form.email_verified.is_some() {
        NewEmail::Verified
    } else {
        NewEmail::Unverified
    };
    let (actor, now) = (Actor::User(admin.id), Instant::now());
    let created = if invite {
        state
            .core
            .recovery
            .create_invited_user(None, &fields, new_email, actor, &origin, now)
            .await
            .map(|(user, invited)| {
                let notice = if invited.sent.is_empty() {
                    "invitation-skipped"
                } else {
                    "invited"
                };
                (user, notice)
            })
            .map_err(|error| match error {
                RecoveryError::Account(error) => account_error(&error),
                other => other.to_string(),
            })
    } else {
        state
            .core
            .addresses
            .create_user(None, &fields, new_email, actor, &origin, now)
            .await
            .map(|user| (user, "created"))
            .map_err(|error| account_error(&error))
    };
    match created {
        Ok((user, notice)) => Cookies::new(&state, &headers)
            .redirect(&format!("/admin/users/{}?notice={notice}", user.id)),
        Err(error) => {
            render_users(
                &state,
                &headers,
                &admin,
                UsersQuery::default(),
                None,
                Some(error),
            )
            .await
        }
    }
}

/// `POST /admin/users/invitations`: an invitation to every user who never logged in.
pub async fn invite_never_logged_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(_): WebForm<EmptyForm>,
) -> Response {
    match state
        .core
        .recovery
        .invite_never_logged_in(Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(invited) => {
            let notice = invited_sentence(&invited);
            render_users(
                &state,
                &headers,
                &admin,
                UsersQuery::default(),
                Some(notice),
                None,
            )
            .await
        }
        Err(error) => internal(&state, &headers, error),
    }
}

/// What the console says of invitations sent.
pub fn invited_sentence(invited: &Invited) -> String {
    let mut said = match invited.sent.len() {
        0 => "No invitation was sent.".to_owned(),
        1 => format!("An invitation was sent to {}.", invited.sent[0]),
        n => format!("Invitations were sent to {n} users."),
    };
    if !invited.skipped.is_empty() {
        let skipped: Vec<String> = invited
            .skipped
            .iter()
            .map(|(name, why)| format!("{name} ({why})"))
            .collect();
        said.push_str(&format!(" Not sent: {}.", skipped.join(", ")));
    }
    said
}
