//! The admin console (seed 003): users, two-factor settings, the audit log. Administrators only,
//! behind the same re-authentication as the security settings; every action goes through the
//! domain flows the API uses, with the administrator as actor.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::forms::{
    AdminPhoneForm, AdminProfileForm, AdminSettingsForm, EmptyForm, NewUserForm, ReasonForm,
};
use super::login::explain;
use super::{Chrome, Cookies, WebForm, error_page, internal, method_label, signed_in};
use crate::accounts::{AccountError, Field, UserFields};
use crate::admin::UserOverview;
use crate::audit::{Actor, AuditFilter, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{User, UserId};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::policy::{LoginPolicy, TrustLevel};
use crate::two_factor::TwoFactorError;

const PAGE: i64 = 25;

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
    let (found, total) = match state.core.search_users(&prefix, PAGE, page * PAGE).await {
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

pub struct EventRow {
    when: String,
    event: String,
    actor: String,
    target: String,
    ip: String,
    details: String,
}

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
    phone: String,
    is_admin: bool,
    active: bool,
    required: bool,
    methods: Vec<String>,
    trusted: Vec<String>,
    events: Vec<EventRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
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

fn event_rows(events: Vec<crate::audit::StoredEvent>) -> Vec<EventRow> {
    events
        .into_iter()
        .map(|e| EventRow {
            when: when(e.insert_instant),
            event: e.event,
            actor: e.actor,
            target: e.target.unwrap_or_default(),
            ip: e.ip_address.unwrap_or_default(),
            details: e.details.to_string(),
        })
        .collect()
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
        trusted_computers,
        events,
    } = match state.core.user_overview(id, Instant::now()).await {
        Ok(overview) => overview,
        Err(AccountError::UserNotFound) => {
            return error_page(state, headers, StatusCode::NOT_FOUND, "No such user.");
        }
        Err(error) => return internal(state, headers, error),
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
            phone: user
                .mobile_phone
                .as_ref()
                .map(|p| p.e164().to_owned())
                .unwrap_or_else(|| "none".into()),
            is_admin: user.is_admin(),
            active: user.active,
            required: user.two_factor_required,
            methods: methods.iter().map(method_label).collect(),
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
            events: event_rows(events),
        },
    )
}

// The early answer of a page handler is a whole page; it is built once per request.
#[allow(clippy::result_large_err)]
fn user_id(state: &AppState, headers: &HeaderMap, raw: &str) -> Result<UserId, Response> {
    UserId::parse(raw)
        .map_err(|_| error_page(state, headers, StatusCode::NOT_FOUND, "No such user."))
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
        "phone" => "The phone number is updated.".to_owned(),
        "reset" => "Two-factor authentication is reset.".to_owned(),
        "unlocked" => "The user can try codes again.".to_owned(),
        "sessions" => "Every session of the user has ended.".to_owned(),
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
    match state
        .core
        .update_user(id, &fields, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(_) => {
            Cookies::new(&state, &headers).redirect(&format!("/admin/users/{id}?notice=saved"))
        }
        Err(error) => {
            render_user(
                &state,
                &headers,
                &admin,
                id,
                None,
                Some(account_error(&error)),
            )
            .await
        }
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
    match state
        .core
        .set_verified_phone(
            id,
            phone,
            &form.reason,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => {
            Cookies::new(&state, &headers).redirect(&format!("/admin/users/{id}?notice=phone"))
        }
        Err(error) => {
            render_user(
                &state,
                &headers,
                &admin,
                id,
                None,
                Some(account_error(&error)),
            )
            .await
        }
    }
}

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
    match state
        .core
        .reset_two_factor(
            id,
            &form.reason,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => {
            Cookies::new(&state, &headers).redirect(&format!("/admin/users/{id}?notice=reset"))
        }
        Err(error) => {
            render_user(
                &state,
                &headers,
                &admin,
                id,
                None,
                Some(account_error(&error)),
            )
            .await
        }
    }
}

async fn simple_action(
    state: &AppState,
    headers: &HeaderMap,
    origin: &Origin,
    raw: &str,
    unlock: bool,
) -> Response {
    let admin = match administrator(state, headers).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let id = match user_id(state, headers, raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let now = Instant::now();
    let (result, notice) = if unlock {
        (
            state
                .core
                .unlock(id, Actor::User(admin.id), origin, now)
                .await,
            "unlocked",
        )
    } else {
        (
            state
                .core
                .revoke_sessions(id, Actor::User(admin.id), origin, now)
                .await,
            "sessions",
        )
    };
    match result {
        Ok(_) => {
            Cookies::new(state, headers).redirect(&format!("/admin/users/{id}?notice={notice}"))
        }
        Err(error) => {
            render_user(
                state,
                headers,
                &admin,
                id,
                None,
                Some(account_error(&error)),
            )
            .await
        }
    }
}

pub async fn unlock(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    simple_action(&state, &headers, &origin, &raw, true).await
}

pub async fn revoke_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    simple_action(&state, &headers, &origin, &raw, false).await
}

#[derive(Template)]
#[template(path = "admin_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    policies: Vec<(&'static str, &'static str, &'static str)>,
    choices: Vec<(&'static str, &'static str)>,
    methods: Vec<(&'static str, &'static str, bool)>,
    trust: bool,
    trust_days: i64,
    users_choose: bool,
    max_code_attempts: i64,
    challenge_ttl_seconds: i64,
}

fn policy_name(policy: LoginPolicy) -> &'static str {
    match policy {
        LoginPolicy::Disabled => "disabled",
        LoginPolicy::Enabled => "enabled",
        LoginPolicy::Required => "required",
        LoginPolicy::RequiredForAdmins => "required_for_admins",
    }
}

fn parse_policy(raw: &str) -> Option<LoginPolicy> {
    match raw {
        "disabled" => Some(LoginPolicy::Disabled),
        "enabled" => Some(LoginPolicy::Enabled),
        "required" => Some(LoginPolicy::Required),
        "required_for_admins" => Some(LoginPolicy::RequiredForAdmins),
        _ => None,
    }
}

async fn render_settings(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let policy = match state.core.two_factor_policy().await {
        Ok(policy) => policy,
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &SettingsPage {
            chrome,
            tab: "settings",
            notice,
            error,
            policies: vec![
                (
                    "web_login_policy",
                    "Web logins (these pages)",
                    policy_name(policy.web_login_policy),
                ),
                (
                    "api_login_policy",
                    "API logins (applications)",
                    policy_name(policy.api_login_policy),
                ),
            ],
            choices: vec![
                ("disabled", "Never ask for a second factor"),
                (
                    "enabled",
                    "Users who enrolled a method (or are required to)",
                ),
                ("required", "Every user"),
                (
                    "required_for_admins",
                    "Administrators, and users who enrolled",
                ),
            ],
            methods: vec![
                (
                    "authenticator",
                    "Authenticator app (TOTP)",
                    policy.methods.authenticator,
                ),
                ("sms", "Text message (SMS)", policy.methods.sms),
                ("voice", "Phone call", policy.methods.voice),
                ("email", "Email", policy.methods.email),
            ],
            trust: policy.trust_level == TrustLevel::OncePerComputer,
            trust_days: policy.trust_days,
            users_choose: policy.users_choose_trust,
            max_code_attempts: policy.max_code_attempts,
            challenge_ttl_seconds: policy.challenge_ttl_seconds,
        },
    )
}

pub async fn settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    render_settings(
        &state,
        &headers,
        &admin,
        query
            .notice
            .map(|_| "Saved; it applies to the next login on every node.".into()),
        None,
    )
    .await
}

pub async fn save_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<AdminSettingsForm>,
) -> Response {
    let mut policy = match state.core.two_factor_policy().await {
        Ok(policy) => policy,
        Err(error) => return internal(&state, &headers, error),
    };
    let (Some(web), Some(api)) = (
        parse_policy(&form.web_login_policy),
        parse_policy(&form.api_login_policy),
    ) else {
        return render_settings(
            &state,
            &headers,
            &admin,
            None,
            Some("Choose a policy for web and API logins.".into()),
        )
        .await;
    };
    policy.web_login_policy = web;
    policy.api_login_policy = api;
    policy.methods.authenticator = form.authenticator.is_some();
    policy.methods.sms = form.sms.is_some();
    policy.methods.voice = form.voice.is_some();
    policy.methods.email = form.email.is_some();
    policy.trust_level = if form.trust.is_some() {
        TrustLevel::OncePerComputer
    } else {
        TrustLevel::EveryLogin
    };
    policy.users_choose_trust = form.users_choose.is_some();
    let numbers = (
        form.trust_days.parse(),
        form.max_code_attempts.parse(),
        form.challenge_ttl_seconds.parse(),
    );
    let (Ok(trust_days), Ok(attempts), Ok(ttl)) = numbers else {
        return render_settings(
            &state,
            &headers,
            &admin,
            None,
            Some("Days, attempts and seconds are whole numbers.".into()),
        )
        .await;
    };
    policy.trust_days = trust_days;
    policy.max_code_attempts = attempts;
    policy.challenge_ttl_seconds = ttl;
    match state
        .core
        .set_two_factor_policy(&policy, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/settings?notice=saved"),
        Err(error) => render_settings(&state, &headers, &admin, None, Some(explain(&error))).await,
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    event_names: Vec<&'static str>,
    event: String,
    user: String,
    since: String,
    until: String,
    rows: Vec<EventRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    event: Option<String>,
    user: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// Midnight UTC of a `YYYY-MM-DD` day, in epoch milliseconds.
fn day_start(raw: &str) -> Option<i64> {
    let mut parts = raw.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * 86_400_000)
}

fn audit_filter(query: &AuditQuery, limit: i64) -> AuditFilter {
    AuditFilter {
        target: query
            .user
            .as_deref()
            .and_then(|u| UserId::parse(u).ok())
            .map(|id| id.to_string()),
        kind: query.event.as_deref().and_then(EventKind::parse),
        since: query
            .since
            .as_deref()
            .and_then(day_start)
            .map(Instant::from_millis),
        until: query
            .until
            .as_deref()
            .and_then(day_start)
            .map(|start| Instant::from_millis(start + 86_400_000)),
        limit,
        ..AuditFilter::default()
    }
}

pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<AuditQuery>,
) -> Response {
    let events = match state.core.audit_log(&audit_filter(&query, 200)).await {
        Ok(events) => events,
        Err(error) => return internal(&state, &headers, error),
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&admin));
    cookies.page(
        StatusCode::OK,
        &AuditPage {
            chrome,
            tab: "audit",
            notice: None,
            error: None,
            event_names: EventKind::ALL.iter().map(|k| k.as_str()).collect(),
            event: query.event.clone().unwrap_or_default(),
            user: query.user.clone().unwrap_or_default(),
            since: query.since.clone().unwrap_or_default(),
            until: query.until.clone().unwrap_or_default(),
            rows: event_rows(events),
        },
    )
}

pub async fn audit_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    _admin: Administrator,
    Query(query): Query<AuditQuery>,
) -> Response {
    let events = match state.core.audit_log(&audit_filter(&query, 100_000)).await {
        Ok(events) => events,
        Err(error) => return internal(&state, &headers, error),
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
        ],
        crate::http::api::audit_csv(events),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "admin_delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    provider: &'static str,
    sender: String,
    senders: Vec<(&'static str, &'static str)>,
    verify_service_sid: String,
    account_sid: String,
    token_set: bool,
    from_number: String,
    channels: Vec<(&'static str, &'static str, bool)>,
    friendly_name: String,
    code_length: u32,
    code_ttl_seconds: i64,
    max_check_attempts: i64,
    fraud_guard: bool,
    allowed_countries: String,
    blocked_prefixes: String,
    per_destination: i64,
}

async fn render_delivery(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    use crate::verify::{Provider, SenderKind};
    let settings = match state.core.delivery_settings().await {
        Ok(settings) => settings,
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
        &DeliveryPage {
            chrome,
            tab: "delivery",
            notice,
            error,
            provider: match settings.provider {
                Provider::Builtin => "builtin",
                Provider::TwilioVerify => "twilio_verify",
            },
            sender: match settings.sender {
                SenderKind::Outbox => "outbox",
                SenderKind::Twilio => "twilio",
                SenderKind::Smtp => "smtp",
                SenderKind::Webhook => "webhook",
            }
            .to_owned(),
            senders: vec![
                ("outbox", "Development outbox (/dev/outbox)"),
                ("twilio", "Twilio Messages and Calls"),
                ("smtp", "SMTP (email)"),
                ("webhook", "Webhook"),
            ],
            verify_service_sid: settings.twilio.verify_service_sid.clone(),
            account_sid: settings.twilio.account_sid.clone(),
            token_set: settings.twilio.auth_token.is_set(),
            from_number: settings.twilio.from_number.clone(),
            channels: vec![
                ("sms", "SMS", settings.service.channels.sms),
                ("call", "Voice calls", settings.service.channels.call),
                ("email", "Email", settings.service.channels.email),
                (
                    "whatsapp",
                    "WhatsApp (through Twilio)",
                    settings.service.channels.whatsapp,
                ),
            ],
            friendly_name: settings.service.friendly_name.clone(),
            code_length: settings.service.code_length,
            code_ttl_seconds: settings.service.code_ttl_seconds,
            max_check_attempts: settings.service.max_check_attempts,
            fraud_guard: settings.fraud_guard.enabled,
            allowed_countries: settings.fraud_guard.allowed_countries.join(", "),
            blocked_prefixes: settings.fraud_guard.blocked_prefixes.join(", "),
            per_destination: settings.fraud_guard.per_destination.max,
        },
    )
}

pub async fn delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let notice = query.notice.map(|n| match n.as_str() {
        "sent" => "The test message is on its way.".to_owned(),
        _ => "Saved; it applies to the next code sent, on every node.".to_owned(),
    });
    render_delivery(&state, &headers, &admin, notice, None).await
}

fn list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn save_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<super::forms::AdminDeliveryForm>,
) -> Response {
    use crate::verify::{Provider, SecretSetting, SenderKind};
    let current = match state.core.delivery_settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(&state, &headers, format!("{error:#}")),
    };
    let mut settings = current.clone();
    settings.provider = match form.provider.as_str() {
        "twilio_verify" => Provider::TwilioVerify,
        _ => Provider::Builtin,
    };
    settings.sender = match form.sender.as_str() {
        "twilio" => SenderKind::Twilio,
        "smtp" => SenderKind::Smtp,
        "webhook" => SenderKind::Webhook,
        _ => SenderKind::Outbox,
    };
    settings.twilio.verify_service_sid = form.verify_service_sid.trim().to_owned();
    settings.twilio.account_sid = form.account_sid.trim().to_owned();
    settings.twilio.from_number = form.from_number.trim().to_owned();
    // The token is write-only: an empty field keeps it.
    settings.twilio.auth_token =
        SecretSetting(Some(form.auth_token.trim().to_owned()).filter(|t| !t.is_empty()));
    settings.service.channels.sms = form.sms.is_some();
    settings.service.channels.call = form.call.is_some();
    settings.service.channels.email = form.email.is_some();
    settings.service.channels.whatsapp = form.whatsapp.is_some();
    settings.service.friendly_name = form.friendly_name.trim().to_owned();
    settings.fraud_guard.enabled = form.fraud_guard.is_some();
    settings.fraud_guard.allowed_countries = list(&form.allowed_countries)
        .into_iter()
        .map(|c| c.to_uppercase())
        .collect();
    settings.fraud_guard.blocked_prefixes = list(&form.blocked_prefixes);
    let numbers = (
        form.code_length.parse(),
        form.code_ttl_seconds.parse(),
        form.max_check_attempts.parse(),
        form.per_destination.parse(),
    );
    let (Ok(length), Ok(ttl), Ok(checks), Ok(per_destination)) = numbers else {
        return render_delivery(
            &state,
            &headers,
            &admin,
            None,
            Some("Lengths, seconds and counts are whole numbers.".into()),
        )
        .await;
    };
    settings.service.code_length = length;
    settings.service.code_ttl_seconds = ttl;
    settings.service.max_check_attempts = checks;
    settings.fraud_guard.per_destination.max = per_destination;
    let settings = settings.keep_secrets_from(&current);
    match state
        .core
        .set_delivery_settings(&settings, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/delivery?notice=saved"),
        Err(error) => render_delivery(&state, &headers, &admin, None, Some(explain(&error))).await,
    }
}

/// Sends a real code to a number or an address, through the settings in force.
pub async fn test_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<super::forms::TestMessageForm>,
) -> Response {
    let destination = match crate::verify::Destination::parse(&form.to) {
        Ok(destination) => destination,
        Err(e) => {
            return render_delivery(
                &state,
                &headers,
                &admin,
                None,
                Some(format!("This destination cannot be used: {}.", e.message)),
            )
            .await;
        }
    };
    let Ok(channel) = form.channel.parse::<crate::verify::Channel>() else {
        return render_delivery(
            &state,
            &headers,
            &admin,
            None,
            Some("Choose a channel.".into()),
        )
        .await;
    };
    let request = crate::verify::StartRequest {
        service_id: "admin-test",
        destination,
        channel,
        locale: None,
        context: None,
        user: Some(admin.id),
        origin: &origin,
        service: None,
    };
    match state
        .core
        .start_verification(&request, Instant::now())
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/admin/delivery?notice=sent"),
        Err(error) => {
            render_delivery(
                &state,
                &headers,
                &admin,
                None,
                Some(format!("The test message was refused: {error}.")),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_welcome.html")]
struct WelcomeEditor {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    terms_version: i64,
    terms_text: String,
    fields: Vec<(&'static str, &'static str, bool)>,
}

async fn render_welcome(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    use crate::welcome::ProfileField;
    let settings = match state.core.welcome_settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(state, headers, error),
    };
    let has = |field| settings.profile_fields.contains(&field);
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &WelcomeEditor {
            chrome,
            tab: "welcome",
            notice,
            error,
            terms_version: settings.terms_version,
            terms_text: settings.terms_text.clone(),
            fields: vec![
                ("full_name", "Full name", has(ProfileField::FullName)),
                ("email", "Email address", has(ProfileField::Email)),
                (
                    "mobile_phone",
                    "Mobile phone number",
                    has(ProfileField::MobilePhone),
                ),
            ],
        },
    )
}

pub async fn welcome(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    render_welcome(
        &state,
        &headers,
        &admin,
        query.notice.map(|_| "Saved.".into()),
        None,
    )
    .await
}

pub async fn save_welcome(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<super::forms::AdminWelcomeForm>,
) -> Response {
    use crate::welcome::ProfileField;
    let mut settings = match state.core.welcome_settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(&state, &headers, error),
    };
    let text = form.terms_text.replace("\r\n", "\n").trim().to_owned();
    if form.new_version.is_some() || (settings.terms_version == 0 && !text.is_empty()) {
        settings.terms_version += 1;
    }
    settings.terms_text = text;
    settings.profile_fields = [
        (form.full_name.is_some(), ProfileField::FullName),
        (form.email.is_some(), ProfileField::Email),
        (form.mobile_phone.is_some(), ProfileField::MobilePhone),
    ]
    .into_iter()
    .filter_map(|(on, field)| on.then_some(field))
    .collect();
    match state
        .core
        .set_welcome_settings(&settings, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/welcome?notice=saved"),
        Err(error) => render_welcome(&state, &headers, &admin, None, Some(explain(&error))).await,
    }
}

#[derive(Template)]
#[template(path = "admin_verify_accounts.html")]
struct VerifyAccountsPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    accounts: Vec<(String, String)>,
    created: Option<(String, String)>,
}

async fn render_verify_accounts(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let accounts = match state.core.verify_accounts().await {
        Ok(accounts) => accounts
            .into_iter()
            .map(|(sid, name, _)| (sid, name))
            .collect(),
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &VerifyAccountsPage {
            chrome,
            tab: "verify",
            notice: None,
            error,
            accounts,
            created,
        },
    )
}

pub async fn verify_accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
) -> Response {
    render_verify_accounts(&state, &headers, &admin, None, None).await
}

pub async fn create_verify_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    WebForm(form): WebForm<super::forms::NameForm>,
) -> Response {
    match state
        .core
        .create_verify_account(&form.name, Actor::User(admin.id), Instant::now())
        .await
    {
        Ok(created) => render_verify_accounts(&state, &headers, &admin, Some(created), None).await,
        Err(error) => {
            render_verify_accounts(&state, &headers, &admin, None, Some(format!("{error:#}"))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::day_start;

    #[test]
    fn a_day_is_read_as_its_utc_midnight() {
        assert_eq!(day_start("1970-01-01"), Some(0));
        assert_eq!(day_start("2026-11-25"), Some(1_795_564_800_000));
        assert_eq!(day_start("2024-02-29"), Some(1_709_164_800_000));
        for bad in ["", "2026-13-01", "26-1-1x", "2026-11-25-1"] {
            assert_eq!(day_start(bad), None, "{bad}");
        }
    }
}
