//! The SMTP and webhook sections of the Code delivery page: each sender's settings saved on
//! their own (the password and the signing secret write-only), and a test message through it
//! whose outcome is shown where it was asked for.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::Administrator;
use super::delivery::{Outcome, Sections, render_delivery};
use crate::audit::{Actor, Origin};
use crate::clock::Instant;
use crate::delivery::DeliverySettingsError;
use crate::domain::{FieldError, User};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{SenderTestForm, SmtpForm, WebhookForm};
use crate::http::web::{Cookies, WebForm, internal};
use crate::verify::{
    Channel, DeliveryChange, Destination, SecretSetting, SenderKind, SmtpSettings, SmtpTls,
    TestMessage, TestOutcome, VerifyError, WebhookSettings,
};

/// The SMTP settings a form gives, or why it cannot be read. A password left empty keeps the
/// stored one; a port left empty is the TLS mode's usual one.
fn smtp_of(form: &SmtpForm) -> Result<SmtpSettings, String> {
    let tls = SmtpTls::parse(&form.tls).ok_or("TLS: choose how the connection is protected.")?;
    let port = match form.port.trim() {
        "" => tls.usual_port(),
        port => port
            .parse()
            .map_err(|_| format!("Port: {port:?} is not a number; a port is 1 to 65535."))?,
    };
    Ok(SmtpSettings {
        host: form.host.trim().to_owned(),
        port,
        tls,
        username: form.username.trim().to_owned(),
        password: SecretSetting(Some(form.password.clone()).filter(|p| !p.is_empty())),
        from: form.from.trim().to_owned(),
        unreadable_url: None,
    })
}

/// The fields refused, each under the label the page gives it.
fn describe(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|field| {
            let label = match field.field.as_str() {
                "smtp.host" => "Host",
                "smtp.port" => "Port",
                "smtp.tls" => "TLS",
                "smtp.username" => "Username",
                "smtp.password" => "Password",
                "smtp.from" => "From address",
                "smtp.url" => "SMTP url",
                "webhook.url" => "Webhook URL",
                other => other,
            };
            format!("{label}: {}.", field.message)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn save_smtp(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<SmtpForm>,
) -> Response {
    let shown = SmtpSettings {
        host: form.host.trim().to_owned(),
        username: form.username.trim().to_owned(),
        from: form.from.trim().to_owned(),
        tls: SmtpTls::parse(&form.tls).unwrap_or_default(),
        ..SmtpSettings::default()
    };
    let refused = |text: String, smtp: SmtpSettings| Sections {
        smtp: Some(SmtpSettings {
            password: SecretSetting::default(),
            ..smtp
        }),
        smtp_result: Some(Outcome::failed(text)),
        ..Sections::default()
    };
    let smtp = match smtp_of(&form) {
        Ok(smtp) => smtp,
        Err(why) => {
            let sections = refused(why, shown);
            return render_delivery(&state, &headers, &admin, None, None, sections).await;
        }
    };
    let change = DeliveryChange::Smtp(smtp.clone());
    match save(&state, change, &admin, &origin).await {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/delivery?notice=smtp#smtp"),
        Err(DeliverySettingsError::Invalid(fields)) => {
            let sections = refused(describe(&fields), smtp);
            render_delivery(&state, &headers, &admin, None, None, sections).await
        }
        Err(DeliverySettingsError::Internal(error)) => {
            internal(&state, &headers, format!("{error:#}"))
        }
    }
}

pub async fn save_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<WebhookForm>,
) -> Response {
    let webhook = WebhookSettings {
        url: form.url.trim().to_owned(),
        secret: SecretSetting(Some(form.secret.clone()).filter(|s| !s.is_empty())),
    };
    let change = DeliveryChange::Webhook(webhook.clone());
    match save(&state, change, &admin, &origin).await {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/delivery?notice=webhook#webhook"),
        Err(DeliverySettingsError::Invalid(fields)) => {
            let sections = Sections {
                webhook: Some(WebhookSettings {
                    secret: SecretSetting::default(),
                    ..webhook
                }),
                webhook_result: Some(Outcome::failed(describe(&fields))),
                ..Sections::default()
            };
            render_delivery(&state, &headers, &admin, None, None, sections).await
        }
        Err(DeliverySettingsError::Internal(error)) => {
            internal(&state, &headers, format!("{error:#}"))
        }
    }
}

async fn save(
    state: &AppState,
    change: DeliveryChange,
    admin: &User,
    origin: &Origin,
) -> Result<(), DeliverySettingsError> {
    state
        .core
        .delivery
        .change_delivery_settings(change, Actor::User(admin.id), origin, Instant::now())
        .await
        .map(|_| ())
}

/// A test email through the SMTP server, whichever sender is in force.
pub async fn test_smtp(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<SenderTestForm>,
) -> Response {
    let result = test(&state, &admin, &origin, SenderKind::Smtp, &form.to, "email").await;
    let sections = Sections {
        smtp_test_to: form.to,
        smtp_result: Some(result),
        ..Sections::default()
    };
    render_delivery(&state, &headers, &admin, None, None, sections).await
}

/// A test message POSTed to the webhook, whichever sender is in force.
pub async fn test_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<SenderTestForm>,
) -> Response {
    let result = test(
        &state,
        &admin,
        &origin,
        SenderKind::Webhook,
        &form.to,
        &form.channel,
    )
    .await;
    let sections = Sections {
        webhook_test_to: form.to,
        webhook_test_channel: form.channel,
        webhook_result: Some(result),
        ..Sections::default()
    };
    render_delivery(&state, &headers, &admin, None, None, sections).await
}

/// Sends the test and words its outcome. An empty channel is a text message to a number and
/// an email to an address.
async fn test(
    state: &AppState,
    admin: &User,
    origin: &Origin,
    sender: SenderKind,
    to: &str,
    channel: &str,
) -> Outcome {
    let destination = match Destination::parse(to) {
        Ok(destination) => destination,
        Err(e) => {
            return Outcome::failed(format!("This destination cannot be used: {}.", e.message));
        }
    };
    let channel = match (channel, &destination) {
        ("", Destination::Email(_)) => Channel::Email,
        ("", Destination::Phone(_)) => Channel::Sms,
        (name, _) => match name.parse() {
            Ok(channel) => channel,
            Err(_) => return Outcome::failed("Choose a channel."),
        },
    };
    let shown = destination.as_str().to_owned();
    let test = TestMessage {
        sender,
        destination,
        channel,
        actor: Actor::User(admin.id),
        origin,
    };
    match state
        .core
        .verify
        .send_test_message(&test, Instant::now())
        .await
    {
        Ok(TestOutcome::Delivered { reference }) => Outcome::ok(format!(
            "Delivered: the {} took the test message for {shown}{}.",
            match sender {
                SenderKind::Smtp => "mail server",
                SenderKind::Webhook => "webhook",
                SenderKind::Twilio => "Twilio",
                SenderKind::Outbox => "outbox",
            },
            reference.map_or(String::new(), |r| format!(" (it answered \"{r}\")")),
        )),
        Ok(TestOutcome::Failed { message }) => {
            Outcome::failed(format!("Not delivered: {message}."))
        }
        Err(VerifyError::Internal(error)) => {
            tracing::error!(error = format!("{error:#}"), "a test message failed");
            Outcome::failed("Something went wrong; try again in a moment.")
        }
        Err(error) => Outcome::failed(format!("The test message was refused: {error}.")),
    }
}
