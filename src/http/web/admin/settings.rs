//! The two-factor policy: who is asked for a second factor, with which methods, for how long a
//! computer is trusted.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Administrator, NoticeQuery};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::GroupId;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::AdminSettingsForm;
use crate::http::web::login::explain;
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::key_policy::UserVerification;
use crate::policy::{LoginPolicy, SendCodeOnLogin, TrustLevel};
use uuid::Uuid;

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
    security_keys: bool,
    passkeys: bool,
    /// Security keys must verify the person.
    key_verification: bool,
    keys_for_admins: bool,
    /// The names of the groups whose members must use a key, separated by `;`.
    keys_for_groups: String,
    /// The AAGUIDs allowed, separated by `;`.
    allowed_aaguids: String,
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
    let names = |ids: &[GroupId]| {
        ids.iter()
            .map(|id| {
                groups
                    .iter()
                    .find(|(group, _)| group.id == *id)
                    .map_or_else(|| id.to_string(), |(group, _)| group.name.to_string())
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let required_for_groups = names(&policy.required_for_groups);
    let keys = &policy.webauthn;
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
            security_keys: keys.security_keys,
            passkeys: keys.passkeys,
            key_verification: keys.user_verification == UserVerification::Required,
            keys_for_admins: keys.phishing_resistant_for_admins,
            keys_for_groups: names(&keys.phishing_resistant_for_groups),
            allowed_aaguids: keys
                .allowed_aaguids
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join("; "),
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
    let listed = |text: &str| -> Vec<String> {
        text.split([';', ',', '\n'])
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let keys_for_groups = form.keys_for_groups.as_deref().unwrap_or_default();
    let mut said = Vec::new();
    for (text, field) in [
        (form.required_for_groups.as_str(), "requiredForGroups"),
        (keys_for_groups, "webauthn.phishingResistantForGroups"),
    ] {
        match state.core.groups.ids_named(&listed(text), field).await {
            Ok(ids) if field == "requiredForGroups" => policy.required_for_groups = ids,
            Ok(ids) => policy.webauthn.phishing_resistant_for_groups = ids,
            Err(crate::groups::GroupError::Invalid(fields)) => {
                said.extend(fields.into_iter().map(|f| f.message));
            }
            Err(error) => return internal(&state, &headers, error),
        }
    }
    let keys = &mut policy.webauthn;
    keys.security_keys = form.security_keys.is_some();
    keys.passkeys = form.passkeys.is_some();
    keys.user_verification = match form.key_verification.as_deref() {
        Some("required") => UserVerification::Required,
        _ => UserVerification::Preferred,
    };
    keys.phishing_resistant_for_admins = form.keys_for_admins.is_some();
    keys.allowed_aaguids.clear();
    for text in listed(form.allowed_aaguids.as_deref().unwrap_or_default()) {
        match Uuid::parse_str(&text) {
            Ok(model) => keys.allowed_aaguids.push(model),
            Err(_) => said.push(format!(
                "“{text}” is not an AAGUID (as 2fc0579f-8113-47ea-b116-bb5a8db9202a)"
            )),
        }
    }
    if !said.is_empty() {
        return render_settings(&state, &headers, &admin, None, Some(said.join("; "))).await;
    }
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
