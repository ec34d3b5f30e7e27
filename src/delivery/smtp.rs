//! The email sender: a plain-text message through an SMTP server (`smtp://host:port`, with
//! `?tls=required` for STARTTLS, or `smtps://` for TLS from the start).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::SendError;
use crate::delivery_settings::DeliverySettings;

pub async fn send(
    settings: &DeliverySettings,
    to: &str,
    body: &str,
) -> Result<Option<String>, SendError> {
    let smtp = &settings.smtp;
    let permanent = |message: String| SendError::Permanent {
        code: None,
        message,
    };
    let url = smtp
        .url
        .expose()
        .ok_or_else(|| permanent("SMTP is not configured".into()))?;
    let from = smtp
        .from
        .parse()
        .map_err(|_| permanent("the SMTP from address is not valid".into()))?;
    let recipient = to
        .parse()
        .map_err(|_| permanent("the email address is not valid".into()))?;
    let email = Message::builder()
        .from(from)
        .to(recipient)
        .subject(format!(
            "Your {} verification code",
            settings.service.friendly_name
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| permanent(format!("the email cannot be built: {e}")))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|_| permanent("the SMTP url is not valid".into()))?
        .timeout(Some(Duration::from_secs(settings.timeout_seconds)))
        .build();
    match transport.send(email).await {
        Ok(response) => Ok(response.message().next().map(str::to_owned)),
        Err(error) if error.is_permanent() => Err(permanent(format!(
            "the mail server refused the message: {error}"
        ))),
        Err(error) => Err(SendError::Transient(format!(
            "the mail server failed: {error}"
        ))),
    }
}
