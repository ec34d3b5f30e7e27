//! One user's page: their profile, email address (verified or not, and a new one awaiting its
//! link), verified phone (a number a phone method holds; the profile's number otherwise, said
//! not verified), methods, security keys, an unused access code, trusted computers and latest
//! events, and what an administrator does to them.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::confirm::{Question, ask, confirmed};
use super::{
    Administrator, EventRow, NoticeQuery, account_error, event_rows, session_line, user_id, when,
};
use crate::accounts::{AccountError, Field, NewEmail, UserFields};
use crate::admin::{ACCESS_CODE_HOURS, UserOverview};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{User, UserId};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{
    AdminPhoneForm, AdminProfileForm, ConfirmForm, EmptyForm, IdForm, ReasonForm,
};
use crate::http::web::verify_email::refusal;
use crate::http::web::{Chrome, Cookies, WebForm, error_page, internal, method_label};
use crate::oidc::OidcError;

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    id: String,
    username: String,
    full_name: String,
    email: String,
    email_verified: bool,
    /// A new address the user asked for, awaiting its link.
    pending_email: Option<String>,
    /// An address awaits verification: its link can be sent again.
    can_resend: bool,
    /// The numbers phone methods send codes to (E.164): the verified phone.
    verified_phones: Vec<String>,
    /// The profile's number that no method holds (E.164): shown, not as verified.
    unverified_phone: Option<String>,
    is_admin: bool,
    active: bool,
    required: bool,
    password_change_required: bool,
    methods: Vec<String>,
    keys: Vec<KeyRow>,
    /// The unused access code: when it was issued and until when it works.
    access_code: Option<String>,
    trusted: Vec<String>,
    sessions: Vec<String>,
    events: Vec<EventRow>,
    /// The user's groups: (group id, name, member since).
    groups: Vec<(String, String, String)>,
    /// The groups the user is not in: (group id, name).
    other_groups: Vec<(String, String)>,
    grants: Vec<GrantRow>,
}

/// A security key, with the way to its removal's question.
struct KeyRow {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

/// A sign-in to an application whose tokens still work.
struct GrantRow {
    id: String,
    client: String,
    scopes: String,
    since: String,
    /// `offline_access`: it outlives the session it was granted from.
    offline: bool,
}

/// The page that shows an access code just issued, once.
#[derive(Template)]
#[template(path = "admin_access_code.html")]
struct AccessCodePage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    id: String,
    username: String,
    code: String,
    expires: String,
    hours: i64,
    replaced: bool,
}

async fn render_user(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    id: UserId,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let UserOverview {
        user,
        methods,
        phones,
        trusted_computers,
        sessions,
        events,
        access_code,
        memberships,
        other_groups,
    } = match state.core.admin.user_overview(id, Instant::now()).await {
        Ok(overview) => overview,
        Err(AccountError::UserNotFound) => {
            return error_page(state, headers, StatusCode::NOT_FOUND, "No such user.");
        }
        Err(error) => return internal(state, headers, error),
    };
    let grants = match state.core.oidc.grants_of(user.id, Instant::now()).await {
        Ok(grants) => grants,
        Err(error) => return internal(state, headers, error),
    };
    let keys = match state.core.webauthn.credentials_of(user.id).await {
        Ok(keys) => keys,
        Err(error) => return internal(state, headers, format!("{error:#}")),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &UserPage {
            chrome,
            tab: "users",
            notice,
            error,
            id: user.id.to_string(),
            username: user.username.to_string(),
            full_name: user
                .full_name
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            email: user
                .email
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            email_verified: user.verified_email().is_some(),
            pending_email: user.pending_email.as_ref().map(|e| e.to_string()),
            can_resend: user.email_awaiting_verification().is_some(),
            verified_phones: phones
                .verified
                .iter()
                .map(|p| p.e164().to_owned())
                .collect(),
            unverified_phone: phones.unverified.map(|p| p.e164().to_owned()),
            is_admin: user.is_admin(),
            active: user.active,
            required: user.two_factor_required,
            password_change_required: user.password_change_required,
            methods: methods.iter().map(method_label).collect(),
            keys: keys
                .into_iter()
                .map(|k| KeyRow {
                    id: k.id,
                    name: k.name,
                    added: when(k.created_at.millis()),
                    last_used: k
                        .last_used_at
                        .map(|at| when(at.millis()))
                        .unwrap_or_else(|| "never".into()),
                })
                .collect(),
            access_code: access_code.map(|code| {
                format!(
                    "Issued {}, works once until {}",
                    when(code.created_at.millis()),
                    code.expires_at.rfc2822()
                )
            }),
            trusted: trusted_computers
                .iter()
                .map(|t| {
                    format!(
                        "{} · {} · last used {}",
                        t.user_agent.clone().unwrap_or_default(),
                        t.ip_address.clone().unwrap_or_default(),
                        when(t.last_used_instant.unwrap_or(t.insert_instant))
                    )
                })
                .collect(),
            sessions: sessions
                .iter()
                .map(|(session, ip, agent)| session_line(session, ip, agent))
                .collect(),
            events: event_rows(events),
            groups: memberships
                .iter()
                .map(|(group, since)| {
                    (
                        group.id.to_string(),
                        group.name.to_string(),
                        when(since.millis()),
                    )
                })
                .collect(),
            other_groups: other_groups
                .iter()
                .map(|group| (group.id.to_string(), group.name.to_string()))
                .collect(),
            grants: grants
                .into_iter()
                .map(|g| GrantRow {
                    id: g.id,
                    client: g.client_name,
                    scopes: g.scopes.join(", "),
                    since: when(g.since.millis()),
                    offline: g.offline,
                })
                .collect(),
        },
    )
}

pub async fn user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(raw): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let notice = query.notice.map(|n| match n.as_str() {
        "created" => "The user is created.".to_owned(),
        "invited" => "The user is created, and an invitation to choose a password was sent to \
                      their address."
            .to_owned(),
        "invitation-skipped" => "The user is created, but the invitation could not be sent now \
                                 (see the log): send it again from the users page."
            .to_owned(),
        "phone" => "The phone number is updated.".to_owned(),
        "reset" => "Two-factor authentication is reset.".to_owned(),
        "unlocked" => "The user can try codes again.".to_owned(),
        "sessions" => "Every session of the user has ended.".to_owned(),
        "access-code-revoked" => "The access code is revoked: it no longer works.".to_owned(),
        "link" => "A new link to verify the email address is on its way.".to_owned(),
        "groups" => "The user's groups are updated.".to_owned(),
        "no-group" => "That group is not there any more: nothing was changed.".to_owned(),
        "grant" => "The sign-in is revoked: its tokens no longer work.".to_owned(),
        "no-grant" => "That sign-in had ended already.".to_owned(),
        "key-removed" => "The security key is removed.".to_owned(),
        "no-key" => "That security key was removed already.".to_owned(),
        _ => "Saved.".to_owned(),
    });
    render_user(&state, &headers, &admin, id, notice, None).await
}

pub async fn save_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<AdminProfileForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let text = |value: String| {
        if value.trim().is_empty() {
            Field::Null
        } else {
            Field::Value(value)
        }
    };
    let fields = UserFields {
        full_name: text(form.full_name),
        email: text(form.email),
        roles: Field::Value(if form.admin.is_some() {
            vec!["admin".into()]
        } else {
            vec![]
        }),
        active: Field::Value(form.active.is_some()),
        two_factor_required: Field::Value(form.two_factor_required.is_some()),
        ..UserFields::default()
    };
    let new_email = if form.email_verified.is_some() {
        NewEmail::Verified
    } else {
        NewEmail::Unverified
    };
    let result = state
        .core
        .addresses
        .update_user(
            id,
            &fields,
            new_email,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    after_action(&state, &headers, &admin, id, result, "saved").await
}

/// Sends the link that verifies the address awaiting verification again.
pub async fn resend_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = state
        .core
        .addresses
        .resend(id, Actor::User(admin.id), &origin, Instant::now())
        .await;
    match result {
        Ok(_) => Cookies::new(&state, &headers).redirect(&format!("/admin/users/{id}?notice=link")),
        Err(crate::addresses::AddressError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => render_user(&state, &headers, &admin, id, None, Some(refusal(&error))).await,
    }
}

pub async fn set_phone(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<AdminPhoneForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let phone = Some(form.mobile_phone.trim()).filter(|p| !p.is_empty());
    let result = state
        .core
        .admin
        .set_verified_phone(
            id,
            phone,
            &form.reason,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    after_action(&state, &headers, &admin, id, result, "phone").await
}

/// Resets the user's two-factor once the question's page is answered; until then, asks it.
pub async fn reset_two_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<ReasonForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let question = Question::ResetTwoFactor;
    if !confirmed(form.confirm.as_deref()) {
        return ask(&state, &headers, &admin, id, question, &form.reason, None).await;
    }
    let result = state
        .core
        .admin
        .reset_two_factor(
            id,
            &form.reason,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    match result {
        Err(AccountError::Invalid(fields)) => {
            let error = account_error(&AccountError::Invalid(fields));
            ask(
                &state,
                &headers,
                &admin,
                id,
                question,
                &form.reason,
                Some(error),
            )
            .await
        }
        other => after_action(&state, &headers, &admin, id, other, "reset").await,
    }
}

/// Issues a one-time access code once the question's page is answered, and shows it once;
/// until then, asks it (with the reason the user page's form gave).
pub async fn issue_access_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<ReasonForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let question = Question::IssueAccessCode;
    if !confirmed(form.confirm.as_deref()) {
        return ask(&state, &headers, &admin, id, question, &form.reason, None).await;
    }
    let issued = state
        .core
        .admin
        .issue_access_code(
            id,
            &form.reason,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    let issued = match issued {
        Ok(issued) => issued,
        Err(error @ AccountError::Invalid(_)) => {
            let error = account_error(&error);
            return ask(
                &state,
                &headers,
                &admin,
                id,
                question,
                &form.reason,
                Some(error),
            )
            .await;
        }
        Err(AccountError::UserNotFound) => {
            return error_page(&state, &headers, StatusCode::NOT_FOUND, "No such user.");
        }
        Err(error) => return internal(&state, &headers, error),
    };
    let username = match state.core.admin.user_overview(id, Instant::now()).await {
        Ok(overview) => overview.user.username.to_string(),
        Err(error) => return internal(&state, &headers, error),
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&admin));
    cookies.page(
        StatusCode::OK,
        &AccessCodePage {
            chrome,
            tab: "users",
            notice: None,
            error: None,
            id: id.to_string(),
            username,
            code: issued.code.display(),
            expires: issued.expires_at.rfc2822(),
            hours: ACCESS_CODE_HOURS,
            replaced: issued.replaced,
        },
    )
}

/// Revokes the user's unused access code.
pub async fn revoke_access_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = state
        .core
        .admin
        .revoke_access_code(id, Actor::User(admin.id), &origin, Instant::now())
        .await;
    after_action(&state, &headers, &admin, id, result, "access-code-revoked").await
}

/// Ends every session of the user once the question's page is answered; until then, asks it.
pub async fn revoke_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<ConfirmForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    if !confirmed(form.confirm.as_deref()) {
        return ask(
            &state,
            &headers,
            &admin,
            id,
            Question::EndAllSessions,
            "",
            None,
        )
        .await;
    }
    let result = state
        .core
        .admin
        .revoke_sessions(id, Actor::User(admin.id), &origin, Instant::now())
        .await;
    after_action(&state, &headers, &admin, id, result, "sessions").await
}

/// Where an administrator's action on a user lands: the user's page with `notice`, or the page
/// again with the error.
async fn after_action<T>(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    id: UserId,
    result: Result<T, AccountError>,
    notice: &str,
) -> Response {
    match result {
        Ok(_) => {
            Cookies::new(state, headers).redirect(&format!("/admin/users/{id}?notice={notice}"))
        }
        Err(error) => {
            render_user(state, headers, admin, id, None, Some(account_error(&error))).await
        }
    }
}

pub async fn unlock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = state
        .core
        .admin
        .unlock(id, Actor::User(admin.id), &origin, Instant::now())
        .await;
    after_action(&state, &headers, &admin, id, result, "unlocked").await
}

/// One of the user's sign-ins to an application revoked: its access and refresh tokens stop
/// working at once.
pub async fn revoke_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let id = match user_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let grant = form.id.chars().take(64).collect::<String>();
    let result = state
        .core
        .oidc
        .revoke_user_grant(id, &grant, Actor::User(admin.id), &origin, Instant::now())
        .await;
    let notice = match result {
        Ok(()) => "grant",
        Err(OidcError::UnknownGrant) => "no-grant",
        Err(error) => return internal(&state, &headers, error),
    };
    Cookies::new(&state, &headers).redirect(&format!("/admin/users/{id}?notice={notice}"))
}
