//! The email sender: a plain-text message through the SMTP server of the settings (TLS from the
//! start, required STARTTLS, or plain text to a server on this machine).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::SendError;
use crate::delivery_settings::{DeliverySettings, SmtpTls};

pub async fn send(
    settings: &DeliverySettings,
    to: &str,
    subject: Option<&str>,
    body: &str,
) -> Result<Option<String>, SendError> {
    let smtp = &settings.smtp;
    let permanent = |message: String| SendError::Permanent {
        code: None,
        message,
    };
    let host = smtp.host.trim();
    if host.is_empty() {
        return Err(permanent("SMTP is not configured".into()));
    }
    let port = u16::try_from(smtp.port)
        .map_err(|_| permanent(format!("the SMTP port {} is out of range", smtp.port)))?;
    let server = format!("{host}:{port}");
    let from = smtp
        .from
        .trim()
        .parse()
        .map_err(|_| permanent("the SMTP from address is not valid".into()))?;
    let recipient = to
        .parse()
        .map_err(|_| permanent("the email address is not valid".into()))?;
    let email = Message::builder()
        .from(from)
        .to(recipient)
        .subject(subject.map(str::to_owned).unwrap_or_else(|| {
            format!("Your {} verification code", settings.service.friendly_name)
        }))
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| permanent(format!("the email cannot be built: {e}")))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(Duration::from_secs(settings.timeout_seconds)));
    if smtp.tls != SmtpTls::None {
        let parameters = TlsParameters::new(host.to_owned()).map_err(|e| {
            permanent(format!(
                "TLS cannot be set up for the mail server {server}: {e}"
            ))
        })?;
        transport = transport.tls(match smtp.tls {
            SmtpTls::Tls => Tls::Wrapper(parameters),
            _ => Tls::Required(parameters),
        });
    }
    if let Some(password) = smtp.password.expose() {
        transport = transport.credentials(Credentials::new(
            smtp.username.trim().to_owned(),
            password.to_owned(),
        ));
    }
    match transport.build().send(email).await {
        Ok(response) => Ok(response.message().next().map(str::to_owned)),
        Err(error) if error.is_permanent() => Err(permanent(format!(
            "the mail server {server} refused: {error}"
        ))),
        Err(error) => Err(SendError::Transient(format!(
            "the mail server {server} failed: {error}"
        ))),
    }
}
