//! The list of users, searched by a prefix of their username or email, and a new user made.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Administrator, account_error};
use crate::accounts::{Field, UserFields};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::NewUserForm;
use crate::http::web::{Chrome, Cookies, WebForm, internal};

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
    render_users(&state, &headers, &admin, query, None).await
}

async fn render_users(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    query: UsersQuery,
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
            notice: query.notice.map(|_| "Saved.".to_owned()),
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
    let fields = UserFields {
        username: Field::Value(form.username),
        email: if form.email.trim().is_empty() {
            Field::Absent
        } else {
            Field::Value(form.email)
        },
        password: Field::Value(form.password),
        ..UserFields::default()
    };
    match state
        .core
        .accounts
        .create_user(
            None,
            &fields,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(user) => Cookies::new(&state, &headers)
            .redirect(&format!("/admin/users/{}?notice=created", user.id)),
        Err(error) => {
            render_users(
                &state,
                &headers,
                &admin,
                UsersQuery::default(),
                Some(account_error(&error)),
            )
            .await
        }
    }
}
