//! The two-factor policy: who is asked for a second factor, with which methods, for how long a
//! computer is trusted.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Administrator, NoticeQuery};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::AdminSettingsForm;
use crate::http::web::login::explain;
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::policy::{LoginPolicy, SendCodeOnLogin, TrustLevel};

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
    reset_by_sms: bool,
    max_code_attempts: i64,
    challenge_ttl_seconds: i64,
    /// When a login sends its code unasked: (value, text, chosen now).
    send_code_choices: Vec<(&'static str, &'static str, bool)>,
    /// The names of the groups whose members must use a second factor, separated by `;`.
    required_for_groups: String,
    /// Every group's name, for the administrator to pick from.
    group_names: Vec<String>,
}

fn policy_name(policy: LoginPolicy) -> &'static str {
    match policy {
        LoginPolicy::Disabled => "disabled",
        LoginPolicy::Enabled => "enabled",
        LoginPolicy::Required => "required",
        LoginPolicy::RequiredForAdmins => "required_for_admins",
    }
}

const SEND_CODE_CHOICES: [(SendCodeOnLogin, &str, &str); 3] = [
    (
        SendCodeOnLogin::Legacy,
        "legacy",
        "Only to phones enabled with the older TextMessage form",
    ),
    (
        SendCodeOnLogin::Preferred,
        "preferred",
        "Also when the user's preferred method is a text, a call or an email",
    ),
    (
        SendCodeOnLogin::Never,
        "never",
        "Never: the user asks for the code",
    ),
];

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
    let policy = match state.core.two_factor.two_factor_policy().await {
        Ok(policy) => policy,
        Err(error) => return internal(state, headers, error),
    };
    let groups = match state.core.groups.groups().await {
        Ok(groups) => groups,
        Err(error) => return internal(state, headers, error),
    };
    let required_for_groups = policy
        .required_for_groups
        .iter()
        .map(|id| {
            groups
                .iter()
                .find(|(group, _)| group.id == *id)
                .map_or_else(|| id.to_string(), |(group, _)| group.name.to_string())
        })
        .collect::<Vec<_>>()
        .join("; ");
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
                (
                    "sms",
                    "Phone: codes by text message (SMS)",
                    policy.methods.sms,
                ),
                ("voice", "Phone: codes by phone call", policy.methods.voice),
                (
                    "whatsapp",
                    "Phone: codes by WhatsApp (also switch WhatsApp on in Code delivery)",
                    policy.methods.whatsapp,
                ),
                ("email", "Email", policy.methods.email),
            ],
            trust: policy.trust_level == TrustLevel::OncePerComputer,
            trust_days: policy.trust_days,
            users_choose: policy.users_choose_trust,
            reset_by_sms: policy.password_reset_by_sms,
            max_code_attempts: policy.max_code_attempts,
            challenge_ttl_seconds: policy.challenge_ttl_seconds,
            send_code_choices: SEND_CODE_CHOICES
                .iter()
                .map(|(setting, value, text)| {
                    (*value, *text, *setting == policy.send_code_on_login)
                })
                .collect(),
            required_for_groups,
            group_names: groups
                .iter()
                .map(|(group, _)| group.name.to_string())
                .collect(),
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
    let mut policy = match state.core.two_factor.two_factor_policy().await {
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
    policy.methods.whatsapp = form.whatsapp.is_some();
    policy.methods.email = form.email.is_some();
    policy.trust_level = if form.trust.is_some() {
        TrustLevel::OncePerComputer
    } else {
        TrustLevel::EveryLogin
    };
    policy.users_choose_trust = form.users_choose.is_some();
    policy.password_reset_by_sms = form.reset_by_sms.is_some();
    if let Some(chosen) = &form.send_code_on_login {
        let Some((setting, _, _)) = SEND_CODE_CHOICES
            .iter()
            .find(|(_, value, _)| value == chosen)
        else {
            return render_settings(
                &state,
                &headers,
                &admin,
                None,
                Some("Choose when a login sends its code by itself.".into()),
            )
            .await;
        };
        policy.send_code_on_login = *setting;
    }
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
    let named: Vec<String> = form
        .required_for_groups
        .split(';')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    policy.required_for_groups = match state
        .core
        .groups
        .ids_named(&named, "requiredForGroups")
        .await
    {
        Ok(ids) => ids,
        Err(crate::groups::GroupError::Invalid(fields)) => {
            let said = fields.into_iter().map(|f| f.message).collect::<Vec<_>>();
            return render_settings(&state, &headers, &admin, None, Some(said.join("; "))).await;
        }
        Err(error) => return internal(&state, &headers, error),
    };
    match state
        .core
        .two_factor
        .set_two_factor_policy(&policy, Actor::User(admin.id), &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/settings?notice=saved"),
        Err(error) => render_settings(&state, &headers, &admin, None, Some(explain(&error))).await,
    }
}
