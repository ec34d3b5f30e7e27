//! Code delivery: the provider, the sender and its account, the channels, the fraud guard; and
//! a test message through them. The SMTP and webhook sections' own forms are in `senders.rs`;
//! the page they are shown on is drawn here.

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
use crate::http::web::login::explain;
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::verify::{DeliveryChange, SmtpSettings, SmtpTls, WebhookSettings};

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
    smtp_host: String,
    smtp_port: String,
    smtp_tls: &'static str,
    smtp_tls_modes: Vec<(&'static str, &'static str)>,
    smtp_username: String,
    smtp_password_set: bool,
    smtp_from: String,
    smtp_test_to: String,
    smtp_result: Option<Outcome>,
    webhook_url: String,
    webhook_secret_set: bool,
    webhook_test_to: String,
    webhook_test_channel: String,
    webhook_channels: Vec<(&'static str, &'static str)>,
    webhook_result: Option<Outcome>,
}

/// The outcome of a section's save or test, shown in that section.
pub struct Outcome {
    pub ok: bool,
    pub text: String,
}

impl Outcome {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
        }
    }

    pub fn failed(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
        }
    }
}

/// What the sender sections show besides the settings in force: the values an administrator
/// submitted (when they were refused, so nothing typed is lost), the destinations typed for a
/// test, and each section's outcome.
#[derive(Default)]
pub struct Sections {
    pub smtp: Option<SmtpSettings>,
    pub webhook: Option<WebhookSettings>,
    pub smtp_test_to: String,
    pub webhook_test_to: String,
    pub webhook_test_channel: String,
    pub smtp_result: Option<Outcome>,
    pub webhook_result: Option<Outcome>,
}

pub async fn render_delivery(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    notice: Option<String>,
    error: Option<String>,
    sections: Sections,
) -> Response {
    use crate::verify::{Provider, SenderKind};
    let settings = match state.core.delivery.delivery_settings().await {
        Ok(settings) => settings,
        Err(error) => return internal(state, headers, format!("{error:#}")),
    };
    let failed = |result: &Option<Outcome>| result.as_ref().is_some_and(|r| !r.ok);
    let refused =
        error.is_some() || failed(&sections.smtp_result) || failed(&sections.webhook_result);
    // Secrets are shown as set or not as stored, whatever was submitted.
    let smtp = sections.smtp.unwrap_or_else(|| settings.smtp.clone());
    let webhook = sections.webhook.unwrap_or_else(|| settings.webhook.clone());
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        if refused {
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
            smtp_host: smtp.host,
            smtp_port: smtp.port.to_string(),
            smtp_tls: smtp.tls.as_str(),
            smtp_tls_modes: vec![
                (
                    SmtpTls::Starttls.as_str(),
                    "STARTTLS, required (usually port 587)",
                ),
                (
                    SmtpTls::Tls.as_str(),
                    "TLS from the start (usually port 465)",
                ),
                (
                    SmtpTls::None.as_str(),
                    "None: plain text, for a server on this machine (usually port 25)",
                ),
            ],
            smtp_username: smtp.username,
            smtp_password_set: settings.smtp.password.is_set(),
            smtp_from: smtp.from,
            smtp_test_to: sections.smtp_test_to,
            smtp_result: sections.smtp_result,
            webhook_url: webhook.url,
            webhook_secret_set: settings.webhook.secret.is_set(),
            webhook_test_to: sections.webhook_test_to,
            webhook_test_channel: sections.webhook_test_channel,
            webhook_channels: vec![
                ("", "Text message to a number, email to an address"),
                ("call", "Phone call"),
                ("whatsapp", "WhatsApp"),
            ],
            webhook_result: sections.webhook_result,
        },
    )
}

pub async fn delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let saved = "Saved; it applies to the next code sent, on every node.";
    let mut sections = Sections::default();
    let notice = match query.notice.as_deref() {
        None => None,
        Some("sent") => Some("The test message is on its way.".to_owned()),
        Some("smtp") => {
            sections.smtp_result = Some(Outcome::ok(saved));
            None
        }
        Some("webhook") => {
            sections.webhook_result = Some(Outcome::ok(saved));
            None
        }
        Some(_) => Some(saved.to_owned()),
    };
    render_delivery(&state, &headers, &admin, notice, None, sections).await
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
    WebForm(form): WebForm<crate::http::web::forms::AdminDeliveryForm>,
) -> Response {
    use crate::verify::{Provider, SecretSetting, SenderKind};
    let current = match state.core.delivery.delivery_settings().await {
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
            Sections::default(),
        )
        .await;
    };
    settings.service.code_length = length;
    settings.service.code_ttl_seconds = ttl;
    settings.service.max_check_attempts = checks;
    settings.fraud_guard.per_destination.max = per_destination;
    match state
        .core
        .delivery
        .change_delivery_settings(
            DeliveryChange::Whole(Box::new(settings)),
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(_) => Cookies::new(&state, &headers).redirect("/admin/delivery?notice=saved"),
        Err(error) => {
            let error = error.into();
            render_delivery(
                &state,
                &headers,
                &admin,
                None,
                Some(explain(&error)),
                Sections::default(),
            )
            .await
        }
    }
}

/// Sends a real code to a number or an address, through the settings in force.
pub async fn test_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<crate::http::web::forms::TestMessageForm>,
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
                Sections::default(),
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
            Sections::default(),
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
        own_method: false,
        origin: &origin,
        service: None,
    };
    match state
        .core
        .verify
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
                Sections::default(),
            )
            .await
        }
    }
}
