//! A user's security keys from their page in the console: one removed after a question that
//! asks a reason for the audit log, as the other removals of a user's second factors do.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::confirm::{Confirmation, confirmed, render_with_reason};
use super::{Administrator, user_id, when};
use crate::accounts::AccountError;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{User, UserId};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::ReasonForm;
use crate::http::web::{Cookies, WebForm, error_page, internal};
use crate::webauthn::WebauthnError;

/// The question before the key `key` of the user `id` is removed, with the reason as given
/// and `error` where the last answer was refused.
async fn ask(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    id: UserId,
    key: &str,
    reason: &str,
    error: Option<String>,
) -> Response {
    let user = match state.core.admin.user_overview(id, Instant::now()).await {
        Ok(overview) => overview.user,
        Err(AccountError::UserNotFound) => {
            return error_page(state, headers, StatusCode::NOT_FOUND, "No such user.");
        }
        Err(error) => return internal(state, headers, error),
    };
    let keys = match state.core.webauthn.credentials_of(id).await {
        Ok(keys) => keys,
        Err(error) => return internal(state, headers, format!("{error:#}")),
    };
    let Some(key) = keys.into_iter().find(|k| k.id == key) else {
        return Cookies::new(state, headers).redirect(&format!("/admin/users/{id}?notice=no-key"));
    };
    let name = user.username.to_string();
    let confirmation = Confirmation {
        question: format!("Remove {name}'s security key “{}”?", key.name),
        consequence: format!(
            "The key no longer counts for {name}'s account; to use it again, {name} adds it \
             again from their security settings. It cannot be undone."
        ),
        items: vec![format!(
            "{} · added {} · last used {}",
            key.name,
            when(key.created_at.millis()),
            key.last_used_at
                .map(|at| when(at.millis()))
                .unwrap_or_else(|| "never".into())
        )],
        action: format!("/admin/users/{id}/keys/{}/remove", key.id),
        confirm: format!("Remove the key “{}”", key.name),
        back: format!("/admin/users/{id}"),
        back_name: name,
    };
    render_with_reason(state, headers, admin, confirmation, reason, error)
}

/// The question, from the user's page.
pub async fn confirm_removal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path((raw, key)): Path<(String, String)>,
) -> Response {
    match user_id(&state, &headers, &raw) {
        Ok(id) => ask(&state, &headers, &admin, id, &key, "", None).await,
        Err(response) => response,
    }
}

/// Removes the key once the question is answered with a reason; until then, asks it.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path((raw, key)): Path<(String, String)>,
    WebForm(form): WebForm<ReasonForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    if !confirmed(form.confirm.as_deref()) {
        return ask(&state, &headers, &admin, id, &key, &form.reason, None).await;
    }
    let result = state
        .core
        .webauthn
        .delete_of(
            id,
            &key,
            Some(&form.reason),
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    let notice = match result {
        Ok(true) => "key-removed",
        Ok(false) => "no-key",
        Err(WebauthnError::Invalid(fields)) => {
            let error = fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ");
            return ask(
                &state,
                &headers,
                &admin,
                id,
                &key,
                &form.reason,
                Some(error),
            )
            .await;
        }
        Err(error) => return internal(&state, &headers, format!("{error:#}")),
    };
    Cookies::new(&state, &headers).redirect(&format!("/admin/users/{id}?notice={notice}"))
}
