//! Security settings (seed 000 §3 and §7, seeds 001, 002), behind re-authentication: methods,
//! the verified phone, the login level, recovery codes, trusted computers and sessions.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::enroll::{
    AuthenticatorPage, ConfirmPhonePage, EnrollPage, RecoveryCodesPage, phone_kind, setup,
};
use super::forms::{
    AuthenticatorForm, EmptyForm, FinishForm, IdForm, MethodForm, PhoneConfirmForm, PhoneForm,
    ReauthForm, TrustLevelForm,
};
use super::login::{Choice, explain};
use super::{Chrome, Cookies, SETUP_COOKIE, WebForm, internal, method_label, signed_in};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{MethodId, MethodKind, MethodName, PhoneNumber, User};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::store::SessionRecord;
use crate::two_factor::{EnableMethod, TwoFactorError};
use crate::two_factor_views::SecurityOverview;
use crate::verify::Destination;

/// The signed-in user, re-authenticated recently enough for security settings; otherwise the
/// response to send instead (the login page, or the re-authentication page).
async fn recent(state: &AppState, headers: &HeaderMap) -> Result<(SessionRecord, User), Response> {
    let cookies = Cookies::new(state, headers);
    let Some((session, user)) = signed_in(state, headers).await else {
        return Err(cookies.redirect("/login"));
    };
    let now = Instant::now();
    match state
        .core
        .check_reauthenticated(user.id, session.authenticated_at, &session.amr, now)
        .await
    {
        Ok(()) => Ok((session, user)),
        Err(TwoFactorError::Forbidden(_)) => Err(cookies.redirect("/security/reauth")),
        Err(error) => Err(internal(state, headers, error)),
    }
}

fn when(instant: Option<i64>) -> String {
    instant
        .map(|ms| {
            let minutes = (Instant::now().millis() - ms) / 60_000;
            match minutes {
                i64::MIN..=0 => "just now".to_owned(),
                1..=59 => format!("{minutes} min ago"),
                60..=2879 => format!("{} h ago", minutes / 60),
                _ => format!("{} days ago", minutes / 1440),
            }
        })
        .unwrap_or_else(|| "never".to_owned())
}

fn device(user_agent: Option<&str>) -> String {
    let agent = user_agent.unwrap_or("Unknown device");
    let browser = ["Firefox", "Edg", "Chrome", "Safari", "curl", "python"]
        .into_iter()
        .find(|name| agent.contains(name))
        .map(|name| if name == "Edg" { "Edge" } else { name });
    browser
        .map(str::to_owned)
        .unwrap_or_else(|| agent.chars().take(40).collect())
}

pub struct MethodRow {
    id: String,
    label: String,
    name: String,
    last_used: String,
}

pub struct ComputerRow {
    id: String,
    device: String,
    ip: String,
    last_used: String,
}

pub struct SessionRow {
    id: String,
    device: String,
    ip: String,
    since: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    methods: Vec<MethodRow>,
    has_phone: bool,
    offer_trust_choice: bool,
    every_login: bool,
    trust_days: i64,
    recovery_left: i64,
    trusted: Vec<ComputerRow>,
    sessions: Vec<SessionRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SecurityQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SecurityQuery>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let notice = query.done.as_deref().map(|done| match done {
        "authenticator" => "Your authenticator app is set up.",
        "phone" => "Your verified phone number is saved.",
        "removed" => "The method is removed.",
        "level" => "Saved.",
        "forgotten" => "The computer is forgotten.",
        "ended" => "The session is ended.",
        _ => "Done.",
    });
    render(
        &state,
        &headers,
        &session,
        &user,
        notice.map(str::to_owned),
        None,
    )
    .await
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    session: &SessionRecord,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let SecurityOverview {
        policy,
        methods,
        recovery_codes_left,
        trusted_computers,
        sessions,
    } = match state.core.security_overview(user.id, Instant::now()).await {
        Ok(overview) => overview,
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(user));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &SecurityPage {
            chrome,
            notice,
            error,
            has_phone: methods
                .iter()
                .any(|m| matches!(m.kind, MethodKind::Sms | MethodKind::Voice)),
            methods: methods
                .iter()
                .map(|m| MethodRow {
                    id: m.id.to_string(),
                    label: method_label(m),
                    name: m
                        .name
                        .as_ref()
                        .map(|n| n.as_str().to_owned())
                        .unwrap_or_default(),
                    last_used: when(m.last_used_at.map(|i| i.millis())),
                })
                .collect(),
            offer_trust_choice: policy.trusts_computers() && policy.users_choose_trust,
            every_login: user.every_login,
            trust_days: policy.trust_days,
            recovery_left: recovery_codes_left,
            trusted: trusted_computers
                .iter()
                .map(|t| ComputerRow {
                    id: t.id.clone(),
                    device: device(t.user_agent.as_deref()),
                    ip: t.ip_address.clone().unwrap_or_default(),
                    last_used: when(t.last_used_instant),
                })
                .collect(),
            sessions: sessions
                .iter()
                .map(|(s, ip, agent)| SessionRow {
                    id: s.id.clone(),
                    device: device(agent.as_deref()),
                    ip: ip.clone().unwrap_or_default(),
                    since: when(Some(s.created_at.millis())),
                    current: s.id == session.id,
                })
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    needs_code: bool,
    send_methods: Vec<Choice>,
}

async fn render_reauth(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let methods = match state.core.user_methods(user.id).await {
        Ok(methods) => methods,
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(user));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ReauthPage {
            chrome,
            notice,
            error,
            needs_code: !methods.is_empty(),
            send_methods: methods
                .iter()
                .filter(|m| m.kind != MethodKind::Authenticator)
                .map(|m| Choice {
                    id: m.id.to_string(),
                    label: method_label(m),
                })
                .collect(),
        },
    )
}

pub async fn reauth_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((_, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    render_reauth(&state, &headers, &user, None, None).await
}

pub async fn reauth_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let code = Some(form.code.trim()).filter(|c| !c.is_empty());
    match state
        .core
        .reauthenticate(&session, &form.password, code, &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/security"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(TwoFactorError::WrongCode) => {
            render_reauth(
                &state,
                &headers,
                &user,
                None,
                Some("The password or the code is not right.".into()),
            )
            .await
        }
        Err(other) => render_reauth(&state, &headers, &user, None, Some(explain(&other))).await,
    }
}

pub async fn reauth_send(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let Ok(method) = MethodId::parse(&form.method) else {
        return Cookies::new(&state, &headers).redirect("/security/reauth");
    };
    match state
        .core
        .send_reauth_code(user.id, &session.id, &method, &origin, Instant::now())
        .await
    {
        Ok(()) => {
            render_reauth(
                &state,
                &headers,
                &user,
                Some("We sent you a code.".into()),
                None,
            )
            .await
        }
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => render_reauth(&state, &headers, &user, None, Some(explain(&other))).await,
    }
}

pub async fn remove_method(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Ok(method) = MethodId::parse(&form.method) else {
        return render(
            &state,
            &headers,
            &session,
            &user,
            None,
            Some("No such method.".into()),
        )
        .await;
    };
    match state
        .core
        .remove_method(
            user.id,
            &method,
            Actor::User(user.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/security?done=removed"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some(explain(&other)),
            )
            .await
        }
    }
}

pub async fn authenticator_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut cookies = Cookies::new(&state, &headers);
    let setup = match setup(&state, &headers, &mut cookies, &user).await {
        Ok(setup) => setup,
        Err(error) => return internal(&state, &headers, error),
    };
    let chrome = cookies.chrome(&state, Some(&user));
    cookies.page(
        StatusCode::OK,
        &AuthenticatorPage::new(
            chrome,
            &setup,
            String::new(),
            None,
            "/security/authenticator",
        ),
    )
}

pub async fn authenticator_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<AuthenticatorForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut cookies = Cookies::new(&state, &headers);
    let setup = match setup(&state, &headers, &mut cookies, &user).await {
        Ok(setup) => setup,
        Err(error) => return internal(&state, &headers, error),
    };
    let request = EnableMethod {
        kind: MethodKind::Authenticator,
        code: form.code.trim().to_owned(),
        secret: Some(setup.secret.clone()),
        name: MethodName::parse(&form.name).ok(),
        mobile_phone: None,
        email: None,
    };
    let chrome = cookies.chrome(&state, Some(&user));
    match state
        .core
        .enable_method(
            user.id,
            &request,
            Actor::User(user.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(enabled) => {
            let _ = state.core.finish_authenticator_setup(&setup.token).await;
            cookies.clear(SETUP_COOKIE);
            if let Err(error) = state
                .core
                .credit_second_factor(&session, MethodKind::Authenticator, Instant::now())
                .await
            {
                return internal(&state, &headers, format!("{error:#}"));
            }
            match enabled.recovery_codes {
                Some(codes) => cookies.page(
                    StatusCode::OK,
                    &RecoveryCodesPage::new(
                        chrome,
                        codes,
                        Some("Your authenticator app is set up.".into()),
                        None,
                        "/security/done",
                    ),
                ),
                None => cookies.redirect("/security?done=authenticator"),
            }
        }
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AuthenticatorPage::new(
                chrome,
                &setup,
                form.name,
                Some(explain(&other)),
                "/security/authenticator",
            ),
        ),
    }
}

pub async fn phone_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let current = state
        .core
        .user_methods(user.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|m| matches!(m.kind, MethodKind::Sms | MethodKind::Voice))
        .and_then(|m| m.mobile_phone)
        .map(|p| p.e164().to_owned())
        .unwrap_or_default();
    cookies.page(
        StatusCode::OK,
        &EnrollPage {
            chrome,
            error: None,
            phone: current,
            action: "/security/phone",
            authenticator_link: "/security/authenticator",
        },
    )
}

/// The user's phone method, if any: a new number replaces its number.
async fn phone_method(state: &AppState, user: &User) -> Option<crate::store::MethodRecord> {
    state
        .core
        .user_methods(user.id)
        .await
        .ok()?
        .into_iter()
        .find(|m| matches!(m.kind, MethodKind::Sms | MethodKind::Voice))
}

pub async fn phone_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<PhoneForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let retry = |cookies: Cookies, chrome: Chrome, error: String| {
        cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EnrollPage {
                chrome,
                error: Some(error),
                phone: form.mobile_phone.chars().take(40).collect(),
                action: "/security/phone",
                authenticator_link: "/security/authenticator",
            },
        )
    };
    let phone = match PhoneNumber::parse(&form.mobile_phone) {
        Ok(phone) => phone,
        Err(e) => {
            return retry(
                cookies,
                chrome,
                format!("This number cannot be used: {}.", e.message),
            );
        }
    };
    let kind = phone_kind(&form.kind);
    let now = Instant::now();
    let existing = phone_method(&state, &user).await;
    let sent = match &existing {
        Some(method) => {
            state
                .core
                .send_phone_change_code(user.id, &method.id, phone.clone(), &origin, now)
                .await
        }
        None => {
            state
                .core
                .send_enrollment_code(
                    user.id,
                    kind,
                    Destination::Phone(phone.clone()),
                    &origin,
                    now,
                )
                .await
        }
    };
    match sent {
        Ok(()) => cookies.page(
            StatusCode::OK,
            &ConfirmPhonePage {
                chrome,
                error: None,
                masked: phone.masked(),
                phone: phone.e164().to_owned(),
                kind: kind.as_str().to_owned(),
                method_id: existing.map(|m| m.id.to_string()),
                action: "/security/phone/confirm",
            },
        ),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => retry(cookies, chrome, explain(&other)),
    }
}

pub async fn phone_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<PhoneConfirmForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let Ok(phone) = PhoneNumber::parse(&form.mobile_phone) else {
        return cookies.redirect("/security/phone");
    };
    let kind = phone_kind(&form.kind);
    let now = Instant::now();
    let actor = Actor::User(user.id);
    let method = form.method.as_deref().and_then(|m| MethodId::parse(m).ok());
    let outcome = match &method {
        Some(method) => state
            .core
            .change_method_phone(
                user.id,
                method,
                &phone,
                form.code.trim(),
                actor,
                &origin,
                now,
            )
            .await
            .map(|()| None),
        None => {
            let request = EnableMethod {
                kind,
                code: form.code.trim().to_owned(),
                secret: None,
                name: None,
                mobile_phone: Some(phone.clone()),
                email: None,
            };
            state
                .core
                .enable_method(user.id, &request, actor, &origin, now)
                .await
                .map(|enabled| enabled.recovery_codes)
        }
    };
    if outcome.is_ok()
        && let Err(error) = state.core.credit_second_factor(&session, kind, now).await
    {
        return internal(&state, &headers, format!("{error:#}"));
    }
    match outcome {
        Ok(Some(codes)) => cookies.page(
            StatusCode::OK,
            &RecoveryCodesPage::new(
                chrome,
                codes,
                Some("Your phone is verified.".into()),
                None,
                "/security/done",
            ),
        ),
        Ok(None) => cookies.redirect("/security?done=phone"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ConfirmPhonePage {
                chrome,
                error: Some(explain(&other)),
                masked: phone.masked(),
                phone: phone.e164().to_owned(),
                kind: kind.as_str().to_owned(),
                method_id: method.map(|m| m.to_string()),
                action: "/security/phone/confirm",
            },
        ),
    }
}

pub async fn trust_level(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<TrustLevelForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let every_login = match form.level.as_str() {
        "every_login" => true,
        "once_per_computer" => false,
        _ => {
            return render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some("Choose one of the two levels.".into()),
            )
            .await;
        }
    };
    match state
        .core
        .set_every_login(user.id, every_login, &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/security?done=level"),
        Err(error) => internal(&state, &headers, format!("{error:#}")),
    }
}

pub async fn recovery_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state
        .core
        .regenerate_recovery_codes(user.id, Actor::User(user.id), &origin, Instant::now())
        .await
    {
        Ok(codes) => {
            let cookies = Cookies::new(&state, &headers);
            let chrome = cookies.chrome(&state, Some(&user));
            cookies.page(
                StatusCode::OK,
                &RecoveryCodesPage::new(
                    chrome,
                    codes,
                    Some("Your old recovery codes no longer work.".into()),
                    None,
                    "/security/done",
                ),
            )
        }
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some(explain(&other)),
            )
            .await
        }
    }
}

/// The recovery codes were acknowledged.
pub async fn done(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebForm(form): WebForm<FinishForm>,
) -> Response {
    if form.saved.is_none() {
        return super::error_page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "Tick \"I have saved these codes\" to go on.",
        );
    }
    Cookies::new(&state, &headers).redirect("/security")
}

pub async fn forget_computer(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let id = form.id.chars().take(64).collect::<String>();
    match state
        .core
        .revoke_trusted_computers(
            user.id,
            Some(&id),
            Actor::User(user.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/security?done=forgotten"),
        Err(error) => internal(&state, &headers, error),
    }
}

pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let id = form.id.chars().take(64).collect::<String>();
    match state
        .core
        .end_session(user.id, &id, &origin, Instant::now())
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/security?done=ended"),
        Err(error) => internal(&state, &headers, format!("{error:#}")),
    }
}
