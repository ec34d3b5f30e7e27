//! The webhook sender: a JSON POST to your URL, signed with HMAC-SHA256 of the body under the
//! webhook secret (`X-Tessera-Signature: sha256=<hex>`), for a gateway of your own.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::SendError;
use crate::delivery_settings::DeliverySettings;
use crate::domain::Channel;
use crate::store::MessageRecord;

pub async fn send(
    http: &reqwest::Client,
    delivery: &DeliverySettings,
    message: &MessageRecord,
    channel: Channel,
    body: &str,
) -> Result<(), SendError> {
    let settings = &delivery.webhook;
    let mut payload = json!({
        "id": message.id,
        "channel": channel.as_str(),
        "to": message.destination,
        "body": body,
    });
    // Only messages that are not codes (a password link) have a subject of their own.
    if let Some(subject) = &message.subject {
        payload["subject"] = json!(subject);
    }
    let payload = payload.to_string();
    let mut request = http
        .post(&settings.url)
        .timeout(std::time::Duration::from_secs(delivery.timeout_seconds))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &message.id);
    if let Some(secret) = settings.secret.expose() {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(payload.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        request = request.header("X-Tessera-Signature", format!("sha256={signature}"));
    }
    let response = request.body(payload).send().await.map_err(|error| {
        SendError::Transient(format!(
            "the webhook at {} is unreachable: {}",
            server_of(&settings.url),
            causes(&error.without_url())
        ))
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(SendError::Transient(format!("webhook answered {status}")))
    } else {
        Err(SendError::Permanent {
            code: None,
            message: format!("the webhook refused the message ({status})"),
        })
    }
}

/// The host and port of a URL: what an error names, rather than a path or query that may carry
/// a token.
fn server_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "(no URL)".into())
}

/// An error and each of its causes ("error sending request: …: Connection refused"): the last
/// one says what went wrong.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}
