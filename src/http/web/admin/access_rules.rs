//! The access rules of forward-auth, edited as their JSON document: the same document the API
//! and the CLI take, refused with the same errors (each naming its rule and field).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::Administrator;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::forward_auth::{AccessRulesDocument, ForwardAuthError};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::HasCsrf;
use crate::http::web::{Chrome, Cookies, WebForm, internal};

#[derive(Template)]
#[template(path = "admin_access_rules.html")]
struct AccessRulesEditor {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    problems: Vec<String>,
    document: String,
}

#[derive(Deserialize)]
pub struct SavedQuery {
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AccessRulesForm {
    csrf: String,
    document: String,
}

impl HasCsrf for AccessRulesForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn access_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<SavedQuery>,
) -> Response {
    let document = match state.core.forward_auth.access_rules().await {
        Ok(document) => document,
        Err(error) => return internal(&state, &headers, format!("{error:#}")),
    };
    let text = serde_json::to_string_pretty(&document).unwrap_or_default();
    let notice = match state.core.forward_auth.rules_file() {
        Some(path) => Some(format!(
            "These rules are kept in {} (forward_auth.access_rules_file): change them there; \
             every node reads it again within a second of a change.",
            path.display()
        )),
        None => query.notice.map(|_| "Saved.".to_owned()),
    };
    editor(&state, &headers, &admin, text, notice, Vec::new())
}

pub async fn save_access_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<AccessRulesForm>,
) -> Response {
    let refuse = |problems: Vec<String>| {
        let mut response = editor(
            &state,
            &headers,
            &admin,
            form.document.clone(),
            None,
            problems,
        );
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
    };
    let document: AccessRulesDocument = match serde_json::from_str(&form.document) {
        Ok(document) => document,
        Err(error) => return refuse(vec![format!("The document does not read: {error}")]),
    };
    match state
        .core
        .forward_auth
        .set_access_rules(&document, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/admin/access-rules?notice=saved"),
        Err(ForwardAuthError::Invalid(errors)) => {
            refuse(errors.iter().map(ToString::to_string).collect())
        }
        Err(error @ ForwardAuthError::KeptInFile(_)) => refuse(vec![format!("{error}.")]),
        Err(error) => internal(&state, &headers, format!("{error:#}")),
    }
}

fn editor(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    document: String,
    notice: Option<String>,
    problems: Vec<String>,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        StatusCode::OK,
        &AccessRulesEditor {
            chrome,
            tab: "access",
            notice,
            error: (!problems.is_empty()).then(|| "Nothing was saved.".to_owned()),
            problems,
            document,
        },
    )
}
