//! Security settings, behind re-authentication: the email address, the password, methods,
//! the verified phone, security keys, the login level, recovery codes, trusted computers,
//! sessions and app passwords. The
//! overview page and the login level are here; each other setting has its own file.

pub mod address;
pub mod app_passwords;
pub mod applications;
pub mod devices;
pub mod email;
pub mod keys;
pub mod methods;
pub mod password;
pub mod phone;
pub mod reauth;
pub mod reauth_key;
pub mod recovery;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::forms::TrustLevelForm;
use super::{Chrome, Cookies, WebForm, device, internal, method_label, signed_in};
use crate::clock::Instant;
use crate::domain::{MethodKind, User};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::store::SessionRecord;
use crate::two_factor::SecurityOverview;
use crate::two_factor::TwoFactorError;

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
        .two_factor
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

pub struct MethodRow {
    id: String,
    label: String,
    name: String,
    last_used: String,
    /// Switched off by the administrator (or unreachable): kept, but no login can use it.
    unavailable: bool,
}

pub struct KeyRow {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

pub struct ComputerRow {
    id: String,
    device: String,
    ip: String,
    last_used: String,
}

pub struct ApplicationRow {
    client_id: String,
    name: String,
    scopes: String,
    allowed: String,
    last_used: String,
    sign_ins: usize,
}

pub struct AppPasswordRow {
    id: String,
    name: String,
    created: String,
    last_used: String,
    two_factor: bool,
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
    /// The address in force, and whether it is verified.
    email: Option<String>,
    email_verified: bool,
    /// A new address the person asked for, awaiting its link.
    pending_email: Option<String>,
    /// An address awaits verification: its link can be sent again.
    can_resend: bool,
    /// When the password last changed, as "3 days ago".
    password_changed: String,
    methods: Vec<MethodRow>,
    has_phone: bool,
    can_add_authenticator: bool,
    can_add_phone: bool,
    can_add_email: bool,
    keys: Vec<KeyRow>,
    /// The server has a relying party (its public URL has a domain name): keys can be added.
    keys_on: bool,
    keys_off: &'static str,
    offer_trust_choice: bool,
    every_login: bool,
    trust_days: i64,
    recovery_left: i64,
    trusted: Vec<ComputerRow>,
    sessions: Vec<SessionRow>,
    /// An application's sign-in waits for a second factor set up here (step-up).
    application_waiting: bool,
    applications: Vec<ApplicationRow>,
    app_passwords: Vec<AppPasswordRow>,
    max_app_passwords: i64,
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
        "email" => "Your email address is verified: codes can come to it.",
        "removed" => "The method is removed.",
        "level" => "Saved.",
        "forgotten" => "The computer is forgotten.",
        "ended" => "The session is ended.",
        "application" => {
            "The application no longer has access to your account: it signed you out, and it \
             asks again before you next sign in to it."
        }
        "no-application" => "That application had no access to take back.",
        "password" => "Your password is changed. Other sessions were ended.",
        "address" => {
            "A link is on its way to your new address: open it within 24 hours to make the \
             change. Your current address stays in use until then."
        }
        "link" => "A new link is on its way: open it within 24 hours.",
        "app-password-revoked" => "The app password is revoked: it stops working within a second.",
        "no-app-password" => "That app password was revoked already.",
        "key" => "Your security key is added.",
        "key-removed" => "The security key is removed.",
        "no-key" => "That security key was removed already.",
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

pub(super) async fn render(
    state: &AppState,
    headers: &HeaderMap,
    session: &SessionRecord,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let SecurityOverview {
        policy,
        offered,
        methods,
        recovery_codes_left,
        trusted_computers,
        sessions,
    } = match state
        .core
        .two_factor
        .security_overview(user.id, Instant::now())
        .await
    {
        Ok(overview) => overview,
        Err(error) => return internal(state, headers, error),
    };
    let applications = match state
        .core
        .oidc
        .applications_of(user.id, Instant::now())
        .await
    {
        Ok(applications) => applications,
        Err(error) => return internal(state, headers, error),
    };
    let app_passwords = match state.core.app_passwords.of(user.id).await {
        Ok(app_passwords) => app_passwords,
        Err(error) => return internal(state, headers, error),
    };
    let keys = match state.core.webauthn.credentials_of(user.id).await {
        Ok(keys) => keys,
        Err(error) => return internal(state, headers, format!("{error:#}")),
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
            application_waiting: super::oauth::waiting(state, headers),
            email: user.email.as_ref().map(|e| e.to_string()),
            email_verified: user.verified_email().is_some(),
            pending_email: user.pending_email.as_ref().map(|e| e.to_string()),
            can_resend: user.email_awaiting_verification().is_some(),
            password_changed: when(Some(user.password_changed_at.millis())),
            has_phone: methods.iter().any(|m| m.kind == MethodKind::Phone),
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
                    unavailable: !offered.offers(m.kind),
                })
                .collect(),
            can_add_authenticator: offered.authenticator,
            can_add_email: offered.email && !methods.iter().any(|m| m.kind == MethodKind::Email),
            can_add_phone: !offered.phone_channels.is_empty(),
            keys: keys
                .into_iter()
                .map(|k| KeyRow {
                    id: k.id,
                    name: k.name,
                    added: when(Some(k.created_at.millis())),
                    last_used: when(k.last_used_at.map(|at| at.millis())),
                })
                .collect(),
            keys_on: state.core.webauthn.relying_party().is_some(),
            keys_off: keys::KEYS_OFF,
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
            applications: applications
                .into_iter()
                .map(|a| ApplicationRow {
                    client_id: a.client_id,
                    name: a.client_name,
                    scopes: a.scopes.join(", "),
                    allowed: a
                        .allowed_at
                        .map(|at| when(Some(at.millis())))
                        .unwrap_or_else(|| "not asked (this site's own)".into()),
                    last_used: when(a.last_used.map(|at| at.millis())),
                    sign_ins: a.live_grants,
                })
                .collect(),
            app_passwords: app_passwords
                .into_iter()
                .map(|p| AppPasswordRow {
                    id: p.id,
                    name: p.name,
                    created: when(Some(p.created_at.millis())),
                    last_used: when(p.last_used_at.map(|at| at.millis())),
                    two_factor: p.two_factor,
                })
                .collect(),
            max_app_passwords: crate::app_passwords::MAX_APP_PASSWORDS,
        },
    )
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
        .two_factor
        .set_every_login(user.id, every_login, &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/security?done=level"),
        Err(error) => internal(&state, &headers, format!("{error:#}")),
    }
}
